import { oauthClientId } from "../config/endpoints.js";
import { NetworkError } from "../errors.js";
import { REVOKE_TIMEOUT_MS } from "./constants.js";
import { type HttpDeps, type HttpResponse, httpRequest } from "./http.js";
import { isTransientStatus, retryTransient } from "./retry.js";

/** Options for {@link revokeRefreshToken}: where, and the transport's {@link HttpDeps}. */
export interface RevokeOptions extends HttpDeps {
  /** The revocation endpoint (see `revokeEndpoint` in `config/endpoints`). */
  url: string;
  /** Default {@link REVOKE_TIMEOUT_MS} (10 s, as Codex). */
  timeoutMs?: number;
  /** Try a refused connection, 429 or 5xx again: `attempts` in all, waiting with `sleep` (default: one try, as Codex). */
  retry?: { attempts: number; sleep(ms: number): Promise<void> };
}

/**
 * Best-effort revocation of a refresh token (RFC 7009 shape, JSON body and
 * headers as Codex sends them). Resolves true when the issuer answered 2xx;
 * never throws (no answer, an unusable CA bundle: false). With `retry`, a
 * refused connection, 429 or 5xx is tried again after a back-off (a timeout
 * is not: the 10 s bound stays the bound).
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
 * the issuer answered 2xx; never throws. `retry` as for {@link revokeRefreshToken}.
 */
export async function revokeAccessToken(accessToken: string, options: RevokeOptions): Promise<boolean> {
  return revoke({ token: accessToken, token_type_hint: "access_token" }, options);
}

async function revoke(body: Record<string, string>, options: RevokeOptions): Promise<boolean> {
  const once = async (): Promise<boolean> => {
    let response: HttpResponse;
    try {
      response = await httpRequest(
        {
          url: options.url,
          body: { kind: "json", value: body },
          timeoutMs: options.timeoutMs ?? REVOKE_TIMEOUT_MS,
          identify: true,
        },
        options,
      );
    } catch (err) {
      if (err instanceof NetworkError && err.reason === "connect") throw new TransientRevokeFailure();
      return false;
    }
    if (!response.ok && isTransientStatus(response.status)) throw new TransientRevokeFailure();
    return response.ok;
  };
  const retry = options.retry;
  try {
    if (!retry) return await once();
    return await retryTransient(once, {
      attempts: retry.attempts,
      baseMs: 500,
      capMs: 4_000,
      sleep: retry.sleep,
      transient: (err) => ({ retry: err instanceof TransientRevokeFailure }),
    });
  } catch {
    return false;
  }
}

class TransientRevokeFailure extends Error {}
