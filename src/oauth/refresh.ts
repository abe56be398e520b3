import { type Env, refreshTokenUrlOverride } from "../config/env.js";
import { describeError, RefreshTokenError, type RefreshTokenFailedReason } from "../errors.js";
import type { AuthRecord } from "../record/auth-record.js";
import { CLIENT_ID, DEFAULT_ISSUER, DEFAULT_ORIGINATOR, DEFAULT_TOKEN_URL } from "./constants.js";

/** Why a refresh is made; sent as `refresh_reason`, as Codex 0.169 does. */
export type RefreshReason = "forced" | "proactive_expiry";

/** The fields a successful refresh may carry; only those present replace stored ones. */
export interface RefreshedTokens {
  id_token?: string;
  access_token?: string;
  refresh_token?: string;
}

/**
 * The token endpoint for a refresh, chosen as Codex 0.169 does:
 * `CODEX_REFRESH_TOKEN_URL_OVERRIDE`; else the issuer the tokens came from
 * (`tokens.oauth_provenance.issuer` + `/oauth/token`); else OpenAI's.
 */
export function refreshEndpoint(env: Env, record?: AuthRecord): string {
  const override = refreshTokenUrlOverride(env);
  if (override) return override;
  const issuer = record?.tokens?.oauth_provenance?.issuer;
  if (issuer && issuer !== DEFAULT_ISSUER) return `${issuer.replace(/\/+$/, "")}/oauth/token`;
  return DEFAULT_TOKEN_URL;
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
  const obj = parseJsonObject(body);
  if (!obj) return undefined;
  const error = obj.error;
  if (typeof error === "object" && error !== null && typeof (error as { code?: unknown }).code === "string") {
    return (error as { code: string }).code;
  }
  if (typeof error === "string") return error;
  return typeof obj.code === "string" ? obj.code : undefined;
}

function errorMessage(body: string): string {
  const obj = parseJsonObject(body);
  const error = obj?.error;
  const candidates = [
    typeof error === "object" && error !== null ? (error as { message?: unknown }).message : undefined,
    obj?.error_description,
    obj?.message,
    typeof error === "string" ? error : undefined,
  ];
  const found = candidates.find((c): c is string => typeof c === "string" && c.length > 0);
  // A body we do not understand is summarized, not echoed: it could hold anything.
  return (found ?? (body.trim() ? "unrecognized error body" : "empty body")).slice(0, 200);
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
    `Failed to refresh token: ${status}: ${errorMessage(body)}`,
    {
      permanent: false,
      status,
    },
  );
}

/** Options for {@link requestTokenRefresh}. */
export interface RefreshRequestOptions {
  url: string;
  reason: RefreshReason;
  fetch?: typeof fetch;
  /** Default 30 s. */
  timeoutMs?: number;
  originator?: string;
}

/**
 * POSTs a refresh to the token endpoint with Codex 0.169's JSON body
 * (`client_id`, `grant_type`, `refresh_reason`, `refresh_token`; no `scope`).
 *
 * @throws {RefreshTokenError} classified as permanent or transient; never contains a token.
 */
export async function requestTokenRefresh(
  refreshToken: string,
  options: RefreshRequestOptions,
): Promise<RefreshedTokens> {
  const doFetch = options.fetch ?? fetch;
  let response: Response;
  let body: string;
  try {
    response = await doFetch(options.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        originator: options.originator ?? DEFAULT_ORIGINATOR,
      },
      body: JSON.stringify({
        client_id: CLIENT_ID,
        grant_type: "refresh_token",
        refresh_reason: options.reason,
        refresh_token: refreshToken,
      }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
    body = await response.text();
  } catch (cause) {
    const what =
      (cause as Error)?.name === "TimeoutError"
        ? "request timed out"
        : `network error: ${describeError(cause)}`;
    throw new RefreshTokenError("ERR_REFRESH_TRANSIENT", `Failed to refresh token: ${what}`, {
      permanent: false,
      cause,
    });
  }
  if (!response.ok) throw classifyRefreshFailure(response.status, body);
  const obj = parseJsonObject(body);
  const tokens: RefreshedTokens = {};
  for (const field of ["id_token", "access_token", "refresh_token"] as const) {
    const value = obj?.[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== "string" || value === "") {
      throw new RefreshTokenError(
        "ERR_REFRESH_TRANSIENT",
        `Failed to refresh token: ${response.status}: "${field}" in the response is not a string`,
        { permanent: false, status: response.status },
      );
    }
    tokens[field] = value;
  }
  if (!obj) {
    throw new RefreshTokenError(
      "ERR_REFRESH_TRANSIENT",
      `Failed to refresh token: ${response.status}: response is not a JSON object`,
      {
        permanent: false,
        status: response.status,
      },
    );
  }
  return tokens;
}
