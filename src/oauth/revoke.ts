import { CLIENT_ID, REVOKE_TIMEOUT_MS } from "./constants.js";
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
  try {
    const response = await httpRequest(
      {
        url: options.url,
        body: {
          kind: "json",
          value: { token: refreshToken, token_type_hint: "refresh_token", client_id: CLIENT_ID },
        },
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
