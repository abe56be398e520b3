import { type CodexAuth, isManagedChatgpt } from "./codex-auth.js";

/** Refresh when the access token expires within this window (current Codex: 5 minutes). */
export const DEFAULT_REFRESH_WINDOW_MS = 5 * 60 * 1000;
/** The seed's rule for tokens without `exp`: refresh when `last_refresh` is older than 8 days. */
export const LAST_REFRESH_MAX_AGE_MS = 8 * 24 * 60 * 60 * 1000;

/**
 * True when managed ChatGPT credentials should be refreshed before use: the
 * access token's `exp` is within `windowMs` of `nowMs`; when the token has no
 * `exp`, `last_refresh` is older than 8 days (a missing `last_refresh` never
 * triggers). API keys and other modes are never stale.
 *
 * @param nowMs ms since the epoch.
 * @param windowMs ms before expiry that already count as stale (default 5 minutes).
 */
export function isStale(auth: CodexAuth, nowMs: number, windowMs = DEFAULT_REFRESH_WINDOW_MS): boolean {
  if (!isManagedChatgpt(auth)) return false;
  const expiry = auth.accessTokenExpiresAtMs;
  if (expiry !== undefined) return expiry - nowMs <= windowMs;
  const lastRefresh = auth.record.last_refresh;
  if (lastRefresh === undefined) return false;
  return nowMs - Date.parse(lastRefresh) > LAST_REFRESH_MAX_AGE_MS;
}
