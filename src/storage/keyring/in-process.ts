/**
 * Keyring calls in this process: the binding on a worker thread, its D-Bus
 * traffic through a relay on this thread's event loop. The fast path — no
 * process start-up per operation — used on Linux until the keyring
 * misbehaves.
 *
 * Why this design (each point measured with Node 20, a real gnome-keyring, a
 * bus that accepts connections and never answers, and a SIGSTOPped
 * gnome-keyring):
 *
 * - `@napi-rs/keyring` connects to D-Bus synchronously inside `new Entry()`
 *   and `new AsyncEntry()` (about 7 ms: connection plus an encrypted Secret
 *   Service session); the calls after that take under 1 ms. Called on this
 *   thread, a hung bus freezes the event loop.
 * - The async API is no way out: besides the blocking constructor, a stuck
 *   call holds one of libuv's four pool threads (shared with fs, dns and
 *   crypto), running pool work cannot be cancelled so it keeps the event
 *   loop alive, and `process.exit()` joins the pool threads.
 * - A worker thread keeps the event loop free and the pool untouched, and a
 *   deadline gives a bounded error. But a worker blocked in a native call
 *   cannot be stopped: `terminate()` waits for it, and so does process exit,
 *   which joins every worker thread. Against the hung bus the process was
 *   still alive 40 s later (killed by the test), with or without `unref()`.
 * - So the binding must only ever wait on something we can end. libdbus
 *   reads DBUS_SESSION_BUS_ADDRESS once, on its first connection, and keeps
 *   it even when that connection fails. The worker's first entry is created
 *   while the variable names the relay's socket, before the relay listens:
 *   libdbus fails at once (no bus involved) and keeps the address. This
 *   thread waits for that in shared memory (`Atomics.wait`, well under a
 *   millisecond), so no other code of this process can see the changed
 *   variable. From then on each connection of the binding goes through the
 *   relay (relay.ts), which forwards it to the bus of the current request.
 *   At a deadline the relay closes them all and refuses new ones: the
 *   blocked call returns "disconnected" at once, the worker is free and
 *   stopped, and nothing holds the process. Measured with a 1000 ms
 *   deadline, against the hung bus and the stopped gnome-keyring alike: the
 *   error at 1000 ms, a 10 ms timer kept firing throughout, 20 file reads
 *   took 4 ms, the worker answered < 1 ms after the cut and the process
 *   exited 2–3 ms after the error.
 * - libdbus is linked into the binding, so its address would be shared by
 *   everyone in the process using the same `@napi-rs/keyring`; code calling
 *   it synchronously on this thread would then wait on a relay only this
 *   thread serves — a deadlock. The worker therefore loads a private copy
 *   of the binding's native file (in the relay's 0700 directory, copied once
 *   per binding version, ~3 ms): a separate file is a separate instance for
 *   the dynamic loader. Everyone else keeps talking to the bus directly.
 * - Cost of a healthy call: the worker's start-up (~25 ms, once per
 *   process) and the calls, against ~60 ms of node start-up plus the calls
 *   for a helper process per operation.
 * - After a misbehaviour — a deadline passed with a call in flight, the
 *   worker failed, a connection bypassed the relay — this process sends
 *   every later call (and those still queued here) to a killable helper
 *   process instead: belt and braces for hangs the relay cannot reach.
 *
 * Limits: Linux only (macOS and Windows always use the helper process), and
 * buses on unix sockets only; one in-process keyring per process (a global
 * marker keeps a second copy of this module on the helper path).
 */
import { Worker } from "node:worker_threads";
import { KEYRING_SERVICE } from "../keyring-key.js";
import { type HostReady, type HostRequest, type HostResponse, type KeyringOp, keyringHost } from "./host.js";
import { DbusRelay, privateRuntimeDir, unixSocketPaths } from "./relay.js";

/** A call the in-process keyring will not run; make it in a helper process instead. */
export class InProcessKeyringRetired extends Error {
  override readonly name = "InProcessKeyringRetired";
}

/** Longest wait of this thread for the worker to pin libdbus's address (it takes microseconds). */
const PIN_TIMEOUT_MS = 500;

interface Pending {
  request: HostRequest;
  resolve(response: HostResponse): void;
  reject(err: Error): void;
  acceptedBefore: number;
}

/** Marks the process that has an in-process keyring, across copies of this module. */
const OWNER = Symbol.for("codex-auth.keyring.in-process");
const globals = globalThis as { [OWNER]?: unknown };

class InProcessKeyring {
  private state: "idle" | "ready" | "retired" = "idle";
  private starting: Promise<void> | undefined;
  private worker: Worker | undefined;
  private relay: DbusRelay | undefined;
  private readonly queue: Pending[] = [];
  private inFlight: Pending | undefined;
  private nextId = 1;
  /** Why calls no longer run here, once they do not. */
  retiredBecause: string | undefined;

  /** Which path this process's keyring calls take now (for diagnostics and tests). */
  get mode(): "unused" | "in-process" | "helper" {
    return this.state === "retired" ? "helper" : this.state === "ready" ? "in-process" : "unused";
  }

  /**
   * The bus address a call under `env` goes to, when it may run in this
   * process; undefined when it must go to a helper process.
   */
  route(env: NodeJS.ProcessEnv): string | undefined {
    if (process.platform !== "linux" || this.state === "retired") return undefined;
    if ((globals[OWNER] ?? this) !== this) return undefined;
    const address = env.DBUS_SESSION_BUS_ADDRESS;
    return address && unixSocketPaths(address) ? address : undefined;
  }

  /**
   * Runs one keyring call on the worker, against the bus at `busAddress`.
   * Calls run one at a time, in order.
   *
   * @throws {InProcessKeyringRetired} when the call must go to a helper process.
   */
  async call(op: KeyringOp, busAddress: string, bindingPath: string): Promise<HostResponse> {
    await this.start(bindingPath);
    return new Promise<HostResponse>((resolve, reject) => {
      if (this.state === "retired") {
        reject(new InProcessKeyringRetired(this.retiredBecause));
        return;
      }
      const request = { ...op, id: this.nextId++, scope: busAddress } as HostRequest;
      this.queue.push({ request, resolve, reject, acceptedBefore: 0 });
      this.pump();
    });
  }

  /**
   * Stops running calls here: cuts every relayed connection (a call blocked
   * on D-Bus returns at once) and refuses new ones, hands queued calls back
   * to their callers as {@link InProcessKeyringRetired}, and stops the worker.
   */
  retire(reason: string): void {
    if (this.state === "retired") return;
    this.state = "retired";
    this.retiredBecause = reason;
    this.relay?.shut();
    const pending = this.inFlight ? [this.inFlight, ...this.queue] : [...this.queue];
    this.inFlight = undefined;
    this.queue.length = 0;
    for (const p of pending) p.reject(new InProcessKeyringRetired(reason));
    this.worker?.terminate().catch(() => {});
  }

  private start(bindingPath: string): Promise<void> {
    this.starting ??= this.boot(bindingPath).catch((err: unknown) => {
      this.retire(`the in-process keyring could not start: ${(err as Error).message}`);
    });
    return this.starting;
  }

  private async boot(bindingPath: string): Promise<void> {
    globals[OWNER] = this;
    const dir = await privateRuntimeDir(process.env.XDG_RUNTIME_DIR);
    const relay = DbusRelay.create(dir);
    this.relay = relay;
    const source = `(${keyringHost.toString()})(require, "worker", ${JSON.stringify(bindingPath)}, ${JSON.stringify(KEYRING_SERVICE)}, ${JSON.stringify(dir)})`;
    // The worker's own process.env is a copy nobody reads (the binding reads the C environment): keep it empty.
    const worker = new Worker(source, { eval: true, env: {} });
    this.worker = worker;
    const ready = new Promise<void>((resolve, reject) => {
      let booted = false;
      worker.on("message", (msg: HostReady | HostResponse) => {
        if (booted) return this.answered(msg as HostResponse);
        booted = true;
        if ((msg as HostReady).ready) resolve();
        else reject(new Error((msg as HostReady & { ready: false }).error));
      });
      worker.on("error", (err) => {
        reject(err);
        this.retire(`the keyring worker failed: ${err.message}`);
      });
      worker.once("exit", (code) => {
        reject(new Error(`the keyring worker exited (code ${code})`));
        this.retire(`the keyring worker exited (code ${code})`);
      });
    });
    // After the listeners: adding a "message" listener refs the worker's port again.
    worker.unref();
    await ready;
    this.pin(worker, relay);
    await relay.listen();
    process.once("exit", () => relay.remove());
    if (this.state !== "retired") this.state = "ready";
    this.pump();
  }

  /**
   * Makes the worker's libdbus keep the relay's address (see the module
   * comment). Blocks this thread until the worker has done so: no other code
   * may run while the environment names the relay.
   *
   * @throws when the worker's first connection did not fail on the relay's socket.
   */
  private pin(worker: Worker, relay: DbusRelay): void {
    const signal = new Int32Array(new SharedArrayBuffer(4));
    const saved = process.env.DBUS_SESSION_BUS_ADDRESS;
    process.env.DBUS_SESSION_BUS_ADDRESS = relay.address;
    try {
      worker.postMessage({ pin: relay.path, signal });
      Atomics.wait(signal, 0, 0, PIN_TIMEOUT_MS);
    } finally {
      if (saved === undefined) delete process.env.DBUS_SESSION_BUS_ADDRESS;
      else process.env.DBUS_SESSION_BUS_ADDRESS = saved;
    }
    const outcome = Atomics.load(signal, 0);
    if (outcome !== 1) {
      throw new Error(
        outcome === 0
          ? `the worker did not pin libdbus's address within ${PIN_TIMEOUT_MS} ms`
          : "libdbus in the worker did not take the relay's address",
      );
    }
  }

  private pump(): void {
    if (this.state !== "ready" || this.inFlight) return;
    const next = this.queue.shift();
    if (!next) return;
    const relay = this.relay!;
    this.inFlight = next;
    relay.route = next.request.scope;
    relay.upstreamError = undefined;
    next.acceptedBefore = relay.accepted;
    this.worker!.postMessage(next.request);
  }

  private answered(response: HostResponse): void {
    const p = this.inFlight;
    if (!p || p.request.id !== response.id) return;
    this.inFlight = undefined;
    const relay = this.relay!;
    if (response.connected && relay.accepted === p.acceptedBefore) {
      this.retire("the keyring binding's D-Bus connection did not go through the relay");
      p.reject(new InProcessKeyringRetired(this.retiredBecause));
      return;
    }
    if (!response.ok && relay.upstreamError) p.resolve({ ...response, error: relay.upstreamError });
    else p.resolve(response);
    this.pump();
  }
}

/** This process's in-process keyring: one per process, as the worker's libdbus address is. */
export const inProcessKeyring = new InProcessKeyring();
