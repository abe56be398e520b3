import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { AuthFileMalformedError, describeError, KeyringUnavailableError } from "../errors.js";
import {
  type AuthRecord,
  parseAuthRecord,
  serializeAuthRecordCompact,
  validateAuthRecord,
} from "../record/auth-record.js";
import { FileAuthStorage } from "./file.js";
import type { CreateStorageOptions } from "./index.js";
import { KEYRING_SERVICE, keyringAccountKey } from "./keyring-key.js";
import { LockedAuthStorage } from "./storage.js";
import { type AuthTransaction, authLock } from "./transaction.js";

/** Default bound on one keyring-backed load, save or delete. */
const DEFAULT_TIMEOUT_MS = 5_000;

/** Options for {@link KeyringAuthStorage} and {@link AutoAuthStorage}. */
export interface KeyringStorageOptions extends CreateStorageOptions {
  /**
   * Environment of the keyring helper process (default: this process's).
   * Tests use it to point `DBUS_SESSION_BUS_ADDRESS` at a dead or hung bus.
   */
  env?: NodeJS.ProcessEnv;
}

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

/** The entry names under the account key that the "v2" layout uses, one revision at a time. */
const V2_FIELDS = [
  "manifest",
  "OPENAI_API_KEY",
  "tokens.id_token",
  "tokens.access_token",
  "tokens.refresh_token",
  "tokens.account_id",
] as const;

/**
 * Credentials in the OS keyring, in the layout Codex 0.169 writes: one entry
 * (service `Codex Auth`, account `cli|<16 hex>` of CODEX_HOME) whose secret
 * is the compact JSON record. Reads that legacy entry first, then the "v2"
 * multi-entry layout (`KEY|v2|active` → revision → `KEY|v2|REV|manifest`
 * and one entry per secret field). A save removes the fallback
 * `CODEX_HOME/auth.json` and any v2 entries (so nothing stale can shadow the
 * new record); a delete removes every entry and the file.
 *
 * Every keyring call runs in a short-lived helper process that is killed
 * when `keyringTimeoutMs` (default 5000 ms) passes: `@napi-rs/keyring`
 * connects to D-Bus synchronously when an entry is created, so a hung bus or
 * Secret Service would otherwise block this process's event loop (and its
 * exit) where no AbortSignal can reach. On Linux entries are pinned to the
 * Secret Service, as Codex's are: no silent fallback to the kernel keyring,
 * which Codex cannot read.
 *
 * @throws {KeyringUnavailableError} from every operation when the keyring
 *   cannot be reached, refuses, or does not answer in time.
 * @throws {AuthFileMalformedError} from `load` when an entry is not a valid
 *   record (the entry is left as it is).
 *
 * @example
 * const storage = new KeyringAuthStorage("/home/me/.codex", { keyringTimeoutMs: 2000 });
 * const record = await storage.load();
 */
export class KeyringAuthStorage extends LockedAuthStorage {
  readonly kind = "keyring" as const;
  private readonly file: FileAuthStorage;
  readonly unlocked: AuthTransaction = {
    load: () => {
      const key = keyringAccountKey(this.codexHome);
      return this.withKeyring(async (keyring) => {
        const legacy = await keyring.get(key);
        if (legacy !== null) {
          const source = entrySource(key);
          return parseAuthRecord(decodeSecret(legacy, source), source);
        }
        return loadV2(keyring, key);
      });
    },
    save: async (record) => {
      const key = keyringAccountKey(this.codexHome);
      const secret = serializeAuthRecordCompact(record);
      await this.withKeyring(async (keyring) => {
        await keyring.set(key, secret);
        await deleteV2(keyring, key);
      });
      await this.file.unlocked.delete();
    },
    delete: async () => {
      const key = keyringAccountKey(this.codexHome);
      const removedEntries = await this.withKeyring(async (keyring) => {
        const legacy = await keyring.delete(key);
        return (await deleteV2(keyring, key)) || legacy;
      });
      const removedFile = await this.file.unlocked.delete();
      return removedEntries || removedFile;
    },
  };

  /**
   * Transactions hold CODEX_HOME/auth.lock: Codex 0.169 goes through it for
   * keyring writes too (the lock files appear after a keyring login), so
   * holding it orders our writes against a concurrent Codex login, logout or
   * refresh.
   */
  constructor(
    readonly codexHome: string,
    readonly options: KeyringStorageOptions = {},
  ) {
    super(authLock(codexHome));
    this.file = new FileAuthStorage(codexHome);
  }

  describe(): string {
    return `${KEYRING_BACKEND_NAME}, service "${KEYRING_SERVICE}", account "${keyringAccountKey(this.codexHome)}"`;
  }

  /** Runs `work` against one helper process, all of it bounded by the timeout. */
  private async withKeyring<T>(work: (keyring: KeyringSession) => Promise<T>): Promise<T> {
    const session = new KeyringSession(
      this.options.keyringTimeoutMs ?? DEFAULT_TIMEOUT_MS,
      this.options.env ?? process.env,
      this.codexHome,
    );
    try {
      return await work(session);
    } finally {
      session.close();
    }
  }
}

/** How an entry is named in error messages (never its secret). */
function entrySource(account: string): string {
  return `keyring entry ${KEYRING_SERVICE}/${account}`;
}

function decodeSecret(bytes: Uint8Array, source: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (cause) {
    throw new AuthFileMalformedError(source, "the secret is not UTF-8 text", { cause });
  }
}

/** Reads the "v2" layout; undefined when it has no active revision. */
async function loadV2(keyring: KeyringSession, key: string): Promise<AuthRecord | undefined> {
  const activeAccount = `${key}|v2|active`;
  const active = await keyring.get(activeAccount);
  if (active === null) return undefined;
  const revision = decodeSecret(active, entrySource(activeAccount)).trim();
  if (revision === "") {
    throw new AuthFileMalformedError(entrySource(activeAccount), "the active revision id is empty");
  }
  const prefix = `${key}|v2|${revision}|`;
  const manifestSource = entrySource(`${prefix}manifest`);
  const manifestBytes = await keyring.get(`${prefix}manifest`);
  if (manifestBytes === null) {
    throw new AuthFileMalformedError(
      manifestSource,
      `it is missing, but ${activeAccount} names that revision`,
    );
  }
  const manifest = parseManifest(decodeSecret(manifestBytes, manifestSource), manifestSource);
  const field = async (name: (typeof V2_FIELDS)[number]): Promise<string> => {
    const bytes = await keyring.get(prefix + name);
    if (bytes === null) {
      throw new AuthFileMalformedError(
        manifestSource,
        `it lists "${name}", but entry ${prefix}${name} is missing`,
      );
    }
    return decodeSecret(bytes, entrySource(prefix + name));
  };
  const record: Record<string, unknown> = {
    auth_mode: manifest.auth_mode,
    OPENAI_API_KEY: manifest.has_openai_api_key ? await field("OPENAI_API_KEY") : null,
    last_refresh: manifest.last_refresh,
  };
  if (manifest.has_tokens) {
    record.tokens = {
      id_token: await field("tokens.id_token"),
      access_token: await field("tokens.access_token"),
      refresh_token: await field("tokens.refresh_token"),
      account_id: manifest.has_account_id ? await field("tokens.account_id") : null,
    };
  }
  return validateAuthRecord(record, entrySource(`${prefix}*`));
}

interface V2Manifest {
  auth_mode: unknown;
  has_openai_api_key: boolean;
  has_tokens: boolean;
  has_account_id: boolean;
  last_refresh: unknown;
}

/** The manifest's flags; `auth_mode` and `last_refresh` are checked with the record. */
function parseManifest(text: string, source: string): V2Manifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new AuthFileMalformedError(source, "the manifest is not valid JSON", { cause });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new AuthFileMalformedError(source, "the manifest is not a JSON object");
  }
  const obj = value as Record<string, unknown>;
  const flag = (name: string): boolean => {
    const v = obj[name];
    if (v === undefined || v === null) return false;
    if (typeof v !== "boolean") throw new AuthFileMalformedError(source, `"${name}" must be true or false`);
    return v;
  };
  return {
    auth_mode: obj.auth_mode,
    has_openai_api_key: flag("has_openai_api_key"),
    has_tokens: flag("has_tokens"),
    has_account_id: flag("has_account_id"),
    last_refresh: obj.last_refresh,
  };
}

/**
 * Removes the "v2" entries of the active revision, then the `active` pointer
 * last, so an interrupted delete can be finished by the next one.
 */
async function deleteV2(keyring: KeyringSession, key: string): Promise<boolean> {
  const activeAccount = `${key}|v2|active`;
  const active = await keyring.get(activeAccount);
  if (active === null) return false;
  const revision = Buffer.from(active).toString("utf8").trim();
  let removed = false;
  if (revision !== "") {
    for (const name of V2_FIELDS) {
      if (await keyring.delete(`${key}|v2|${revision}|${name}`)) removed = true;
    }
  }
  return (await keyring.delete(activeAccount)) || removed;
}

/**
 * Runs in the helper process (CommonJS, `node -e`): argv[1] is the binding's
 * path, argv[2] the service. One JSON request per stdin line, one JSON
 * response per stdout line; secrets travel base64-encoded over the pipes,
 * never in argv or the environment.
 */
const HELPER_SOURCE = `"use strict";
const { Entry } = require(process.argv[1]);
const service = process.argv[2];
const options = process.platform === "linux" ? { linux: { store: "secret-service" } } : undefined;
function handle(req) {
  const entry = new Entry(service, req.account, options);
  if (req.op === "get") {
    const bytes = entry.getSecret();
    return bytes === null ? null : Buffer.from(bytes).toString("base64");
  }
  if (req.op === "set") { entry.setPassword(Buffer.from(req.secret, "base64").toString("utf8")); return null; }
  if (req.op === "delete") return entry.deleteCredential();
  throw new Error("unknown operation");
}
let buffered = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  buffered += chunk;
  for (let nl = buffered.indexOf("\\n"); nl >= 0; nl = buffered.indexOf("\\n")) {
    const req = JSON.parse(buffered.slice(0, nl));
    buffered = buffered.slice(nl + 1);
    let res;
    try { res = { id: req.id, ok: true, value: handle(req) }; }
    catch (err) { res = { id: req.id, ok: false, error: String((err && err.message) || err) }; }
    process.stdout.write(JSON.stringify(res) + "\\n");
  }
});
process.stdin.on("end", () => process.exit(0));
`;

type HelperRequest =
  | { op: "get"; account: string }
  | { op: "set"; account: string; secret: string }
  | { op: "delete"; account: string };

interface HelperResponse {
  id: number;
  ok: boolean;
  value?: string | boolean | null;
  error?: string;
}

let bindingPath: string | undefined;

function resolveBinding(): string {
  bindingPath ??= createRequire(import.meta.url).resolve("@napi-rs/keyring");
  return bindingPath;
}

/**
 * One helper process and the deadline for everything asked of it. Requests
 * are answered in order; when the deadline passes, the helper dies or a
 * request fails, every pending and later request rejects with
 * {@link KeyringUnavailableError} and the helper is killed.
 */
class KeyringSession {
  private readonly child: ChildProcessWithoutNullStreams | undefined;
  private readonly pending = new Map<number, { resolve(v: HelperResponse): void; reject(e: Error): void }>();
  private readonly timer: NodeJS.Timeout;
  private failure: KeyringUnavailableError | undefined;
  private nextId = 0;
  private stdout = "";
  private stderr = "";

  constructor(
    private readonly timeoutMs: number,
    env: NodeJS.ProcessEnv,
    private readonly codexHome: string,
  ) {
    this.timer = setTimeout(
      () => this.fail(`it did not answer within ${this.timeoutMs} ms (is the keyring locked or hung?)`),
      this.timeoutMs,
    );
    let binding: string;
    try {
      binding = resolveBinding();
    } catch (err) {
      this.fail(`the keyring binding @napi-rs/keyring is not installed (${describeError(err)})`, err);
      return;
    }
    // NODE_OPTIONS is dropped so a user's --inspect or --require cannot break the helper.
    const { NODE_OPTIONS: _ignored, ...childEnv } = env;
    const child = spawn(process.execPath, ["-e", HELPER_SOURCE, binding, KEYRING_SERVICE], {
      env: childEnv,
      stdio: ["pipe", "pipe", "pipe"],
      windowsHide: true,
    });
    this.child = child;
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => this.onStdout(chunk));
    child.stderr.on("data", (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-2_000);
    });
    child.stdin.on("error", () => {
      // EPIPE when the helper died; reported through "exit".
    });
    child.on("error", (err) => this.fail(`the keyring helper could not start (${err.message})`, err));
    // "close", not "exit": by then every answer the helper wrote has been read.
    child.on("close", (code, signal) => {
      const lastLine = this.stderr.trim().split("\n").pop()?.slice(0, 300);
      this.fail(`the keyring helper exited (${signal ?? `code ${code}`})${lastLine ? `: ${lastLine}` : ""}`);
    });
  }

  async get(account: string): Promise<Uint8Array | null> {
    const value = await this.request({ op: "get", account });
    return typeof value === "string" ? Buffer.from(value, "base64") : null;
  }

  async set(account: string, secret: string): Promise<void> {
    await this.request({ op: "set", account, secret: Buffer.from(secret, "utf8").toString("base64") });
  }

  /** True when an entry was removed, false when there was none. */
  async delete(account: string): Promise<boolean> {
    return (await this.request({ op: "delete", account })) === true;
  }

  /** Lets the helper exit (it does when stdin closes) and stops the deadline. */
  close(): void {
    clearTimeout(this.timer);
    if (this.failure) return;
    this.failure = this.unavailable("the keyring session is closed");
    this.child?.stdin.end();
    this.child?.unref();
  }

  private async request(req: HelperRequest): Promise<HelperResponse["value"]> {
    if (this.failure) throw this.failure;
    const id = this.nextId++;
    const response = await new Promise<HelperResponse>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child!.stdin.write(`${JSON.stringify({ id, ...req })}\n`);
    });
    if (!response.ok) throw this.unavailable(`it refused the request: ${response.error ?? "unknown error"}`);
    return response.value;
  }

  private onStdout(chunk: string): void {
    this.stdout += chunk;
    for (let nl = this.stdout.indexOf("\n"); nl >= 0; nl = this.stdout.indexOf("\n")) {
      const line = this.stdout.slice(0, nl);
      this.stdout = this.stdout.slice(nl + 1);
      let response: HelperResponse;
      try {
        response = JSON.parse(line) as HelperResponse;
      } catch (err) {
        this.fail("the keyring helper answered something that is not JSON", err);
        return;
      }
      const waiter = this.pending.get(response.id);
      this.pending.delete(response.id);
      waiter?.resolve(response);
    }
  }

  /** Fails the session for good: rejects everything pending and kills the helper. */
  private fail(detail: string, cause?: unknown): void {
    if (this.failure) return;
    clearTimeout(this.timer);
    this.failure = this.unavailable(detail, cause);
    for (const waiter of this.pending.values()) waiter.reject(this.failure);
    this.pending.clear();
    if (this.child && this.child.exitCode === null && this.child.signalCode === null)
      this.child.kill("SIGKILL");
  }

  private unavailable(detail: string, cause?: unknown): KeyringUnavailableError {
    return new KeyringUnavailableError(
      `${KEYRING_BACKEND_NAME} is unavailable: ${detail}. ${UNLOCK_ADVICE}, or set cli_auth_credentials_store = "file" in ${join(this.codexHome, "config.toml")} to keep credentials in auth.json.`,
      cause === undefined ? undefined : { cause },
    );
  }
}
