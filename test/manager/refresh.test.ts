/**
 * Refresh on the wire and every failure class (SPEC §4), each asserting the
 * stored record afterwards. The scripted server stands in for the failure
 * modes a real issuer does not produce on demand; rotation against the real
 * dev issuer is tested in test/e2e.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  AuthManager,
  type AuthManagerOptions,
  bearerToken,
  FileAuthStorage,
  planTypeOf,
  RefreshTokenError,
  saveAuth,
} from "../../src/index.js";
import { CLIENT_ID } from "../../src/oauth/index.js";
import { makeCodexHome, removeCodexHome } from "../support/env.js";
import { fakeChatgptRecord, fakeJwt } from "../support/jwt.js";
import { type ScriptedServer, startScriptedServer } from "../support/scripted-server.js";

let server: ScriptedServer;
beforeAll(async () => {
  server = await startScriptedServer();
});
afterAll(() => server.close());
const homes: string[] = [];
afterEach(() => {
  for (const h of homes.splice(0)) removeCodexHome(h);
  server.requests.length = 0;
});

const now = Math.floor(Date.now() / 1000);
const expired = () => fakeChatgptRecord({ exp: now - 60, refreshToken: "rt_old" });

function homeWith(record: Record<string, unknown>): string {
  const h = makeCodexHome("refresh");
  homes.push(h);
  writeFileSync(join(h, "auth.json"), JSON.stringify(record, null, 2), { mode: 0o600 });
  return h;
}

function manager(h: string, extra: Partial<AuthManagerOptions> = {}): Promise<AuthManager> {
  return AuthManager.create({
    codexHome: h,
    env: { CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${server.url}/oauth/token` },
    refreshTimeoutMs: 2_000,
    adoptWaitMs: 200,
    ...extra,
  });
}

const newAccess = fakeJwt({ exp: now + 3600, tag: "new" });

describe("refresh request and response", () => {
  it("sends Codex 0.169's JSON body and saves every returned field", async () => {
    const h = homeWith({ ...expired(), future_field: 7 });
    const newId = fakeJwt({
      email: "new@example.com",
      "https://api.openai.com/auth": { chatgpt_account_id: "org_x", chatgpt_plan_type: "plus" },
    });
    server.script({
      status: 200,
      body: { id_token: newId, access_token: newAccess, refresh_token: "rt_new" },
    });
    const m = await manager(h);
    await m.refreshToken();
    expect(server.requests).toHaveLength(1);
    const req = server.requests[0]!;
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/oauth/token");
    expect(req.headers["content-type"]).toBe("application/json");
    expect(req.body).toBe(
      JSON.stringify({
        client_id: CLIENT_ID,
        grant_type: "refresh_token",
        refresh_reason: "forced",
        refresh_token: "rt_old",
      }),
    );
    const saved = JSON.parse(readFileSync(join(h, "auth.json"), "utf8"));
    expect(saved.tokens).toMatchObject({
      id_token: newId,
      access_token: newAccess,
      refresh_token: "rt_new",
      account_id: "org_x",
    });
    expect(Date.now() - Date.parse(saved.last_refresh)).toBeLessThan(60_000);
    expect(saved.future_field).toBe(7);
    const cached = m.authCached();
    if (cached?.mode !== "chatgpt" || !cached.tokens) throw new Error("expected ChatGPT tokens");
    expect(cached.idToken.email).toBe("new@example.com");
    expect(planTypeOf(cached)).toBe("plus");
  });

  it("refresh without id_token keeps the old one (seed test)", async () => {
    const rec = expired();
    const h = homeWith(rec);
    server.script({ status: 200, body: { access_token: newAccess } });
    const m = await manager(h);
    await m.refreshToken();
    const saved = JSON.parse(readFileSync(join(h, "auth.json"), "utf8"));
    const old = rec.tokens as Record<string, string>;
    expect(saved.tokens).toMatchObject({
      id_token: old.id_token,
      access_token: newAccess,
      refresh_token: "rt_old",
    });
  });

  it("auth() refreshes a stale token with refresh_reason proactive_expiry; a fresh one not at all", async () => {
    const h = homeWith(expired());
    server.script({ status: 200, body: { access_token: newAccess, refresh_token: "rt_new" } });
    const m = await manager(h);
    const auth = await m.auth();
    expect(auth && bearerToken(auth)).toBe(newAccess);
    expect(JSON.parse(server.requests[0]!.body).refresh_reason).toBe("proactive_expiry");
    await m.auth();
    expect(server.requests).toHaveLength(1);
  });

  it("staleness: exp within the window refreshes; no exp falls back to the 8-day last_refresh rule", async () => {
    const soon = homeWith(fakeChatgptRecord({ exp: now + 120 }));
    server.script({ status: 200, body: { access_token: newAccess } });
    await (await manager(soon)).auth();
    expect(server.requests).toHaveLength(1);

    const opaque = fakeChatgptRecord({ lastRefresh: new Date(Date.now() - 9 * 86400_000).toISOString() });
    (opaque.tokens as Record<string, string>).access_token = "opaque-token";
    await (await manager(homeWith(opaque))).auth();
    expect(server.requests).toHaveLength(2);

    const recent = fakeChatgptRecord({ lastRefresh: new Date(Date.now() - 86400_000).toISOString() });
    (recent.tokens as Record<string, string>).access_token = "opaque-token";
    await (await manager(homeWith(recent))).auth();
    const noLast: Record<string, unknown> = { ...fakeChatgptRecord(), last_refresh: null };
    (noLast.tokens as Record<string, string>).access_token = "opaque-token";
    await (await manager(homeWith(noLast))).auth();
    expect(server.requests).toHaveLength(2);
  });

  it("API keys never refresh", async () => {
    const h = homeWith({ auth_mode: "apikey", OPENAI_API_KEY: "sk-x" });
    const m = await manager(h);
    await m.refreshToken();
    await m.auth();
    expect(server.requests).toHaveLength(0);
  });
});

describe("failure classification (stored tokens untouched every time)", () => {
  const cases: [
    string,
    () => void,
    { permanent: boolean; reason?: string; code: string; message: RegExp },
  ][] = [
    [
      "401 error.code reused",
      () => server.script({ status: 401, body: { error: { code: "refresh_token_reused", message: "x" } } }),
      {
        permanent: true,
        reason: "exhausted",
        code: "ERR_REFRESH_TOKEN_REUSED",
        message: /refresh token was already used\. Please log out and sign in again\.$/,
      },
    ],
    [
      "401 string error expired",
      () => server.script({ status: 401, body: { error: "refresh_token_expired" } }),
      {
        permanent: true,
        reason: "expired",
        code: "ERR_REFRESH_TOKEN_EXPIRED",
        message: /refresh token has expired\. Please log out/,
      },
    ],
    [
      "400 invalidated (known code, any status)",
      () => server.script({ status: 400, body: { error: { code: "REFRESH_TOKEN_INVALIDATED" } } }),
      {
        permanent: true,
        reason: "revoked",
        code: "ERR_REFRESH_TOKEN_REVOKED",
        message: /refresh token was revoked\./,
      },
    ],
    [
      "top-level code",
      () => server.script({ status: 403, body: { code: "refresh_token_expired" } }),
      { permanent: true, reason: "expired", code: "ERR_REFRESH_TOKEN_EXPIRED", message: /expired/ },
    ],
    [
      "401 unknown body",
      () => server.script({ status: 401, raw: "nope" }),
      {
        permanent: true,
        reason: "other",
        code: "ERR_REFRESH_TOKEN_FAILED",
        message: /^Your access token could not be refreshed\. Please log out and sign in again\.$/,
      },
    ],
    [
      "400 other",
      () =>
        server.script({ status: 400, body: { error: "invalid_request", error_description: "bad things" } }),
      {
        permanent: false,
        code: "ERR_REFRESH_TRANSIENT",
        message: /^Failed to refresh token: 400: bad things$/,
      },
    ],
    [
      "500",
      () => server.script({ status: 500, body: { error: { message: "boom" } } }),
      { permanent: false, code: "ERR_REFRESH_TRANSIENT", message: /^Failed to refresh token: 500: boom$/ },
    ],
    [
      "200 non-JSON",
      () => server.script({ status: 200, raw: "<html>" }),
      {
        permanent: false,
        code: "ERR_REFRESH_TRANSIENT",
        message: /^Failed to refresh token: 200: response is not a JSON object$/,
      },
    ],
    [
      "200 wrong-typed field",
      () => server.script({ status: 200, body: { access_token: 5 } }),
      { permanent: false, code: "ERR_REFRESH_TRANSIENT", message: /access_token/ },
    ],
    [
      "200 unusable id_token",
      () => server.script({ status: 200, body: { id_token: "not-a-jwt", access_token: "a" } }),
      { permanent: false, code: "ERR_REFRESH_TRANSIENT", message: /id_token/ },
    ],
    [
      "timeout",
      () => server.script(() => {}),
      { permanent: false, code: "ERR_REFRESH_TRANSIENT", message: /request timed out/ },
    ],
  ];
  it.each(cases)("%s", async (_name, script, want) => {
    const h = homeWith(expired());
    const before = readFileSync(join(h, "auth.json"), "utf8");
    script();
    const m = await manager(h, { refreshTimeoutMs: 300 });
    const err = (await m.refreshToken().catch((e: unknown) => e)) as RefreshTokenError;
    expect(err).toBeInstanceOf(RefreshTokenError);
    expect({ permanent: err.permanent, code: err.code }).toEqual({
      permanent: want.permanent,
      code: want.code,
    });
    if (want.reason) expect(err.reason).toBe(want.reason);
    expect(err.message).toMatch(want.message);
    expect(err.message).not.toContain("rt_old");
    expect(JSON.stringify(err)).not.toContain("rt_old");
    expect(readFileSync(join(h, "auth.json"), "utf8")).toBe(before);
  });

  it("connection refused is transient", async () => {
    const h = homeWith(expired());
    const m = await manager(h, {
      env: { CODEX_REFRESH_TOKEN_URL_OVERRIDE: "http://127.0.0.1:9/oauth/token" },
    });
    const err = (await m.refreshToken().catch((e: unknown) => e)) as RefreshTokenError;
    expect([err.permanent, err.code]).toEqual([false, "ERR_REFRESH_TRANSIENT"]);
    expect(err.message).toMatch(/^Failed to refresh token: network error/);
  });

  it("a permanent failure is remembered for that credential (no second request) until storage changes", async () => {
    const h = homeWith(expired());
    server.script({ status: 401, body: { error: { code: "refresh_token_expired" } } });
    const m = await manager(h);
    await expect(m.refreshToken()).rejects.toThrow(RefreshTokenError);
    await expect(m.refreshToken()).rejects.toThrow(/expired/);
    expect(await m.auth()).toBe(m.authCached());
    expect(server.requests).toHaveLength(1);
    await saveAuth(h, fakeChatgptRecord({ exp: now - 60, refreshToken: "rt_relogged" }) as never);
    await m.reload();
    server.script({ status: 200, body: { access_token: newAccess, refresh_token: "rt_after" } });
    await m.refreshToken();
    expect(server.requests).toHaveLength(2);
    expect(JSON.parse(server.requests[1]!.body).refresh_token).toBe("rt_relogged");
  });

  it("auth() logs a failed refresh without secrets and returns the old snapshot", async () => {
    const h = homeWith(expired());
    server.script({ status: 500, body: { error: { message: "down" } } });
    const logs: string[] = [];
    const m = await manager(h, { log: (l) => logs.push(l) });
    const before = m.authCached();
    expect(await m.auth()).toBe(before);
    expect(logs).toEqual(["Failed to refresh token: 500: down"]);
  });
});

describe("no races inside one process", () => {
  it("100 concurrent auth() calls on stale credentials share one refresh", async () => {
    const h = homeWith(expired());
    server.script(async (_req, res) => {
      await new Promise((r) => setImmediate(r));
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ access_token: newAccess, refresh_token: "rt_new" }));
    });
    const m = await manager(h);
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        i % 3 === 0 ? m.refreshToken().then(() => m.authCached()) : m.auth(),
      ),
    );
    expect(server.requests).toHaveLength(1);
    for (const a of results) expect(a && bearerToken(a)).toBe(newAccess);
  });

  it("adopts tokens another process already saved instead of spending the old refresh token", async () => {
    const h = homeWith(expired());
    const m = await manager(h);
    await saveAuth(h, fakeChatgptRecord({ refreshToken: "rt_by_other_process" }) as never);
    await m.refreshToken();
    expect(server.requests).toHaveLength(0);
    expect(m.authCached()?.record?.tokens?.refresh_token).toBe("rt_by_other_process");
  });

  it("on refresh_token_reused, waits for the winner's write (blocked on our auth.lock) and adopts it", async () => {
    const h = homeWith(expired());
    const winner = fakeChatgptRecord({ refreshToken: "rt_winner" });
    server.script((_req, res) => {
      // The winner's write needs auth.lock, which our refresh holds until it sees the 401.
      void new FileAuthStorage(h).save(winner as never);
      res.statusCode = 401;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ error: { code: "refresh_token_reused" } }));
    });
    const m = await manager(h, { adoptWaitMs: 5_000 });
    await m.refreshToken();
    expect(m.authCached()?.record?.tokens?.refresh_token).toBe("rt_winner");
    expect(JSON.parse(readFileSync(join(h, "auth.json"), "utf8")).tokens.refresh_token).toBe("rt_winner");
  });

  it("refuses to write into a record that now belongs to another account", async () => {
    const h = homeWith(expired());
    const m = await manager(h);
    const other = JSON.stringify(
      fakeChatgptRecord({ accountId: "org_other", refreshToken: "rt_other" }),
      null,
      2,
    );
    writeFileSync(join(h, "auth.json"), other);
    const err = (await m.refreshToken().catch((e: unknown) => e)) as RefreshTokenError;
    expect([err.code, err.permanent]).toEqual(["ERR_ACCOUNT_CHANGED", true]);
    expect(err.message).toBe(
      "Your access token could not be refreshed because you have since logged out or signed in to another account. Please sign in again.",
    );
    expect(readFileSync(join(h, "auth.json"), "utf8")).toBe(other);
    expect(server.requests).toHaveLength(0);
  });
});

describe("UnauthorizedRecovery", () => {
  it("reloads when the stored account matches, then refreshes, then is done", async () => {
    const h = homeWith(fakeChatgptRecord({ refreshToken: "rt_a" }));
    const m = await manager(h);
    await saveAuth(h, fakeChatgptRecord({ refreshToken: "rt_b" }) as never);
    const recovery = m.unauthorizedRecovery();
    expect(recovery.hasNext()).toBe(true);
    await recovery.next();
    expect(m.authCached()?.record?.tokens?.refresh_token).toBe("rt_b");
    expect(server.requests).toHaveLength(0);
    server.script({ status: 200, body: { access_token: newAccess, refresh_token: "rt_c" } });
    await recovery.next();
    expect(JSON.parse(server.requests[0]!.body).refresh_token).toBe("rt_b");
    expect(recovery.hasNext()).toBe(false);
    const err = (await recovery.next().catch((e: unknown) => e)) as RefreshTokenError;
    expect([err.message, err.permanent]).toEqual(["No more recovery steps available.", true]);
  });

  it("no known account id: refreshes at once and is done", async () => {
    const rec = fakeChatgptRecord();
    (rec.tokens as Record<string, unknown>).account_id = null;
    const h = homeWith(rec);
    server.script({ status: 200, body: { access_token: newAccess } });
    const m = await manager(h);
    const recovery = m.unauthorizedRecovery();
    await recovery.next();
    expect(server.requests).toHaveLength(1);
    expect(recovery.hasNext()).toBe(false);
  });

  it("storage now holds another account: permanent account-mismatch error, nothing written", async () => {
    const h = homeWith(fakeChatgptRecord());
    const m = await manager(h);
    await saveAuth(h, fakeChatgptRecord({ accountId: "org_other" }) as never);
    const before = readFileSync(join(h, "auth.json"), "utf8");
    const recovery = m.unauthorizedRecovery();
    const err = (await recovery.next().catch((e: unknown) => e)) as RefreshTokenError;
    expect([err.code, err.permanent]).toEqual(["ERR_ACCOUNT_CHANGED", true]);
    expect(recovery.hasNext()).toBe(false);
    expect(readFileSync(join(h, "auth.json"), "utf8")).toBe(before);
    expect(server.requests).toHaveLength(0);
  });

  it("has no steps for API keys", async () => {
    const m = await manager(homeWith({ auth_mode: "apikey", OPENAI_API_KEY: "sk-x" }));
    expect(m.unauthorizedRecovery().hasNext()).toBe(false);
    await expect(m.unauthorizedRecovery().next()).rejects.toThrow("No more recovery steps available.");
  });
});
