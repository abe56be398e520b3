/**
 * Account changes: what {@link AuthManager} tells a host when the credentials
 * in effect change (another process signed in, refreshed, switched account or
 * logged out — or this manager did), and how it learns that storage changed.
 */
import { join } from "node:path";
import type { AuthMode } from "../record/auth-record.js";
import { accountIdOf, type CodexAuth, planTypeOf } from "../record/codex-auth.js";
import type { PlanType } from "../record/plan.js";
import { FileAuthStorage } from "../storage/file.js";
import type { AuthStorage } from "../storage/storage.js";
import { type StorageWatch, watchCredentialFile } from "../storage/watch.js";

/** Who is signed in, as a change event reports it. Never a secret. */
export interface AccountInfo {
  readonly mode: AuthMode;
  /** The ChatGPT workspace (`tokens.account_id`); undefined for API keys and records without one. */
  readonly accountId: string | undefined;
  /** The ChatGPT plan (`"unknown"` without a plan claim); undefined for non-ChatGPT modes. */
  readonly plan: PlanType | undefined;
  /** The ID token's email; undefined where there is none. */
  readonly email: string | undefined;
}

/**
 * A change of the credentials in effect, as {@link AuthManager.onChange}
 * delivers it; `switch (event.kind)` narrows:
 *
 * - `signed-in`: there were no credentials, now there are;
 * - `signed-out`: the credentials are gone (a logout, here or elsewhere);
 * - `switched`: different credentials: another mode, ChatGPT account or
 *   user, or another API key;
 * - `refreshed`: the same account with new tokens or record (a refresh, or
 *   the same account signing in again).
 *
 * `auth` is the new snapshot (what `authCached()` returned when the event
 * was made).
 */
export type AuthChangeEvent =
  | {
      readonly kind: "signed-in";
      readonly auth: CodexAuth;
      readonly account: AccountInfo;
      readonly previous: undefined;
    }
  | {
      readonly kind: "signed-out";
      readonly auth: undefined;
      readonly account: undefined;
      readonly previous: AccountInfo;
    }
  | {
      readonly kind: "switched" | "refreshed";
      readonly auth: CodexAuth;
      readonly account: AccountInfo;
      readonly previous: AccountInfo;
    };

/** The `kind` of an {@link AuthChangeEvent}. */
export type AuthChangeKind = AuthChangeEvent["kind"];

/** Receives {@link AuthChangeEvent}s. What it throws is reported through the manager's `log`, never rethrown. */
export type AuthChangeListener = (event: AuthChangeEvent) => void;

/** Options for following changes made by other processes (`AuthManagerOptions.watch`). */
export interface AuthWatchOptions {
  /**
   * How often storage that the OS cannot watch is read again, in ms
   * (default 5000): the keyring (`keyring` mode, and the keyring half of
   * `auto`), `ephemeral` memory and custom backends. Each poll is one
   * `storage.load()`; for the keyring that is a keyring read. auth.json
   * needs no polling: it is watched through the OS.
   */
  pollIntervalMs?: number;
  /**
   * Keep the process alive while watching (default true, like `fs.watch`):
   * call `close()` (or `await using`) when done. False: the watch never holds
   * the event loop open by itself.
   */
  persistent?: boolean;
}

/** Default of {@link AuthWatchOptions.pollIntervalMs}. */
export const DEFAULT_WATCH_POLL_MS = 5_000;

/** The {@link AccountInfo} of a snapshot. */
export function accountInfo(auth: CodexAuth): AccountInfo {
  const email =
    (auth.mode === "chatgpt" || auth.mode === "chatgptAuthTokens") && auth.tokens !== undefined
      ? auth.idToken.email
      : undefined;
  return Object.freeze({ mode: auth.mode, accountId: accountIdOf(auth), plan: planTypeOf(auth), email });
}

/**
 * The event for a change from `previous` to `next` (two snapshots that
 * differ; undefined = signed out), or undefined when both are undefined.
 */
export function describeChange(
  previous: CodexAuth | undefined,
  next: CodexAuth | undefined,
): AuthChangeEvent | undefined {
  if (next === undefined) {
    if (previous === undefined) return undefined;
    return Object.freeze({
      kind: "signed-out",
      auth: undefined,
      account: undefined,
      previous: accountInfo(previous),
    });
  }
  const account = accountInfo(next);
  if (previous === undefined) return Object.freeze({ kind: "signed-in", auth: next, account, previous });
  const kind = sameIdentity(previous, next) ? "refreshed" : "switched";
  return Object.freeze({ kind, auth: next, account, previous: accountInfo(previous) });
}

/** Same mode, source and account: same API key, or same ChatGPT workspace and user. */
function sameIdentity(a: CodexAuth, b: CodexAuth): boolean {
  if (a.mode !== b.mode || a.source !== b.source) return false;
  if (a.mode === "apikey" && b.mode === "apikey") return a.apiKey === b.apiKey;
  if (accountIdOf(a) !== accountIdOf(b)) return false;
  return userOf(a) === userOf(b);
}

function userOf(auth: CodexAuth): string | undefined {
  if ((auth.mode !== "chatgpt" && auth.mode !== "chatgptAuthTokens") || auth.tokens === undefined)
    return undefined;
  return auth.idToken.chatgptUserId ?? auth.idToken.email;
}

/** The encrypted file behind `storage` (keyring mode or the keyring half of auto), if it uses Codex's encrypted store. */
function encryptedStoreOf(storage: AuthStorage): string | undefined {
  // Duck-typed: importing the keyring backends here would load them for every command.
  type Encrypted = { encrypted?: unknown; path?: unknown };
  const auto = storage.kind === "auto" ? (storage as { keyring?: Encrypted }).keyring : undefined;
  const inner = (auto ?? storage) as Encrypted;
  return inner.encrypted === true && typeof inner.path === "string" ? inner.path : undefined;
}

/**
 * Starts noticing that `storage` may have changed; `onSignal` means "read it
 * again". auth.json (file mode, and the file half of `auto`) and Codex's
 * encrypted store are watched through the OS; the keyring, memory and
 * custom backends are polled.
 */
export function watchStorage(
  storage: AuthStorage,
  codexHome: string,
  onSignal: () => void,
  options: AuthWatchOptions & { log?: (message: string) => void },
): StorageWatch {
  const parts: StorageWatch[] = [];
  const fileOptions = { persistent: options.persistent ?? true, log: options.log };
  const encrypted = encryptedStoreOf(storage);
  if (storage instanceof FileAuthStorage) {
    parts.push(watchCredentialFile(storage.path, onSignal, fileOptions));
  } else if (encrypted) {
    // Codex's encrypted store changes only by a rename over its file (and a
    // save or an auto fallback touches auth.json): no polling, so an
    // unchanged file is never decrypted again.
    parts.push(watchCredentialFile(encrypted, onSignal, fileOptions));
    parts.push(watchCredentialFile(join(codexHome, "auth.json"), onSignal, fileOptions));
  } else {
    if (storage.kind === "auto" || storage.kind === "keyring") {
      // auto falls back to auth.json; keyring saves remove it (as Codex's do).
      parts.push(watchCredentialFile(join(codexHome, "auth.json"), onSignal, fileOptions));
    }
    const timer = setInterval(onSignal, options.pollIntervalMs ?? DEFAULT_WATCH_POLL_MS);
    if (options.persistent === false) timer.unref();
    parts.push({ close: () => clearInterval(timer) });
  }
  return {
    close: () => {
      for (const part of parts) part.close();
    },
  };
}
