import { join } from "node:path";
import type { Deps } from "../deps.js";
import { describeError, LoginError, LoginRestrictedError, StorageIoError } from "../errors.js";
import { revokeStored } from "../manager/operations.js";
import { CLIENT_ID } from "../oauth/constants.js";
import type { RetryOptions } from "../oauth/retry.js";
import type { IssuedTokens } from "../oauth/token-exchange.js";
import { type AuthRecord, nowRfc3339 } from "../record/auth-record.js";
import { parseIdToken } from "../record/claims.js";
import { resolveSymlinkTarget } from "../storage/file.js";
import type { AuthStorage } from "../storage/storage.js";
import { probeCommitLock } from "../storage/transaction.js";

/**
 * Checks a sign-in's ID token against `forced_chatgpt_workspace_id`, with
 * Codex 0.169's words. Runs before anything is saved.
 *
 * @throws {LoginRestrictedError} nothing is saved.
 */
export function ensureWorkspaceAllowed(idToken: string, allowed: readonly string[] | undefined): void {
  if (!allowed?.length) return;
  const accountId = parseIdToken(idToken).chatgptAccountId;
  if (accountId === undefined) {
    throw new LoginRestrictedError(
      "Login is restricted to a specific workspace, but the token did not include an chatgpt_account_id claim.",
    );
  }
  if (!allowed.includes(accountId)) {
    throw new LoginRestrictedError(`Login is restricted to workspace id(s) ${allowed.join(", ")}.`);
  }
}

/**
 * The record a ChatGPT sign-in writes (the shape Codex 0.169 writes);
 * `oauth_provenance.client_id` is the client the tokens were issued to.
 */
export function chatgptRecord(
  tokens: IssuedTokens,
  issuer: string,
  apiKey: string | undefined,
  deps: Pick<Deps, "now" | "random">,
  clientId: string = CLIENT_ID,
): AuthRecord {
  let accountId: string | null = null;
  try {
    accountId = parseIdToken(tokens.id_token).chatgptAccountId ?? null;
  } catch (err) {
    throw new LoginError(
      "ERR_LOGIN_FAILED",
      `the issuer returned an unusable id_token: ${describeError(err)}`,
      { cause: err },
    );
  }
  return {
    auth_mode: "chatgpt",
    OPENAI_API_KEY: apiKey ?? null,
    tokens: {
      id_token: tokens.id_token,
      access_token: tokens.access_token,
      refresh_token: tokens.refresh_token,
      oauth_provenance: { issuer, client_id: clientId },
      login_owner_id: deps.random(32).toString("base64url"),
      account_id: accountId,
    },
    last_refresh: nowRfc3339(new Date(deps.now())),
  };
}

/**
 * Refuses to start a sign-in over stored credentials that cannot be read
 * (invalid auth.json, unreadable file, broken keyring entry): the user learns
 * before approving anything, and the stored bytes are never replaced. The
 * same rule is checked again inside {@link commitLogin}'s transaction.
 *
 * @throws {AuthFileMalformedError} {@link StorageIoError} {@link KeyringUnavailableError} as `load` throws them.
 */
export async function ensureStoredRecordReadable(storage: AuthStorage): Promise<void> {
  await storage.load();
}

/**
 * Checks, before the user is asked to do anything and before anything is
 * requested from the issuer, that a sign-in's result could be stored: the
 * stored record can be read ({@link ensureStoredRecordReadable}), the
 * storage's transaction can be taken (for the built-in backends that opens
 * Codex's `CODEX_HOME/auth.lock`), its `probeSave` passes (file storage:
 * CODEX_HOME and auth.json are writable, not on a read-only mount), and the
 * commit lock `auth.json.lock` can be opened. Nothing is written but the
 * lock files Codex keeps anyway.
 *
 * @throws {StorageIoError} naming the path and what to do; {@link AuthFileReadOnlyError};
 *   {@link AuthFileMalformedError} / {@link KeyringUnavailableError} as `load` throws them.
 * @example
 * await ensureSignInCanBeStored(storage); // then request the device code
 */
export async function ensureSignInCanBeStored(storage: AuthStorage): Promise<void> {
  await ensureStoredRecordReadable(storage);
  try {
    await storage.transaction(async (tx) => {
      await tx.probeSave?.();
      probeStorageCommitLock(storage);
    });
  } catch (err) {
    if (!(err instanceof StorageIoError)) throw err;
    throw new StorageIoError(
      err.path,
      `${err.message}. The sign-in was not started, as its credentials could not be saved: nothing was requested from the issuer`,
      { cause: err },
    );
  }
}

/**
 * Opens (creating it, as Codex does, mode 0600) the inner commit lock that
 * every write of auth.json takes, next to the file auth.json finally names:
 * a lock file left by another user (`sudo codex login`) fails here rather
 * than after the issuer handed out tokens. Keyring and auto storage remove
 * auth.json on save, under the same lock, and have no probeSave of their own.
 */
function probeStorageCommitLock(storage: AuthStorage): void {
  const codexHome = (storage as { codexHome?: unknown }).codexHome;
  if (typeof codexHome !== "string") return;
  // File storage's own probeSave already opened it.
  if (storage.kind !== "keyring" && storage.kind !== "auto") return;
  probeCommitLock(resolveSymlinkTarget(join(codexHome, "auth.json")));
}

/**
 * Saves a new sign-in, replacing what was stored, then revokes the previous
 * ChatGPT refresh token (best effort), all in one storage transaction.
 * Unlike Codex, the previous credentials are kept until this moment, so a
 * cancelled or failed sign-in never logs the user out; and stored
 * credentials that cannot be read are never replaced: the sign-in fails
 * and the bytes stay as they were (every sign-in — browser, paste-back,
 * device code, API key — goes through here or `loginWithApiKey`, which
 * follows the same rule).
 *
 * When the new credentials cannot be stored (the lock cannot be taken, the
 * stored record cannot be read, the save is refused — say CODEX_HOME became
 * read-only while the user was approving), the freshly issued refresh token
 * is revoked (best effort, with retries) so that no live credential is
 * thrown away, and the error says so. The previous credentials are neither
 * touched nor revoked. A cancel (from `beforeSave`) is rethrown as it is.
 *
 * @throws {LoginError} `ERR_LOGIN_FAILED` when the new record cannot be stored; `cause` is the
 *   storage error ({@link AuthFileMalformedError}, {@link StorageIoError}, …). Nothing is saved.
 */
export async function commitLogin(
  storage: AuthStorage,
  record: AuthRecord,
  o: Partial<Pick<Deps, "env" | "fetch" | "sleep">> & {
    /**
     * Called inside the transaction, once the previous record is read and
     * just before the new one is written: the last moment a cancel can still
     * win (it throws, and nothing is saved).
     */
    beforeSave?: () => void;
  } = {},
): Promise<void> {
  // Set once the new record is (or may be) in storage: from then on it is never revoked here.
  let stored = false;
  let cancelled = false;
  try {
    await storage.transaction(async (tx) => {
      const previous = await tx.load();
      try {
        o.beforeSave?.();
      } catch (err) {
        cancelled = true;
        throw err;
      }
      try {
        await tx.save(record);
      } catch (err) {
        // A backend may fail after its record landed (a keyring write, then
        // auth.json's removal): such a sign-in is stored and must stay live.
        stored = await tx.load().then(
          (now) => now?.tokens?.refresh_token === record.tokens?.refresh_token,
          () => true,
        );
        throw err;
      }
      stored = true;
      if (previous?.tokens && previous.tokens.refresh_token !== record.tokens?.refresh_token) {
        await revokeStored(previous, o);
      }
    });
  } catch (err) {
    if (cancelled) {
      // Cancelled at the last moment: nothing was saved, so the new tokens go too.
      await revokeStored(record, o).catch(() => false);
      throw err;
    }
    if (stored) {
      throw new LoginError(
        "ERR_LOGIN_FAILED",
        `Sign-in completed but credentials could not be saved locally: ${describeError(err)}`,
        { cause: err },
      );
    }
    const revoked = await revokeStored(record, o);
    throw new LoginError(
      "ERR_LOGIN_FAILED",
      `Sign-in completed but credentials could not be saved locally: ${describeError(err).replace(/\.$/, "")}. ${
        revoked
          ? "The new sign-in was revoked; nothing was stored"
          : "Revoking the new sign-in was not confirmed by the issuer (its tokens stay valid until they expire); nothing was stored"
      }, and the previous credentials were left as they were.`,
      { cause: err },
    );
  }
}

/**
 * Runs what a sign-in does between receiving its tokens and saving them
 * (the workspace check, the API-key exchange, a last look for a cancel);
 * when that fails, the issued tokens are revoked (best effort) before the
 * error is passed on, so a refused or cancelled sign-in leaves no live
 * credential behind (Codex drops them unrevoked).
 */
export async function keepOrRevoke<T>(
  issued: AuthRecord,
  o: Partial<Pick<Deps, "env" | "fetch" | "sleep">>,
  step: () => Promise<T>,
): Promise<T> {
  try {
    return await step();
  } catch (err) {
    await revokeStored(issued, o).catch(() => false);
    throw err;
  }
}

/**
 * How a sign-in retries its code exchange: up to 4 tries, 1 s doubling to
 * 8 s (or the server's `Retry-After`), only for transient faults. A code is
 * single-use, so a retry after a lost answer may get a definite
 * `invalid_grant` — which then ends the sign-in as any definite answer does.
 */
export function exchangeRetry(deps: Pick<Deps, "sleep">, signal?: AbortSignal): RetryOptions {
  return {
    attempts: 4,
    baseMs: 1_000,
    capMs: 8_000,
    sleep: deps.sleep,
    ...(signal ? { signal } : {}),
    transient: (err) =>
      err instanceof LoginError && err.transient
        ? { retry: true, ...(err.retryAfterMs === undefined ? {} : { afterMs: err.retryAfterMs }) }
        : { retry: false },
  };
}
