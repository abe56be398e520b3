import { type CodexAuth, isManagedChatgpt } from "./codex-auth.js";

/** Refresh when the access token expires within this window (current Codex: 5 minutes). */
export const DEFAULT_REFRESH_WINDOW_MS = 5 * 60 * 1000;
/** The seed's rule for tokens without `exp`: refresh when `last_refresh` is older than 8 days. */
export const LAST_REFRESH_MAX_AGE_MS = 8 * 24 * 60 * 60 * 1000;

/** A token received this recently (by `last_refresh`) is never refreshed again by a proactive check. */
export const JUST_RECEIVED_MS = 60_000;
/** Beyond this difference between the local clock and the issuer's, the clock is reported as wrong. */
export const CLOCK_SKEW_WARN_MS = 5 * 60_000;

/**
 * True when managed ChatGPT credentials should be refreshed before use.
 *
 * The access token's lifetime (`exp − iat`, both on the issuer's clock) is
 * measured from `last_refresh` (the local clock when the tokens arrived), so
 * a local clock that is hours off in either direction cannot make every run
 * refresh (or none): the time elapsed since the tokens arrived is what
 * counts. Without `iat` (or `last_refresh`), `exp` is compared with the
 * local clock, as Codex does. A token received within the last minute is
 * never stale. Without `exp`: the seed's rule, `last_refresh` older than 8
 * days (a missing `last_refresh` never triggers). API keys and other modes
 * are never stale.
 *
 * @param nowMs ms since the epoch (local clock).
 * @param windowMs ms before expiry that already count as stale (default 5 minutes).
 */
export function isStale(auth: CodexAuth, nowMs: number, windowMs = DEFAULT_REFRESH_WINDOW_MS): boolean {
  if (!isManagedChatgpt(auth)) return false;
  const receivedMs = auth.lastRefreshMs;
  const elapsedMs = receivedMs === undefined ? undefined : nowMs - receivedMs;
  if (elapsedMs !== undefined && elapsedMs >= 0 && elapsedMs < JUST_RECEIVED_MS) return false;
  const expiry = auth.accessTokenExpiresAtMs;
  if (expiry !== undefined) {
    const issued = auth.accessTokenIssuedAtMs;
    // Lifetime measured on the local clock from the moment the tokens arrived.
    if (issued !== undefined && elapsedMs !== undefined && elapsedMs >= 0) {
      return expiry - issued - elapsedMs <= windowMs;
    }
    return expiry - nowMs <= windowMs;
  }
  if (elapsedMs === undefined) return false;
  return elapsedMs > LAST_REFRESH_MAX_AGE_MS;
}

/**
 * How far the local clock was ahead of the issuer's (negative: behind) when
 * these tokens arrived: `last_refresh` (local) minus the access token's
 * `iat` (issuer). Undefined when either is missing. Includes the request's
 * latency, so only large values mean a wrong clock (see {@link CLOCK_SKEW_WARN_MS}).
 */
export function clockOffsetMs(auth: CodexAuth): number | undefined {
  if (!isManagedChatgpt(auth) || auth.accessTokenIssuedAtMs === undefined) return undefined;
  const receivedMs = auth.lastRefreshMs;
  return receivedMs === undefined ? undefined : receivedMs - auth.accessTokenIssuedAtMs;
}
