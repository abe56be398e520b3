/**
 * The bounded keyring client: get, set and delete entries of the service
 * `Codex Auth`, each storage operation bounded by one deadline, nothing ever
 * waiting on this thread or on libuv's thread pool.
 *
 * Why this design (measured with Node 20, a real gnome-keyring, a bus that
 * accepts connections and never answers, and a SIGSTOPped gnome-keyring):
 *
 * - `@napi-rs/keyring` connects to D-Bus synchronously inside `new Entry()`
 *   and `new AsyncEntry()` (connection plus an encrypted session, ~7 ms).
 *   On this thread a hung bus freezes the event loop; the async API's calls
 *   then hold one of libuv's four pool threads (shared with fs, dns and
 *   crypto), cannot be cancelled once running (so they keep the event loop
 *   alive) and are joined by `process.exit()`.
 * - On a worker thread the event loop stays free, but a worker blocked in a
 *   native call cannot be stopped: `terminate()` and process exit both wait
 *   for it (the test process was still alive 40 s after the error). Routing
 *   the binding's D-Bus traffic through a relay we can cut makes it
 *   stoppable, but a worker costs 20–35 ms of CPU to start — about half a
 *   `node -e 0` — on every CLI run, which a per-process design cannot win
 *   back (keyring-mode `login status` stayed ~1.8× file mode).
 * - A helper process per operation (what this replaced) is killable but
 *   costs a whole Node start-up plus the binding: 2.4× file mode.
 * - So on Linux this client speaks the Secret Service's D-Bus protocol
 *   itself (secret-service.ts over dbus-connection.ts), as the binding does:
 *   the same items, attributes and encrypted session. It is all socket I/O
 *   on the event loop: a call that gets no answer is ended by closing the
 *   socket at the deadline, which leaves no thread, no pool work and no
 *   handle behind (the socket is unref'd besides). Measured against the hung
 *   bus and the stopped gnome-keyring: the error at the deadline, a 10 ms
 *   timer kept firing throughout, file reads unaffected, the process exited
 *   right after the error. A healthy read costs ~1 ms once the session is
 *   open (connection, authentication and key exchange: a few ms).
 * - What the client leaves to the binding — macOS and Windows, buses not on
 *   a unix socket, no session bus in the environment, and whatever needs a
 *   user's answer (locked items or collections, prompts) — runs in the
 *   killable helper process (helper-process.ts), as every call did before.
 */
import { join } from "node:path";
import { describeError, KeyringUnavailableError } from "../../errors.js";
import { KEYRING_SERVICE } from "../keyring-key.js";
import { DbusConnectionError, DbusErrorReply, unixSocketPaths } from "./dbus-connection.js";
import { HelperProcess } from "./helper-process.js";
import { type HostResponse, type KeyringOp, keyringBindingPath } from "./host.js";
import { SecretServiceNeedsBinding, SecretServiceRefusal, SecretServiceSession } from "./secret-service.js";

/** The OS credential store this platform's binding talks to, for messages. */
export const KEYRING_BACKEND_NAME =
  process.platform === "darwin"
    ? "OS keyring (macOS Keychain)"
    : process.platform === "win32"
      ? "OS keyring (Windows Credential Manager)"
      : "OS keyring (Secret Service)";

const UNLOCK_ADVICE =
  process.platform === "darwin"
    ? "Unlock the login keychain"
    : process.platform === "win32"
      ? "Check that Windows Credential Manager is available"
      : "Start and unlock a Secret Service provider (e.g. gnome-keyring or KeePassXC) in a D-Bus session";

/** Entries of one keyring service (`Codex Auth` unless a session says otherwise), by account. */
export interface KeyringEntries {
  /** The secret's bytes, or null when there is no entry. */
  get(account: string): Promise<Uint8Array | null>;
  set(account: string, secret: string): Promise<void>;
  /** True when an entry was removed, false when there was none. */
  delete(account: string): Promise<boolean>;
}

export interface KeyringSessionOptions {
  /** Bound on the whole of `work`. */
  timeoutMs: number;
  /** Where DBUS_SESSION_BUS_ADDRESS (and, for a helper process, everything else) comes from. */
  env: NodeJS.ProcessEnv;
  /** Named in the advice of error messages. */
  codexHome: string;
  /** The keyring service whose entries the session reads and writes (default `Codex Auth`). */
  service?: string;
}

/**
 * Runs `work` against the keyring. When `timeoutMs` passes, or a call cannot
 * be made, every pending and later call rejects with
 * {@link KeyringUnavailableError}; a call the keyring answers with an error
 * rejects with one too.
 */
export async function withKeyring<T>(
  options: KeyringSessionOptions,
  work: (keyring: KeyringEntries) => Promise<T>,
): Promise<T> {
  const session = new KeyringSession(options);
  try {
    return await work(session);
  } finally {
    session.close();
  }
}

/** How many storage operations of this process used each path (diagnostics and tests). */
export const keyringPathCounts = { secretService: 0, helperProcess: 0 };

class KeyringSession implements KeyringEntries {
  private failure: KeyringUnavailableError | undefined;
  private readonly expired: Promise<never>;
  private expire!: (err: KeyringUnavailableError) => void;
  private readonly timer: NodeJS.Timeout;
  /** Aborts a Secret Service connection still being opened when the session ends. */
  private readonly abort = new AbortController();
  private secretService: Promise<SecretServiceSession> | undefined;
  /** Set once the Secret Service client met something it leaves to the binding. */
  private useHelper = false;
  private helper: HelperProcess | undefined;

  private get service(): string {
    return this.options.service ?? KEYRING_SERVICE;
  }

  constructor(private readonly options: KeyringSessionOptions) {
    this.expired = new Promise<never>((_, reject) => {
      this.expire = reject;
    });
    this.expired.catch(() => {});
    this.timer = setTimeout(
      () => this.fail(`it did not answer within ${options.timeoutMs} ms (is the keyring locked or hung?)`),
      options.timeoutMs,
    );
  }

  async get(account: string): Promise<Uint8Array | null> {
    const value = await this.call({ op: "get", account });
    if (value === null || typeof value === "boolean") return null;
    return typeof value === "string" ? Buffer.from(value, "base64") : value;
  }

  async set(account: string, secret: string): Promise<void> {
    await this.call({ op: "set", account, secret });
  }

  async delete(account: string): Promise<boolean> {
    return (await this.call({ op: "delete", account })) === true;
  }

  /** Ends the session: stops the deadline, closes the connection and lets a helper process exit. */
  close(): void {
    clearTimeout(this.timer);
    this.failure ??= this.unavailable("the keyring session is closed");
    this.release();
    this.helper?.close();
  }

  private async call(op: KeyringOp): Promise<Uint8Array | string | boolean | null> {
    if (this.failure) throw this.failure;
    const paths = this.useHelper ? undefined : secretServicePaths(this.options.env);
    if (paths) {
      try {
        return await this.bounded(this.viaSecretService(op, paths));
      } catch (err) {
        if (err instanceof KeyringUnavailableError) throw err;
        if (err instanceof DbusConnectionError) throw this.fail(err.message, err);
        if (err instanceof DbusErrorReply || err instanceof SecretServiceRefusal) {
          throw this.unavailable(`it refused the request: ${err.message}`, err);
        }
        if (!(err instanceof SecretServiceNeedsBinding)) throw err;
        this.useHelper = true;
        this.release();
      }
    }
    const response = await this.bounded(this.viaHelper(op));
    if (!response.ok) throw this.unavailable(`it refused the request: ${response.error}`);
    return response.value;
  }

  private async viaSecretService(op: KeyringOp, paths: string[]): Promise<Uint8Array | boolean | null> {
    if (!this.secretService) {
      keyringPathCounts.secretService++;
      this.secretService = SecretServiceSession.open(
        this.options.env.DBUS_SESSION_BUS_ADDRESS!,
        paths,
        this.abort.signal,
      );
    }
    const ss = await this.secretService;
    switch (op.op) {
      case "get":
        return ss.get(this.service, op.account);
      case "set":
        await ss.set(this.service, op.account, Buffer.from(op.secret, "utf8"));
        return null;
      case "delete":
        return ss.delete(this.service, op.account);
    }
  }

  private async viaHelper(op: KeyringOp): Promise<HostResponse> {
    if (!this.helper) {
      let bindingPath: string;
      try {
        bindingPath = keyringBindingPath();
      } catch (err) {
        throw this.fail(`the keyring binding @napi-rs/keyring is not installed (${describeError(err)})`, err);
      }
      keyringPathCounts.helperProcess++;
      this.helper = new HelperProcess(this.options.env, bindingPath, this.service);
    }
    try {
      return await this.helper.call(op);
    } catch (err) {
      throw this.fail((err as Error).message, err);
    }
  }

  /** `call`, or the session's failure when the deadline passes first. */
  private bounded<T>(call: Promise<T>): Promise<T> {
    return Promise.race([call, this.expired]);
  }

  /** Closes the Secret Service connection, or abandons it while it is still being opened. */
  private release(): void {
    this.abort.abort();
    this.secretService?.then(
      (ss) => ss.close(),
      () => {},
    );
  }

  /** Fails the session for good: rejects everything pending, closes the connection, kills a helper process. */
  private fail(detail: string, cause?: unknown): KeyringUnavailableError {
    if (this.failure) return this.failure;
    clearTimeout(this.timer);
    const failure = this.unavailable(detail, cause);
    this.failure = failure;
    this.expire(failure);
    this.release();
    this.helper?.kill(detail);
    return failure;
  }

  private unavailable(detail: string, cause?: unknown): KeyringUnavailableError {
    return new KeyringUnavailableError(
      `${KEYRING_BACKEND_NAME} is unavailable: ${detail}. ${UNLOCK_ADVICE}, or set cli_auth_credentials_store = "file" in ${join(this.options.codexHome, "config.toml")} to keep credentials in auth.json.`,
      cause === undefined ? undefined : { cause },
    );
  }
}

/** The session bus's socket paths when this client can speak to it, else undefined (the binding will). */
function secretServicePaths(env: NodeJS.ProcessEnv): string[] | undefined {
  if (process.platform !== "linux") return undefined;
  const address = env.DBUS_SESSION_BUS_ADDRESS;
  return address ? unixSocketPaths(address) : undefined;
}
