/**
 * An app-server child process (the real `codex app-server` or ours) driven
 * line by line: what was sent and received is kept in order, waits are
 * event-driven and bounded.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { CLI } from "../../support/env.js";
import { withEtcCodex } from "../../support/system-config.js";

/** One line seen on the wire. */
export interface WireLine {
  dir: "in" | "out";
  text: string;
}

/** A parsed line from the server (loosely typed: tests look at fields). */
export type Message = Record<string, unknown> & { id?: unknown; method?: string; params?: unknown };

/** Which server. */
export type ServerKind = "codex" | "ours";

/** How to start a server. */
export interface ServerSpec {
  kind: ServerKind;
  /** The codex binary (kind codex). */
  codex?: string;
  env: NodeJS.ProcessEnv;
  args?: string[];
  /**
   * A folder to serve as the administrator's `/etc/codex`: codex gets it
   * mounted at the real path (private mount namespace, root only), ours
   * through `CODEX_AUTH_SYSTEM_CONFIG_DIR`.
   */
  etcCodex?: string;
}

/** A running server. */
export class RpcProcess {
  readonly wire: WireLine[] = [];
  readonly messages: Message[] = [];
  stderr = "";
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private buffer = "";
  private readonly waiters = new Set<() => void>();

  constructor(spec: ServerSpec) {
    let [cmd, args] =
      spec.kind === "codex"
        ? [spec.codex!, ["app-server", ...(spec.args ?? [])]]
        : [process.execPath, [CLI, "app-server", ...(spec.args ?? [])]];
    let env = spec.env;
    if (spec.etcCodex !== undefined) {
      if (spec.kind === "codex") [cmd, args] = withEtcCodex(spec.etcCodex, cmd, args);
      else env = { ...env, CODEX_AUTH_SYSTEM_CONFIG_DIR: spec.etcCodex };
    }
    this.child = spawn(cmd, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    this.child.stdout.setEncoding("utf8");
    this.child.stdout.on("data", (chunk: string) => this.onData(chunk));
    this.child.stderr.setEncoding("utf8");
    this.child.stderr.on("data", (chunk: string) => {
      this.stderr += chunk;
    });
    this.child.stdin.on("error", () => {});
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        this.wake();
        resolve({ code, signal });
      });
    });
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    for (;;) {
      const nl = this.buffer.indexOf("\n");
      if (nl < 0) break;
      const text = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      this.wire.push({ dir: "out", text });
      try {
        this.messages.push(JSON.parse(text) as Message);
      } catch {
        this.messages.push({ unparsable: text });
      }
    }
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Writes one line. */
  send(text: string): void {
    this.wire.push({ dir: "in", text });
    this.child.stdin.write(`${text}\n`);
  }

  /** Writes several lines in one write (a pipelining client). */
  sendAll(texts: readonly string[]): void {
    for (const text of texts) this.wire.push({ dir: "in", text });
    this.child.stdin.write(texts.map((t) => `${t}\n`).join(""));
  }

  /**
   * Resolves with the first message (from index `from`) that `match`
   * accepts; rejects after `timeoutMs` or when the process exits first.
   */
  waitFor(
    match: (m: Message, index: number) => boolean,
    what: string,
    timeoutMs = 20_000,
    from = 0,
  ): Promise<{ message: Message; index: number }> {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (let i = from; i < this.messages.length; i++) {
          if (match(this.messages[i]!, i)) {
            done();
            resolve({ message: this.messages[i]!, index: i });
            return true;
          }
        }
        if (this.child.exitCode !== null || this.child.signalCode !== null) {
          done();
          reject(new Error(`server exited while waiting for ${what}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(listener);
      };
      const listener = () => {
        check();
      };
      if (!check()) this.waiters.add(listener);
    });
  }

  /** Closes stdin and waits for the exit (SIGKILL after `timeoutMs`). */
  async close(timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
