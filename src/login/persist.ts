import type { Deps } from "../deps.js";
import { describeError, LoginError, LoginRestrictedError } from "../errors.js";
import { revokeStored } from "../manager/operations.js";
import { CLIENT_ID } from "../oauth/constants.js";
import type { RetryOptions } from "../oauth/retry.js";
import type { IssuedTokens } from "../oauth/token-exchange.js";
import { type AuthRecord, nowRfc3339 } from "../record/auth-record.js";
import { parseIdToken } from "../record/claims.js";
import type { AuthStorage } from "../storage/storage.js";

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
 * Saves a new sign-in, replacing what was stored, then revokes the previous
 * ChatGPT refresh token (best effort), all in one storage transaction.
 * Unlike Codex, the previous credentials are kept until this moment, so a
 * cancelled or failed sign-in never logs the user out; and stored
 * credentials that cannot be read are never replaced: the sign-in fails
 * with the load error and the bytes stay as they were (every sign-in —
 * browser, paste-back, device code, API key — goes through here or
 * `loginWithApiKey`, which follows the same rule).
 *
 * @throws {AuthFileMalformedError} (or another load error) when the stored record cannot be read; nothing is saved.
 * @throws {LoginError} `ERR_LOGIN_FAILED` when the new record cannot be saved.
 */
export async function commitLogin(
  storage: AuthStorage,
  record: AuthRecord,
  o: Partial<Pick<Deps, "env" | "fetch">> & {
    /**
     * Called inside the transaction, once the previous record is read and
     * just before the new one is written: the last moment a cancel can still
     * win (it throws, and nothing is saved).
     */
    beforeSave?: () => void;
  } = {},
): Promise<void> {
  await storage.transaction(async (tx) => {
    const previous = await tx.load();
    o.beforeSave?.();
    try {
      await tx.save(record);
    } catch (err) {
      throw new LoginError(
        "ERR_LOGIN_FAILED",
        `Sign-in completed but credentials could not be saved locally: ${describeError(err)}`,
        { cause: err },
      );
    }
    if (previous?.tokens && previous.tokens.refresh_token !== record.tokens?.refresh_token) {
      await revokeStored(previous, o);
    }
  });
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
