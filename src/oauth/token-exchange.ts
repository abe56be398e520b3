import { describeError, LoginError } from "../errors.js";
import { trimIssuer } from "./authorize.js";
import { CLIENT_ID } from "./constants.js";

/** The tokens a sign-in produces. */
export interface IssuedTokens {
  id_token: string;
  access_token: string;
  refresh_token: string;
}

async function postForm(url: string, fields: [string, string][], doFetch: typeof fetch, timeoutMs: number) {
  return doFetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: new URLSearchParams(fields).toString(),
    signal: AbortSignal.timeout(timeoutMs),
  });
}

function detail(body: string): string {
  try {
    const obj = JSON.parse(body) as Record<string, unknown>;
    const error = obj.error as unknown;
    const candidates = [
      obj.error_description,
      typeof error === "object" && error !== null ? (error as { message?: unknown }).message : undefined,
      typeof error === "string" ? error : undefined,
      typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined,
    ];
    const found = candidates.find((c): c is string => typeof c === "string" && c.length > 0);
    if (found) return found.slice(0, 200);
  } catch {
    // not JSON
  }
  return body.trim() ? "unrecognized error body" : "unknown error";
}

/** Options shared by the token-endpoint calls of a sign-in. */
export interface ExchangeOptions {
  issuer: string;
  /**
   * Which sign-in the code came from; picks Codex's words for a failure:
   * `Token exchange failed: …` (browser) or `device code exchange failed: …`.
   */
  flow?: "browser" | "device";
  fetch?: typeof fetch;
  timeoutMs?: number;
}

/**
 * Exchanges an authorization code (with its PKCE verifier) for tokens at
 * `ISSUER/oauth/token`, form-encoded as Codex 0.169 sends it.
 *
 * @throws {LoginError} `ERR_TOKEN_EXCHANGE`, e.g. `Token exchange failed: token endpoint returned status 400: invalid_grant`.
 */
export async function exchangeCodeForTokens(
  code: string,
  redirectUri: string,
  codeVerifier: string,
  o: ExchangeOptions,
): Promise<IssuedTokens> {
  const prefix = o.flow === "device" ? "device code exchange failed" : "Token exchange failed";
  const failed = (detail: string, cause?: unknown) =>
    new LoginError("ERR_TOKEN_EXCHANGE", `${prefix}: ${detail}`, cause === undefined ? undefined : { cause });
  let response: Response;
  let body: string;
  try {
    response = await postForm(
      `${trimIssuer(o.issuer)}/oauth/token`,
      [
        ["grant_type", "authorization_code"],
        ["client_id", CLIENT_ID],
        ["code", code],
        ["redirect_uri", redirectUri],
        ["code_verifier", codeVerifier],
      ],
      o.fetch ?? fetch,
      o.timeoutMs ?? 30_000,
    );
    body = await response.text();
  } catch (cause) {
    throw failed(
      `error sending request to ${trimIssuer(o.issuer)}/oauth/token: ${describeError(cause)}`,
      cause,
    );
  }
  if (!response.ok) {
    throw failed(`token endpoint returned status ${response.status}: ${detail(body)}`);
  }
  let obj: Record<string, unknown> | undefined;
  try {
    obj = JSON.parse(body);
  } catch {
    obj = undefined;
  }
  const tokens = obj as Partial<IssuedTokens> | undefined;
  if (
    typeof tokens?.id_token !== "string" ||
    typeof tokens.access_token !== "string" ||
    typeof tokens.refresh_token !== "string"
  ) {
    throw failed("token endpoint response lacks id_token, access_token or refresh_token");
  }
  return {
    id_token: tokens.id_token,
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
  };
}

/**
 * The legacy API-key token exchange Codex still attempts after a browser
 * sign-in. Best effort: undefined on any failure.
 */
export async function obtainApiKey(idToken: string, o: ExchangeOptions): Promise<string | undefined> {
  try {
    const response = await postForm(
      `${trimIssuer(o.issuer)}/oauth/token`,
      [
        ["grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"],
        ["client_id", CLIENT_ID],
        ["requested_token", "openai-api-key"],
        ["subject_token", idToken],
        ["subject_token_type", "urn:ietf:params:oauth:token-type:id_token"],
      ],
      o.fetch ?? fetch,
      o.timeoutMs ?? 30_000,
    );
    if (!response.ok) {
      await response.body?.cancel();
      return undefined;
    }
    const key = ((await response.json()) as { access_token?: unknown }).access_token;
    return typeof key === "string" && key ? key : undefined;
  } catch {
    return undefined;
  }
}
