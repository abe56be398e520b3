import { LoginError, NetworkError } from "../errors.js";
import { trimIssuer } from "./authorize.js";
import { CLIENT_ID, TOKEN_EXCHANGE_TIMEOUT_MS } from "./constants.js";
import { describeErrorBody, type HttpDeps, httpRequest } from "./http.js";
import { isTransientStatus, retryAfterMs } from "./retry.js";

/** The tokens a sign-in produces. */
export interface IssuedTokens {
  id_token: string;
  access_token: string;
  refresh_token: string;
}

/** Options shared by the token-endpoint calls of a sign-in, and the transport's {@link HttpDeps}. */
export interface ExchangeOptions extends HttpDeps {
  issuer: string;
  /**
   * Which sign-in the code came from; picks Codex's words for a failure:
   * `Token exchange failed: …` (browser) or `device code exchange failed: …`.
   */
  flow?: "browser" | "device";
  /** Default {@link TOKEN_EXCHANGE_TIMEOUT_MS} (30 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** The OAuth client id the code was issued to; default Codex's. */
  clientId?: string;
}

/** POSTs form fields to `ISSUER/oauth/token` with the headers Codex sends there (no originator). */
function postToTokenEndpoint(fields: [string, string][], o: ExchangeOptions) {
  return httpRequest(
    {
      url: `${trimIssuer(o.issuer)}/oauth/token`,
      body: { kind: "form", value: fields },
      timeoutMs: o.timeoutMs ?? TOKEN_EXCHANGE_TIMEOUT_MS,
      ...(o.signal ? { signal: o.signal } : {}),
    },
    o,
  );
}

/**
 * Exchanges an authorization code (with its PKCE verifier) for tokens at
 * `ISSUER/oauth/token`, form-encoded as Codex 0.169 sends it.
 *
 * @throws {LoginError} `ERR_TOKEN_EXCHANGE`, e.g. `Token exchange failed: token endpoint returned status 400: invalid_grant`; `ERR_LOGIN_CANCELLED` when `signal` aborted it.
 * @throws {CaCertificateError} a configured custom CA bundle cannot be used.
 */
export async function exchangeCodeForTokens(
  code: string,
  redirectUri: string,
  codeVerifier: string,
  o: ExchangeOptions,
): Promise<IssuedTokens> {
  const prefix = o.flow === "device" ? "device code exchange failed" : "Token exchange failed";
  const failed = (
    detail: string,
    extra: { cause?: unknown; transient?: boolean; retryAfterMs?: number } = {},
  ) => new LoginError("ERR_TOKEN_EXCHANGE", `${prefix}: ${detail}`, extra);
  let response: Awaited<ReturnType<typeof httpRequest>>;
  try {
    response = await postToTokenEndpoint(
      [
        ["grant_type", "authorization_code"],
        ["client_id", o.clientId ?? CLIENT_ID],
        ["code", code],
        ["redirect_uri", redirectUri],
        ["code_verifier", codeVerifier],
      ],
      o,
    );
  } catch (err) {
    if (!(err instanceof NetworkError)) throw err;
    if (err.reason === "aborted")
      throw new LoginError("ERR_LOGIN_CANCELLED", "Login cancelled", { cause: err });
    throw failed(`error sending request to ${err.url}: ${err.message}`, { cause: err, transient: true });
  }
  if (!response.ok) {
    const after = retryAfterMs(response.headers.get("retry-after"), Date.now());
    throw failed(
      `token endpoint returned status ${response.status}: ${describeErrorBody(response.text, "unknown error")}`,
      {
        transient: isTransientStatus(response.status),
        ...(after === undefined ? {} : { retryAfterMs: after }),
      },
    );
  }
  let obj: Record<string, unknown> | undefined;
  try {
    obj = JSON.parse(response.text);
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
    const response = await postToTokenEndpoint(
      [
        ["grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"],
        ["client_id", o.clientId ?? CLIENT_ID],
        ["requested_token", "openai-api-key"],
        ["subject_token", idToken],
        ["subject_token_type", "urn:ietf:params:oauth:token-type:id_token"],
      ],
      o,
    );
    if (!response.ok) return undefined;
    const key = (JSON.parse(response.text) as { access_token?: unknown } | null)?.access_token;
    return typeof key === "string" && key ? key : undefined;
  } catch {
    return undefined;
  }
}
