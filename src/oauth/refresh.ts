import { oauthClientId } from "../config/endpoints.js";
import { NetworkError, RefreshTokenError, type RefreshTokenFailedReason } from "../errors.js";
import { REFRESH_TIMEOUT_MS } from "./constants.js";
import { describeErrorBody, type HttpDeps, httpRequest, parseErrorBody } from "./http.js";

/** Why a refresh is made; sent as `refresh_reason`, as Codex 0.169 does. */
export type RefreshReason = "forced" | "proactive_expiry";

/** The fields a successful refresh may carry; only those present replace stored ones. */
export interface RefreshedTokens {
  id_token?: string;
  access_token?: string;
  refresh_token?: string;
}

const PERMANENT_MESSAGES: Record<RefreshTokenFailedReason, string> = {
  expired:
    "Your access token could not be refreshed because your refresh token has expired. Please log out and sign in again.",
  exhausted:
    "Your access token could not be refreshed because your refresh token was already used. Please log out and sign in again.",
  revoked:
    "Your access token could not be refreshed because your refresh token was revoked. Please log out and sign in again.",
  missing:
    "Your access token could not be refreshed because no refresh token is stored. Sign in again with `codex-auth login`.",
  other: "Your access token could not be refreshed. Please log out and sign in again.",
};
const REASON_CODES = {
  expired: "ERR_REFRESH_TOKEN_EXPIRED",
  exhausted: "ERR_REFRESH_TOKEN_REUSED",
  revoked: "ERR_REFRESH_TOKEN_REVOKED",
  missing: "ERR_REFRESH_TOKEN_FAILED",
  other: "ERR_REFRESH_TOKEN_FAILED",
} as const;

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Why a refresh is refused when storage now holds another account (Codex's words, since Feb 2026). */
export const ACCOUNT_CHANGED_MESSAGE =
  "Your access token could not be refreshed because you have since logged out or signed in to another account. Please sign in again.";

/** The error code of a token-endpoint error body: `error.code`, a string `error`, or top-level `code`. */
export function refreshErrorCode(body: string): string | undefined {
  return parseErrorBody(body).code;
}

/**
 * Classifies a failed refresh response. Permanent when the status is 401 or
 * the code is one of the three known refresh-token codes (at any status);
 * everything else is transient.
 */
export function classifyRefreshFailure(status: number, body: string): RefreshTokenError {
  const code = refreshErrorCode(body)?.toLowerCase();
  const reason: RefreshTokenFailedReason =
    code === "refresh_token_expired"
      ? "expired"
      : code === "refresh_token_reused"
        ? "exhausted"
        : code === "refresh_token_invalidated"
          ? "revoked"
          : "other";
  if (status === 401 || reason !== "other") {
    return new RefreshTokenError(REASON_CODES[reason], PERMANENT_MESSAGES[reason], {
      permanent: true,
      reason,
      status,
    });
  }
  return new RefreshTokenError(
    "ERR_REFRESH_TRANSIENT",
    `Failed to refresh token: ${status}: ${describeErrorBody(body)}`,
    { permanent: false, status },
  );
}

/** Options for {@link requestTokenRefresh}: where, why, and the transport's {@link HttpDeps}. */
export interface RefreshRequestOptions extends HttpDeps {
  /** The token endpoint (see `refreshEndpoint` in `config/endpoints`). */
  url: string;
  reason: RefreshReason;
  /** Default {@link REFRESH_TIMEOUT_MS} (30 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * POSTs a refresh to the token endpoint with Codex 0.169's JSON body
 * (`client_id`, `grant_type`, `refresh_reason`, `refresh_token`; no `scope`)
 * and Codex's headers (`originator`, user agent).
 *
 * @throws {RefreshTokenError} classified as permanent or transient; never contains a token.
 * @throws {CaCertificateError} a configured custom CA bundle cannot be used.
 */
export async function requestTokenRefresh(
  refreshToken: string,
  options: RefreshRequestOptions,
): Promise<RefreshedTokens> {
  let response: Awaited<ReturnType<typeof httpRequest>>;
  try {
    response = await httpRequest(
      {
        url: options.url,
        body: {
          kind: "json",
          value: {
            client_id: oauthClientId(options.env),
            grant_type: "refresh_token",
            refresh_reason: options.reason,
            refresh_token: refreshToken,
          },
        },
        timeoutMs: options.timeoutMs ?? REFRESH_TIMEOUT_MS,
        identify: true,
        ...(options.signal ? { signal: options.signal } : {}),
      },
      options,
    );
  } catch (err) {
    if (!(err instanceof NetworkError)) throw err;
    const what = err.reason === "connect" ? `network error: ${err.message}` : err.message;
    throw new RefreshTokenError("ERR_REFRESH_TRANSIENT", `Failed to refresh token: ${what}`, {
      permanent: false,
      cause: err,
    });
  }
  const { status, text } = response;
  if (!response.ok) throw classifyRefreshFailure(status, text);
  const obj = parseJsonObject(text);
  if (!obj) {
    throw new RefreshTokenError(
      "ERR_REFRESH_TRANSIENT",
      `Failed to refresh token: ${status}: response is not a JSON object`,
      { permanent: false, status },
    );
  }
  const tokens: RefreshedTokens = {};
  for (const field of ["id_token", "access_token", "refresh_token"] as const) {
    const value = obj[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== "string" || value === "") {
      throw new RefreshTokenError(
        "ERR_REFRESH_TRANSIENT",
        `Failed to refresh token: ${status}: "${field}" in the response is not a string`,
        { permanent: false, status },
      );
    }
    tokens[field] = value;
  }
  return tokens;
}
