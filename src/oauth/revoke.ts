import type { Env } from "../config/env.js";
import { refreshTokenUrlOverride, revokeTokenUrlOverride } from "../config/env.js";
import { CLIENT_ID, DEFAULT_ISSUER, DEFAULT_ORIGINATOR, DEFAULT_REVOKE_URL } from "./constants.js";

/**
 * The revocation endpoint, chosen as Codex 0.169 does:
 * `CODEX_REVOKE_TOKEN_URL_OVERRIDE`; else the refresh override with its path
 * replaced by `/oauth/revoke` (query dropped); else the issuer the tokens
 * came from (`oauth_provenance.issuer`); else OpenAI's.
 */
export function revokeEndpoint(env: Env, issuer?: string): string {
  const explicit = revokeTokenUrlOverride(env);
  if (explicit) return explicit;
  const refresh = refreshTokenUrlOverride(env);
  if (refresh) {
    try {
      const url = new URL(refresh);
      url.pathname = "/oauth/revoke";
      url.search = "";
      url.hash = "";
      return url.toString();
    } catch {
      // not a URL: fall through to the defaults
    }
  }
  if (issuer && issuer !== DEFAULT_ISSUER) return `${issuer.replace(/\/+$/, "")}/oauth/revoke`;
  return DEFAULT_REVOKE_URL;
}

/** Options for {@link revokeRefreshToken}. */
export interface RevokeOptions {
  url: string;
  fetch?: typeof fetch;
  /** Default 10 s, as Codex. */
  timeoutMs?: number;
  originator?: string;
}

/**
 * Best-effort revocation of a refresh token (RFC 7009 shape, JSON body as
 * Codex sends it). Resolves true when the issuer answered 2xx; never throws.
 */
export async function revokeRefreshToken(refreshToken: string, options: RevokeOptions): Promise<boolean> {
  const doFetch = options.fetch ?? fetch;
  try {
    const response = await doFetch(options.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        originator: options.originator ?? DEFAULT_ORIGINATOR,
      },
      body: JSON.stringify({ token: refreshToken, token_type_hint: "refresh_token", client_id: CLIENT_ID }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}
