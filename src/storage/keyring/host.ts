/**
 * The program that calls the `@napi-rs/keyring` binding. It never runs on
 * the caller's thread: it runs in a worker thread (the fast path) or in a
 * short-lived helper process (once the keyring has misbehaved), see
 * `in-process.ts` and `helper-process.ts`.
 */
import { lazyRequire } from "../../lazy-require.js";

/** One keyring call on the entry (service `Codex Auth`, `account`). */
export type KeyringOp =
  | { op: "get"; account: string }
  | { op: "set"; account: string; secret: string }
  | { op: "delete"; account: string };

/** A {@link KeyringOp} as sent to a host. `scope` names the bus the entry's connection goes to (cached entries are per scope). */
export type HostRequest = KeyringOp & { id: number; scope: string };

/**
 * The answer to a {@link HostRequest}. `value` is the secret (bytes in a
 * worker; base64 over a helper's pipe), the delete result, or null.
 * `connected` is true when the request opened a new keyring connection
 * (created an entry), which lets the caller check where it went.
 */
export type HostResponse =
  | { id: number; ok: true; value: Uint8Array | string | boolean | null; connected: boolean }
  | { id: number; ok: false; error: string; connected: boolean };

/** The first message a worker host posts: whether the binding loaded. */
export type HostReady = { ready: true } | { ready: false; error: string };

/**
 * Asks a worker host to create one entry while DBUS_SESSION_BUS_ADDRESS
 * names a socket nobody listens on, so that its libdbus reads and keeps that
 * address without waiting for anything. The host stores in `signal[0]` 1 when
 * the connection failed on `path` as it should, 2 otherwise, and notifies.
 */
export interface HostPin {
  pin: string;
  signal: Int32Array;
}

/**
 * The host program. It is started from its own source text
 * (`Function.prototype.toString`) in a fresh worker thread or `node -e`
 * process, so it must not refer to anything outside its body — no imports,
 * no module-level names (types are fine: they are erased). `load` is that
 * context's `require`.
 *
 * - `"worker"`: requests and responses are `postMessage`d; secrets travel as
 *   strings and bytes. The first message is a {@link HostReady}. The
 *   binding's native file is loaded from a copy in `privateDir`, which gives
 *   this thread its own instance of it, libdbus included (see
 *   `in-process.ts`), and a {@link HostPin} is answered through shared memory.
 * - `"process"`: one JSON request per stdin line, one JSON response per
 *   stdout line, secrets base64-encoded (never in argv or the environment);
 *   the process exits when stdin closes.
 *
 * Entries are kept per scope and account: `@napi-rs/keyring` opens a D-Bus
 * connection (and an encrypted Secret Service session) when an entry is
 * created, which costs more than a whole read, and each later call queries
 * the keyring afresh. A cached entry that fails is dropped and the call is
 * retried once on a new one (a restarted keyring invalidates old sessions);
 * every call is idempotent, so the retry is safe.
 */
export function keyringHost(
  load: NodeRequire,
  transport: "worker" | "process",
  bindingPath: string,
  service: string,
  privateDir?: string,
): void {
  interface Entry {
    getSecret(): number[] | null;
    setPassword(password: string): void;
    deleteCredential(): boolean;
  }
  type EntryClass = new (service: string, account: string, options?: object) => Entry;
  // Pinned to the Secret Service on Linux, as Codex's entries are: no silent
  // fallback to the kernel keyring, which Codex cannot read.
  const options = process.platform === "linux" ? { linux: { store: "secret-service" } } : undefined;
  const bytesOut = transport === "worker";
  const entries = new Map<string, Entry>();
  let EntryCtor: EntryClass | undefined;
  let loadError: string | undefined;
  try {
    if (privateDir !== undefined) loadPrivateCopies(privateDir);
    EntryCtor = (load(bindingPath) as { Entry: EntryClass }).Entry;
  } catch (err) {
    loadError = `the keyring binding could not be loaded: ${String((err as Error | undefined)?.message ?? err)}`;
  }

  /**
   * Makes `require` of a `.node` file load a copy of it in `dir` (made once
   * per file version, then reused): a separate file is a separate instance
   * for the dynamic loader, with its own globals.
   */
  function loadPrivateCopies(dir: string): void {
    const fs = load("node:fs") as typeof import("node:fs");
    const path = load("node:path") as typeof import("node:path");
    const extensions = load.extensions as unknown as Record<string, (module: unknown, file: string) => void>;
    const loadNative = extensions[".node"]!;
    extensions[".node"] = (module, file) => {
      const source = fs.statSync(file);
      const copy = path.join(
        dir,
        `${path.basename(file, ".node")}-${source.size}-${Math.trunc(source.mtimeMs)}-${source.ino}.node`,
      );
      let existing: import("node:fs").Stats | undefined;
      try {
        existing = fs.lstatSync(copy);
      } catch {
        existing = undefined;
      }
      const usable =
        existing?.isFile() && existing.uid === process.getuid?.() && existing.size === source.size;
      if (!usable) {
        const partial = `${copy}.${process.pid}.partial`;
        fs.copyFileSync(file, partial);
        fs.chmodSync(partial, 0o500);
        fs.renameSync(partial, copy);
      }
      loadNative(module, copy);
    };
  }

  function call(entry: Entry, req: HostRequest): Uint8Array | string | boolean | null {
    if (req.op === "get") {
      const bytes = entry.getSecret();
      if (bytes === null) return null;
      return bytesOut ? Uint8Array.from(bytes) : Buffer.from(bytes).toString("base64");
    }
    if (req.op === "set") {
      entry.setPassword(bytesOut ? req.secret : Buffer.from(req.secret, "base64").toString("utf8"));
      return null;
    }
    return entry.deleteCredential();
  }

  function handle(req: HostRequest): HostResponse {
    let connected = false;
    try {
      if (!EntryCtor) throw new Error(loadError);
      const key = `${req.scope}\n${req.account}`;
      const cached = entries.get(key);
      if (cached) {
        try {
          return { id: req.id, ok: true, value: call(cached, req), connected };
        } catch {
          entries.delete(key);
        }
      }
      connected = true;
      const entry = new EntryCtor(service, req.account, options);
      // A handful of accounts per CODEX_HOME; the bound only guards against misuse.
      if (entries.size >= 32) entries.clear();
      entries.set(key, entry);
      return { id: req.id, ok: true, value: call(entry, req), connected };
    } catch (err) {
      entries.delete(`${req.scope}\n${req.account}`);
      return { id: req.id, ok: false, error: String((err as Error | undefined)?.message ?? err), connected };
    }
  }

  if (transport === "worker") {
    const { parentPort } = load("node:worker_threads") as typeof import("node:worker_threads");
    if (!parentPort) return;
    const port = parentPort;
    port.postMessage(loadError === undefined ? { ready: true } : { ready: false, error: loadError });
    port.on("message", (msg: HostRequest | HostPin) => {
      if (!("pin" in msg)) return port.postMessage(handle(msg));
      let pinned = false;
      try {
        new EntryCtor!(service, "codex-auth pin", options);
      } catch (err) {
        pinned = String((err as Error | undefined)?.message).includes(msg.pin);
      }
      Atomics.store(msg.signal, 0, pinned ? 1 : 2);
      Atomics.notify(msg.signal, 0);
    });
    return;
  }

  let buffered = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk: string) => {
    buffered += chunk;
    for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
      const req = JSON.parse(buffered.slice(0, nl)) as HostRequest;
      buffered = buffered.slice(nl + 1);
      process.stdout.write(`${JSON.stringify(handle(req))}\n`);
    }
  });
  process.stdin.on("end", () => process.exit(0));
}

let bindingPath: string | undefined;

/** Where `@napi-rs/keyring` is installed, resolved from this package. @throws when it is not installed. */
export function keyringBindingPath(): string {
  bindingPath ??= lazyRequire.resolve("@napi-rs/keyring");
  return bindingPath;
}
