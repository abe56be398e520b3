/** Helpers for driving the development issuer over HTTP like a browser and like Codex. */
import { createHash, randomBytes } from "node:crypto";

export const CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann";
export const CALLBACK = "http://127.0.0.1:1455/auth/callback";

/** A PKCE pair as Codex makes it (64 random bytes, S256). */
export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(64).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

/** Codex 0.169's authorize URL, parameter for parameter. */
export function authorizeUrl(
  issuer: string,
  challenge: string,
  state: string,
  extra: Record<string, string> = {},
): string {
  const q = new URLSearchParams({
    response_type: "code",
    client_id: CLIENT_ID,
    redirect_uri: CALLBACK,
    code_challenge: challenge,
    code_challenge_method: "S256",
    state,
    scope: "openid profile email offline_access api.connectors.read api.connectors.invoke",
    id_token_add_organizations: "true",
    codex_cli_simplified_flow: "true",
    originator: "codex_cli_rs",
    ...extra,
  });
  return `${issuer}/oauth/authorize?${q}`;
}

/** A minimal browser: keeps cookies, follows redirects by hand, stops at `stopAt`. */
export class Browser {
  private readonly cookies = new Map<string, string>();

  private remember(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  private cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set("cookie", this.cookieHeader());
    const res = await fetch(url, { ...init, headers, redirect: "manual" });
    this.remember(res);
    return res;
  }

  /** Submits a form (POST, urlencoded). */
  post(url: string, form: Record<string, string>): Promise<Response> {
    return this.request(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(form),
    });
  }

  /**
   * Follows redirects from `res` until one points at `stopAt` (returned as a
   * URL, not fetched) or a page is reached (returned as the Response).
   */
  async follow(start: Response, base: string, stopAt: string): Promise<URL | Response> {
    let res = start;
    for (let hops = 0; hops < 10; hops++) {
      const location = res.headers.get("location");
      if (res.status < 300 || res.status >= 400 || !location) return res;
      const next = new URL(location, base);
      if (next.href.startsWith(stopAt)) return next;
      res = await this.request(next.href);
    }
    throw new Error("too many redirects");
  }
}

/** Redeems an authorization code as Codex does (form-encoded). */
export async function redeemCode(
  issuer: string,
  code: string,
  verifier: string,
  redirectUri = CALLBACK,
): Promise<Response> {
  return fetch(`${issuer}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: redirectUri,
      client_id: CLIENT_ID,
      code_verifier: verifier,
    }),
  });
}

/** Codex 0.169's refresh request: JSON, keys alphabetical, no scope. */
export function refreshRequest(issuer: string, refreshToken: string, reason = "forced"): Promise<Response> {
  return fetch(`${issuer}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      client_id: CLIENT_ID,
      grant_type: "refresh_token",
      refresh_reason: reason,
      refresh_token: refreshToken,
    }),
  });
}

/** Codex 0.169's revoke request (JSON). */
export function revokeRequest(issuer: string, refreshToken: string): Promise<Response> {
  return fetch(`${issuer}/oauth/revoke`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token: refreshToken, token_type_hint: "refresh_token", client_id: CLIENT_ID }),
  });
}

/** Decodes a JWT payload without verifying it. */
export function jwtPayload(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString("utf8")) as Record<string, unknown>;
}

/** A clock tests move by hand. */
export function manualClock(start = Date.now()): { now: () => number; advance(ms: number): void } {
  let t = start;
  return {
    now: () => t,
    advance(ms) {
      t += ms;
    },
  };
}
