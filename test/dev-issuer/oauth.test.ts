import { createRemoteJWKSet, jwtVerify } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import {
  authorizeUrl,
  Browser,
  CALLBACK,
  CLIENT_ID,
  jwtPayload,
  manualClock,
  pkce,
  redeemCode,
  refreshRequest,
  revokeRequest,
} from "./helpers.js";

const AUTH = "https://api.openai.com/auth";
let issuer: DevIssuer | undefined;

afterEach(async () => {
  await issuer?.close();
  issuer = undefined;
});

/** Runs the browser flow with auto-approve and returns the callback URL. */
async function authorize(i: DevIssuer, extra: Record<string, string> = {}) {
  const { verifier, challenge } = pkce();
  const browser = new Browser();
  const start = await browser.request(authorizeUrl(i.url, challenge, "state-123", extra));
  const end = await browser.follow(start, i.url, CALLBACK);
  if (!(end instanceof URL)) throw new Error(`stopped at a page: HTTP ${end.status}`);
  return { callback: end, verifier };
}

async function signIn(i: DevIssuer) {
  const { callback, verifier } = await authorize(i);
  const res = await redeemCode(i.url, callback.searchParams.get("code")!, verifier);
  expect(res.status).toBe(200);
  return (await res.json()) as { id_token: string; access_token: string; refresh_token: string };
}

describe("dev issuer: discovery and keys", () => {
  it("serves discovery and a JWKS with an RS256 key, on 127.0.0.1", async () => {
    issuer = await startDevIssuer();
    expect(issuer.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const discovery = (await (
      await fetch(`${issuer.url}/.well-known/openid-configuration`)
    ).json()) as Record<string, unknown>;
    expect(discovery.issuer).toBe(issuer.url);
    expect(discovery.authorization_endpoint).toBe(`${issuer.url}/oauth/authorize`);
    expect(discovery.token_endpoint).toBe(`${issuer.url}/oauth/token`);
    expect(discovery.revocation_endpoint).toBe(`${issuer.url}/oauth/revoke`);
    expect(discovery.jwks_uri).toBe(`${issuer.url}/.well-known/jwks.json`);
    expect(discovery.code_challenge_methods_supported).toEqual(["S256"]);
    const jwks = (await (await fetch(`${issuer.url}/.well-known/jwks.json`)).json()) as {
      keys: Record<string, unknown>[];
    };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: "RSA", alg: "RS256", use: "sig" });
    expect(jwks.keys[0]).not.toHaveProperty("d");
    expect(issuer.requests.map((r) => [r.path, r.status, r.outcome])).toEqual([
      ["/.well-known/openid-configuration", 200, "ok"],
      ["/.well-known/jwks.json", 200, "ok"],
    ]);
  });
});

describe("dev issuer: authorization code + PKCE", () => {
  it("auto-approve signs the default user in and issues a code for Codex's exact authorize URL", async () => {
    issuer = await startDevIssuer({ autoApprove: true });
    const { callback, verifier } = await authorize(issuer);
    expect(callback.searchParams.get("state")).toBe("state-123");
    expect(callback.searchParams.get("code")).toBeTruthy();
    expect(issuer.requests.map((r) => `${r.path} ${r.outcome}`)).toEqual([
      "/oauth/authorize interaction",
      "/interaction/:uid auto_approved",
      "/oauth/authorize/:uid issued",
    ]);
    const res = await redeemCode(issuer.url, callback.searchParams.get("code")!, verifier);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(
      ["access_token", "expires_in", "id_token", "refresh_token", "scope", "token_type"].sort(),
    );
    expect(issuer.requests.at(-1)).toEqual({
      method: "POST",
      path: "/oauth/token",
      grant_type: "authorization_code",
      status: 200,
      outcome: "issued",
    });
  });

  it("ID token verifies against the JWKS and carries OpenAI's claims; the access token has exp and the auth claims", async () => {
    issuer = await startDevIssuer({ autoApprove: true, accessTtlSeconds: 600 });
    const tokens = await signIn(issuer);
    const jwks = createRemoteJWKSet(new URL(`${issuer.url}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(tokens.id_token, jwks, {
      issuer: issuer.url,
      audience: CLIENT_ID,
    });
    expect(protectedHeader.alg).toBe("RS256");
    expect(payload.email).toBe("dev@example.com");
    const user = issuer.users[0]!;
    expect(payload.sub).toBe(user.sub);
    expect(payload[AUTH]).toMatchObject({
      chatgpt_plan_type: "pro",
      chatgpt_account_id: "org_dev",
      chatgpt_user_id: user.userId,
      user_id: user.userId,
      organizations: [{ id: "org_dev", is_default: true, role: "owner", title: "Dev Workspace" }],
    });

    const at = await jwtVerify(tokens.access_token, jwks, {
      issuer: issuer.url,
      audience: "https://api.openai.com/v1",
    });
    expect(at.payload.exp! - at.payload.iat!).toBe(600);
    expect(at.payload[AUTH]).toMatchObject({ chatgpt_account_id: "org_dev", chatgpt_plan_type: "pro" });
  });

  it("refuses a wrong PKCE verifier and a second redemption of the same code", async () => {
    issuer = await startDevIssuer({ autoApprove: true });
    const { callback, verifier } = await authorize(issuer);
    const code = callback.searchParams.get("code")!;
    const wrong = await redeemCode(issuer.url, code, pkce().verifier);
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { error: string }).error).toBe("invalid_grant");
    expect(issuer.requests.at(-1)).toMatchObject({
      grant_type: "authorization_code",
      outcome: "invalid_grant",
    });
    const first = await redeemCode(issuer.url, code, verifier);
    expect(first.status).toBe(200);
    const second = await redeemCode(issuer.url, code, verifier);
    expect(second.status).toBe(400);
  });

  it("requires PKCE S256 on /oauth/authorize", async () => {
    issuer = await startDevIssuer({ autoApprove: true });
    const url = new URL(authorizeUrl(issuer.url, pkce().challenge, "s"));
    url.searchParams.delete("code_challenge");
    url.searchParams.delete("code_challenge_method");
    const missing = await fetch(url, { redirect: "manual" });
    expect(new URL(missing.headers.get("location")!).searchParams.get("error")).toBe("invalid_request");
    url.searchParams.set("code_challenge", "x".repeat(43));
    url.searchParams.set("code_challenge_method", "plain");
    const plain = await fetch(url, { redirect: "manual" });
    expect(new URL(plain.headers.get("location")!).searchParams.get("error")).toBe("invalid_request");
    expect(issuer.requests.at(-1)).toMatchObject({ path: "/oauth/authorize", outcome: "invalid_request" });
  });

  it("rejects a redirect URI that is not registered", async () => {
    issuer = await startDevIssuer({ autoApprove: true });
    const url = authorizeUrl(issuer.url, pkce().challenge, "s").replace(
      encodeURIComponent(CALLBACK),
      encodeURIComponent("https://evil.example/cb"),
    );
    const res = await fetch(url, { redirect: "manual" });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("redirect_uri");
  });
});

describe("dev issuer: refresh in OpenAI's dialect", () => {
  it("accepts Codex's JSON refresh body and rotates the refresh token on every use", async () => {
    issuer = await startDevIssuer({ autoApprove: true });
    const first = await signIn(issuer);
    const r1 = await refreshRequest(issuer.url, first.refresh_token);
    expect(r1.status).toBe(200);
    const second = (await r1.json()) as Record<string, string>;
    expect(second.refresh_token).toBeTruthy();
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(jwtPayload(second.id_token!).email).toBe("dev@example.com");
    expect(jwtPayload(second.access_token!)[AUTH]).toMatchObject({ chatgpt_account_id: "org_dev" });
    const r2 = await refreshRequest(issuer.url, second.refresh_token!, "proactive_expiry");
    expect(r2.status).toBe(200);
    expect(issuer.requests.filter((r) => r.outcome === "rotated")).toHaveLength(2);
    expect(issuer.requests.at(-1)).toEqual({
      method: "POST",
      path: "/oauth/token",
      grant_type: "refresh_token",
      status: 200,
      outcome: "rotated",
    });
  });

  it("refresh-reused: an already rotated token answers 401 refresh_token_reused, and the new one keeps working", async () => {
    issuer = await startDevIssuer({ autoApprove: true });
    const first = await signIn(issuer);
    const rotated = (await (await refreshRequest(issuer.url, first.refresh_token)).json()) as Record<
      string,
      string
    >;
    const reused = await refreshRequest(issuer.url, first.refresh_token);
    expect(reused.status).toBe(401);
    expect(await reused.json()).toEqual({
      error: {
        message:
          "Your refresh token has already been used to generate a new access token. Please try signing in again.",
        type: "invalid_request_error",
        param: null,
        code: "refresh_token_reused",
      },
    });
    expect(issuer.requests.at(-1)?.outcome).toBe("reused");
    // Unlike oidc-provider's default, reuse does not revoke what the rotation produced.
    const again = await refreshRequest(issuer.url, rotated.refresh_token!);
    expect(again.status).toBe(200);
  });

  it("concurrent refreshes with one token: exactly one rotates, the others are told reused", async () => {
    issuer = await startDevIssuer({ autoApprove: true });
    const first = await signIn(issuer);
    const results = await Promise.all(
      Array.from({ length: 6 }, () => refreshRequest(issuer!.url, first.refresh_token).then((r) => r.status)),
    );
    expect(results.filter((s) => s === 200)).toHaveLength(1);
    expect(results.filter((s) => s === 401)).toHaveLength(5);
  });

  it("refresh-expired: past the refresh TTL (moved clock) answers 401 refresh_token_expired", async () => {
    const clock = manualClock();
    issuer = await startDevIssuer({ autoApprove: true, refreshTtlSeconds: 60, now: clock.now });
    const first = await signIn(issuer);
    clock.advance(59_000);
    const ok = await refreshRequest(issuer.url, first.refresh_token);
    expect(ok.status).toBe(200);
    const next = (await ok.json()) as Record<string, string>;
    // Each rotation gets a fresh lifetime; move past it.
    clock.advance(60_000);
    const expired = await refreshRequest(issuer.url, next.refresh_token!);
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as { error: { code: string } }).error.code).toBe("refresh_token_expired");
    expect(issuer.requests.at(-1)?.outcome).toBe("expired");
  });

  it("refresh-revoked: after Codex's JSON revoke the token answers 401 refresh_token_invalidated", async () => {
    issuer = await startDevIssuer({ autoApprove: true });
    const tokens = await signIn(issuer);
    const revoked = await revokeRequest(issuer.url, tokens.refresh_token);
    expect(revoked.status).toBe(200);
    expect(issuer.requests.at(-1)).toMatchObject({ path: "/oauth/revoke", status: 200, outcome: "revoked" });
    const res = await refreshRequest(issuer.url, tokens.refresh_token);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("refresh_token_invalidated");
    expect(issuer.requests.at(-1)?.outcome).toBe("invalidated");
  });

  it("an unknown refresh token is refused with 401 (not one of the three known codes)", async () => {
    issuer = await startDevIssuer();
    const res = await refreshRequest(issuer.url, "rt_not_issued_here");
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("invalid_grant");
  });

  it("other refresh errors keep their code but take OpenAI's error shape", async () => {
    issuer = await startDevIssuer({ autoApprove: true });
    const tokens = await signIn(issuer);
    const res = await fetch(`${issuer.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ grant_type: "refresh_token", refresh_token: tokens.refresh_token }), // no client_id
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ code: "invalid_request", type: "invalid_request_error", param: null });
    expect(body.error.message).toEqual(expect.any(String));
    // The token was not spent.
    expect((await refreshRequest(issuer.url, tokens.refresh_token)).status).toBe(200);
  });

  it("form-encoded refresh works too", async () => {
    issuer = await startDevIssuer({ autoApprove: true });
    const tokens = await signIn(issuer);
    const res = await fetch(`${issuer.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: tokens.refresh_token,
        client_id: CLIENT_ID,
      }),
    });
    expect(res.status).toBe(200);
  });
});

describe("dev issuer: API-key token exchange", () => {
  it("exchanges an ID token for an sk-dev- key with Codex's exact form", async () => {
    issuer = await startDevIssuer({ autoApprove: true });
    const tokens = await signIn(issuer);
    const body =
      "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange" +
      `&client_id=${CLIENT_ID}&requested_token=openai-api-key&subject_token=${tokens.id_token}` +
      "&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token";
    const res = await fetch(`${issuer.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body,
    });
    expect(res.status).toBe(200);
    const key = ((await res.json()) as { access_token: string }).access_token;
    expect(key).toMatch(/^sk-dev-[A-Za-z0-9_-]{20,}$/);
    expect(issuer.requests.at(-1)).toEqual({
      method: "POST",
      path: "/oauth/token",
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      status: 200,
      outcome: "issued",
    });
    const bad = await fetch(`${issuer.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: body.replace(tokens.id_token, `${tokens.id_token.slice(0, -4)}AAAA`),
    });
    expect(bad.status).toBe(401);
  });
});
