/**
 * The program that calls the `@napi-rs/keyring` binding, run in a
 * short-lived helper process (see helper-process.ts) so that a keyring call
 * that never returns can be ended by killing the process.
 */
import { lazyRequire } from "../../lazy-require.js";

/** One keyring call on the entry (service `Codex Auth`, `account`). */
export type KeyringOp =
  | { op: "get"; account: string }
  | { op: "set"; account: string; secret: string }
  | { op: "delete"; account: string };

/** A {@link KeyringOp} as sent to the host: one JSON line, the secret base64-encoded. */
export type HostRequest = KeyringOp & { id: number };

/** The answer to a {@link HostRequest}: the secret (base64), the delete result, or null. */
export type HostResponse =
  | { id: number; ok: true; value: string | boolean | null }
  | { id: number; ok: false; error: string };

/**
 * The host program. It is started from its own source text
 * (`Function.prototype.toString`) by `node -e`, so it must not refer to
 * anything outside its body — no imports, no module-level names (types are
 * fine: they are erased). `load` is that process's `require`.
 *
 * One JSON request per stdin line, one JSON response per stdout line,
 * secrets base64-encoded (never in argv or the environment); the process
 * exits when stdin closes.
 */
export function keyringHost(load: NodeRequire, bindingPath: string, service: string): void {
  interface Entry {
    getSecret(): number[] | null;
    setPassword(password: string): void;
    deleteCredential(): boolean;
  }
  type EntryClass = new (service: string, account: string, options?: object) => Entry;
  // Pinned to the Secret Service on Linux, as Codex's entries are: no silent
  // fallback to the kernel keyring, which Codex cannot read.
  const options = process.platform === "linux" ? { linux: { store: "secret-service" } } : undefined;
  let EntryCtor: EntryClass | undefined;
  let loadError: string | undefined;
  try {
    EntryCtor = (load(bindingPath) as { Entry: EntryClass }).Entry;
  } catch (err) {
    loadError = `the keyring binding could not be loaded: ${String((err as Error | undefined)?.message ?? err)}`;
  }

  function handle(req: HostRequest): HostResponse {
    try {
      if (!EntryCtor) throw new Error(loadError);
      const entry = new EntryCtor(service, req.account, options);
      if (req.op === "get") {
        const bytes = entry.getSecret();
        return { id: req.id, ok: true, value: bytes === null ? null : Buffer.from(bytes).toString("base64") };
      }
      if (req.op === "set") {
        entry.setPassword(Buffer.from(req.secret, "base64").toString("utf8"));
        return { id: req.id, ok: true, value: null };
      }
      return { id: req.id, ok: true, value: entry.deleteCredential() };
    } catch (err) {
      return { id: req.id, ok: false, error: String((err as Error | undefined)?.message ?? err) };
    }
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
