/**
 * Keyring calls through the binding in a short-lived helper process (`node
 * -e` running {@link keyringHost}): slower than the Secret Service client,
 * but it speaks every platform's keyring, answers prompts the way the
 * binding does, and can always be ended by killing it. One helper serves one
 * storage operation.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { KEYRING_SERVICE } from "../keyring-key.js";
import { type HostResponse, type KeyringOp, keyringHost } from "./host.js";

const HOST_SOURCE = `(${keyringHost.toString()})(require, process.argv[1], process.argv[2]);`;

/**
 * One helper process. Calls are answered in order; when the helper dies,
 * cannot start or answers nonsense, every pending and later call rejects
 * with an `Error` whose message says what happened.
 */
export class HelperProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending = new Map<number, { resolve(r: HostResponse): void; reject(e: Error): void }>();
  private failure: Error | undefined;
  private nextId = 0;
  private stdout = "";
  private stderr = "";

  constructor(env: NodeJS.ProcessEnv, bindingPath: string, service: string = KEYRING_SERVICE) {
    // NODE_OPTIONS is dropped so a user's --inspect or --require cannot break the helper.
    const { NODE_OPTIONS: _ignored, ...childEnv } = env;
    this.child = spawn(process.execPath, ["-e", HOST_SOURCE, bindingPath, service], {
      env: childEnv,
      stdio: ["pipe", "pipe", "pipe"],
      windowsHide: true,
    });
    const child = this.child;
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => this.onStdout(chunk));
    child.stderr.on("data", (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-2_000);
    });
    child.stdin.on("error", () => {
      // EPIPE when the helper died; reported through "close".
    });
    child.on("error", (err) => this.fail(`the keyring helper could not start (${err.message})`));
    // "close", not "exit": by then every answer the helper wrote has been read.
    child.on("close", (code, signal) => {
      const lastLine = this.stderr.trim().split("\n").pop()?.slice(0, 300);
      this.fail(`the keyring helper exited (${signal ?? `code ${code}`})${lastLine ? `: ${lastLine}` : ""}`);
    });
  }

  /** Runs one call; a secret crosses the pipe base64-encoded, never in argv or the environment. */
  call(op: KeyringOp): Promise<HostResponse> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const request =
      op.op === "set"
        ? { ...op, id, secret: Buffer.from(op.secret, "utf8").toString("base64") }
        : { ...op, id };
    return new Promise<HostResponse>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.stdin.write(`${JSON.stringify(request)}\n`);
    });
  }

  /** Lets the helper exit (it does when its stdin closes) without waiting for it. */
  close(): void {
    if (!this.failure) this.failure = new Error("the keyring helper is closed");
    this.child.stdin.end();
    this.child.unref();
  }

  /** Kills the helper; pending calls reject. */
  kill(detail: string): void {
    this.fail(detail);
  }

  private onStdout(chunk: string): void {
    this.stdout += chunk;
    for (let nl = this.stdout.indexOf("\n"); nl >= 0; nl = this.stdout.indexOf("\n")) {
      const line = this.stdout.slice(0, nl);
      this.stdout = this.stdout.slice(nl + 1);
      let response: HostResponse;
      try {
        response = JSON.parse(line) as HostResponse;
      } catch {
        this.fail("the keyring helper answered something that is not JSON");
        return;
      }
      const waiter = this.pending.get(response.id);
      this.pending.delete(response.id);
      waiter?.resolve(response);
    }
  }

  private fail(detail: string): void {
    if (!this.failure) this.failure = new Error(detail);
    for (const waiter of this.pending.values()) waiter.reject(new Error(detail));
    this.pending.clear();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}
