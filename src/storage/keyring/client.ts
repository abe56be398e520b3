/**
 * The bounded keyring client: get, set and delete entries of the service
 * `Codex Auth`, every storage operation bounded by one deadline, never on
 * the caller's thread. Calls run in this process (in-process.ts) while the
 * keyring behaves and in a killable helper process (helper-process.ts) once
 * it has not.
 */
import { join } from "node:path";
import { describeError, KeyringUnavailableError } from "../../errors.js";
import { HelperProcess } from "./helper-process.js";
import { type HostResponse, type KeyringOp, keyringBindingPath } from "./host.js";
import { InProcessKeyringRetired, inProcessKeyring } from "./in-process.js";

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

/** Entries of the service `Codex Auth`, by account. */
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

/** Which path keyring calls of this process take now: for diagnostics and tests. */
export function keyringCallPath(): { mode: "unused" | "in-process" | "helper"; reason?: string } {
  const { mode, retiredBecause } = inProcessKeyring;
  return retiredBecause === undefined ? { mode } : { mode, reason: retiredBecause };
}

class KeyringSession implements KeyringEntries {
  private failure: KeyringUnavailableError | undefined;
  private readonly expired: Promise<never>;
  private expire!: (err: KeyringUnavailableError) => void;
  private readonly timer: NodeJS.Timeout;
  private helper: HelperProcess | undefined;
  /** Calls of this session queued or running in this process. */
  private inProcessCalls = 0;

  constructor(private readonly options: KeyringSessionOptions) {
    this.expired = new Promise<never>((_, reject) => {
      this.expire = reject;
    });
    this.expired.catch(() => {});
    this.timer = setTimeout(() => this.onDeadline(), options.timeoutMs);
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

  /** Ends the session: stops the deadline and lets a helper process exit. */
  close(): void {
    clearTimeout(this.timer);
    this.failure ??= this.unavailable("the keyring session is closed");
    this.helper?.close();
  }

  private async call(op: KeyringOp): Promise<Extract<HostResponse, { ok: true }>["value"]> {
    if (this.failure) throw this.failure;
    let bindingPath: string;
    try {
      bindingPath = keyringBindingPath();
    } catch (err) {
      throw this.fail(`the keyring binding @napi-rs/keyring is not installed (${describeError(err)})`, err);
    }
    let response: HostResponse | undefined;
    const busAddress = inProcessKeyring.route(this.options.env);
    if (busAddress !== undefined) {
      this.inProcessCalls++;
      try {
        response = await this.bounded(inProcessKeyring.call(op, busAddress, bindingPath));
      } catch (err) {
        if (!(err instanceof InProcessKeyringRetired)) throw err;
      } finally {
        this.inProcessCalls--;
      }
    }
    if (response === undefined) {
      this.helper ??= new HelperProcess(this.options.env, bindingPath);
      try {
        response = await this.bounded(this.helper.call(op));
      } catch (err) {
        if (err instanceof KeyringUnavailableError) throw err;
        throw this.fail((err as Error).message, err);
      }
    }
    if (!response.ok) throw this.unavailable(`it refused the request: ${response.error}`);
    return response.value;
  }

  /** `call`, or the session's failure when the deadline passes first. */
  private bounded<T>(call: Promise<T>): Promise<T> {
    return Promise.race([call, this.expired]);
  }

  private onDeadline(): void {
    this.fail(`it did not answer within ${this.options.timeoutMs} ms (is the keyring locked or hung?)`);
    // After the failure, so the race above settles with it.
    if (this.inProcessCalls > 0)
      inProcessKeyring.retire(`a keyring call did not answer within ${this.options.timeoutMs} ms`);
  }

  /** Fails the session for good: rejects everything pending and kills a helper process. */
  private fail(detail: string, cause?: unknown): KeyringUnavailableError {
    if (this.failure) return this.failure;
    clearTimeout(this.timer);
    const failure = this.unavailable(detail, cause);
    this.failure = failure;
    this.expire(failure);
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
