import { oauthClientId } from "../config/endpoints.js";
import { REVOKE_TIMEOUT_MS } from "./constants.js";
import { type HttpDeps, httpRequest } from "./http.js";

/** Options for {@link revokeRefreshToken}: where, and the transport's {@link HttpDeps}. */
export interface RevokeOptions extends HttpDeps {
  /** The revocation endpoint (see `revokeEndpoint` in `config/endpoints`). */
  url: string;
  /** Default {@link REVOKE_TIMEOUT_MS} (10 s, as Codex). */
  timeoutMs?: number;
}

/**
 * Best-effort revocation of a refresh token (RFC 7009 shape, JSON body and
 * headers as Codex sends them). Resolves true when the issuer answered 2xx;
 * never throws (no answer, an unusable CA bundle: false).
 */
export async function revokeRefreshToken(refreshToken: string, options: RevokeOptions): Promise<boolean> {
  return revoke(
    { token: refreshToken, token_type_hint: "refresh_token", client_id: oauthClientId(options.env) },
    options,
  );
}

/**
 * Best-effort revocation of an access token, as Codex 0.169's logout sends
 * it when the record holds no refresh token: `{"token": …,
 * "token_type_hint": "access_token"}` (no `client_id`). Resolves true when
 * the issuer answered 2xx; never throws.
 */
export async function revokeAccessToken(accessToken: string, options: RevokeOptions): Promise<boolean> {
  return revoke({ token: accessToken, token_type_hint: "access_token" }, options);
}

async function revoke(body: Record<string, string>, options: RevokeOptions): Promise<boolean> {
  try {
    const response = await httpRequest(
      {
        url: options.url,
        body: { kind: "json", value: body },
        timeoutMs: options.timeoutMs ?? REVOKE_TIMEOUT_MS,
        identify: true,
      },
      options,
    );
    return response.ok;
  } catch {
    return false;
  }
}
