/**
 * The authenticated fetch against the real development issuer and its
 * protected `dev/echo` endpoint (which checks the bearer and answers 401 to
 * revoked access tokens): Codex's headers, refresh before the request, the
 * 401 → recovery → retry loop with every kind of body, permanent failures as
 * RefreshTokenError, and host-supplied tokens refreshed by the host.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { DevIssuer } from "../../src/dev-issuer/index.js";
import {
  AuthManager,
  type AuthRecord,
  type CodexAuthError,
  createAuthenticatedFetch,
  type HostTokensRefreshRequest,
  NotLoggedInError,
  RefreshTokenError,
  RequestBodyNotReplayableError,
  signInWithHostTokens,
} from "../../src/index.js";
import { revokeRequest } from "../dev-issuer/helpers.js";
import { type SeededHome, testResources } from "../login/helpers.js";
import { fakeJwt } from "../support/jwt.js";
import { startScriptedServer } from "../support/scripted-server.js";

const { cleanups, issuerFor, home, closeAll } = testResources();
afterEach(async () => {
  await closeAll();
});

const managerFor = (seeded: SeededHome, extra: Partial<Parameters<typeof AuthManager.create>[0]> = {}) =>
  AuthManager.create({ codexHome: seeded.home, storage: seeded.storage, env: {}, ...extra });

const echoUrl = (issuer: DevIssuer) => `${issuer.url}/backend-api/dev/echo`;

/** The issuer's log, reduced to what the tests compare. */
function traffic(issuer: DevIssuer, from = 0): string[] {
  return issuer.requests
    .slice(from)
    .filter((r) => r.path === "/backend-api/dev/echo" || r.grant_type === "refresh_token")
    .map((r) => `${r.method} ${r.path} ${r.status}${r.grant_type ? ` ${r.outcome}` : ""}`);
}

interface Echo {
  method: string;
  body: string;
  email: string;
  accountId: string;
  credential: string;
  chatgptAccountId: string | null;
}

describe("authenticated fetch: headers", () => {
  it("fetch-sends-codex-headers: Bearer and chatgpt-account-id for ChatGPT, the caller's own authorization replaced, the rest kept", async () => {
    const server = await startScriptedServer();
    cleanups.push(() => server.close());
    server.script({ status: 200, body: {} });
    const seeded = await home("none");
    const access = fakeJwt({ exp: Math.floor(Date.now() / 1000) + 3600 });
    const record: AuthRecord = {
      auth_mode: "chatgpt",
      OPENAI_API_KEY: null,
      tokens: {
        id_token: fakeJwt({ email: "a@example.com" }),
        access_token: access,
        refresh_token: "rt",
        account_id: "org_a",
      },
      last_refresh: new Date().toISOString(),
    };
    await seeded.storage.save(record);
    const manager = await managerFor(seeded);
    const authFetch = createAuthenticatedFetch(manager);
    await authFetch(`${server.url}/x`, { headers: { authorization: "Bearer mine", "x-trace": "t1" } });
    const identified = createAuthenticatedFetch(manager, {
      identify: { originator: "my_editor", userAgent: "ed/1" },
    });
    await identified(new Request(`${server.url}/y`, { headers: { "x-trace": "t2" } }));
    await seeded.storage.save({ auth_mode: "apikey", OPENAI_API_KEY: "sk-key" });
    await manager.reload();
    await authFetch(`${server.url}/z`);
    const [chatgpt, withIdentity, apiKey] = server.requests.map((r) => r.headers);
    expect(chatgpt!.authorization).toBe(`Bearer ${access}`);
    expect(chatgpt!["chatgpt-account-id"]).toBe("org_a");
    expect(chatgpt!["x-trace"]).toBe("t1");
    expect(chatgpt!.originator).toBeUndefined();
    expect(withIdentity!.originator).toBe("my_editor");
    expect(withIdentity!["user-agent"]).toBe("ed/1");
    expect(withIdentity!["x-trace"]).toBe("t2");
    expect(apiKey!.authorization).toBe("Bearer sk-key");
    expect(apiKey!["chatgpt-account-id"]).toBeUndefined();
  });

  it("fetch-not-logged-in: no credentials is NotLoggedInError before anything is sent", async () => {
    const server = await startScriptedServer();
    cleanups.push(() => server.close());
    const seeded = await home("none");
    const authFetch = createAuthenticatedFetch(await managerFor(seeded));
    await expect(authFetch(`${server.url}/x`)).rejects.toBeInstanceOf(NotLoggedInError);
    expect(server.requests).toEqual([]);
  });
});

describe("authenticated fetch: refresh and 401 recovery against the dev issuer", () => {
  it("fetch-refreshes-stale-first: an expired access token is refreshed before the request", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("chatgpt", issuer);
    const stored = (await seeded.storage.load())!;
    await seeded.storage.save({
      ...stored,
      tokens: { ...stored.tokens!, access_token: fakeJwt({ exp: Math.floor(Date.now() / 1000) - 60 }) },
      // as a real record with an expired token is: it arrived over an hour ago
      last_refresh: new Date(Date.now() - 2 * 3_600_000).toISOString(),
    });
    const from = issuer.requests.length;
    const authFetch = createAuthenticatedFetch(await managerFor(seeded));
    const res = await authFetch(echoUrl(issuer));
    expect(res.status).toBe(200);
    expect(traffic(issuer, from)).toEqual(["POST /oauth/token 200 rotated", "GET /backend-api/dev/echo 200"]);
  });

  it("fetch-401-once-then-refreshed: a revoked access token → 401 → refresh → the same request again → 200", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("chatgpt", issuer);
    const manager = await managerFor(seeded);
    const authFetch = createAuthenticatedFetch(manager);
    expect((await authFetch(echoUrl(issuer))).status).toBe(200);
    expect(issuer.revokeAccessTokens()).toBeGreaterThan(0);
    const from = issuer.requests.length;
    const res = await authFetch(echoUrl(issuer), { method: "POST", body: "hello" });
    expect(res.status).toBe(200);
    const echo = (await res.json()) as Echo;
    expect(echo).toMatchObject({
      method: "POST",
      body: "hello",
      email: "dev@example.com",
      chatgptAccountId: "org_dev",
    });
    expect(traffic(issuer, from)).toEqual([
      "POST /backend-api/dev/echo 401",
      "POST /oauth/token 200 rotated",
      "POST /backend-api/dev/echo 200",
    ]);
    // The rotation was saved for every other program.
    expect((await seeded.storage.load())?.tokens?.refresh_token).not.toBe(seeded.previousRefreshToken);
  });

  const BODIES: Array<[string, () => { input?: Request; init: RequestInit }, string]> = [
    ["string", () => ({ init: { body: "text body" } }), "text body"],
    ["Uint8Array", () => ({ init: { body: new TextEncoder().encode("bytes") } }), "bytes"],
    ["Blob", () => ({ init: { body: new Blob(["blob"]) } }), "blob"],
    ["URLSearchParams", () => ({ init: { body: new URLSearchParams({ a: "1", b: "2" }) } }), "a=1&b=2"],
    [
      "ReadableStream (buffered)",
      () => ({
        init: {
          body: new ReadableStream({
            start(c) {
              c.enqueue(new TextEncoder().encode("str"));
              c.enqueue(new TextEncoder().encode("eam"));
              c.close();
            },
          }),
          duplex: "half",
        } as RequestInit,
      }),
      "stream",
    ],
    [
      "Request with a body",
      () => ({
        input: new Request("http://placeholder/", { method: "POST", body: "from a Request" }),
        init: {},
      }),
      "from a Request",
    ],
  ];
  for (const [name, make, expected] of BODIES) {
    it(`fetch-replays-body (${name}): the body is sent again, whole, after the 401`, async () => {
      const issuer = await issuerFor({ autoApprove: true });
      const seeded = await home("chatgpt", issuer);
      const authFetch = createAuthenticatedFetch(await managerFor(seeded));
      issuer.revokeAccessTokens();
      const { input, init } = make();
      const target = input ? new Request(echoUrl(issuer), input) : echoUrl(issuer);
      const res = await authFetch(target, { method: "POST", ...init });
      expect(res.status).toBe(200);
      expect(((await res.json()) as Echo).body).toBe(expected);
      expect(traffic(issuer).filter((t) => t.includes("echo"))).toEqual([
        "POST /backend-api/dev/echo 401",
        "POST /backend-api/dev/echo 200",
      ]);
    });
  }

  it("fetch-stream-not-replayable: a stream over the limit (or any stream with limit 0) is refused before anything is sent", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("chatgpt", issuer);
    const manager = await managerFor(seeded);
    const stream = () =>
      new ReadableStream({
        start(c) {
          c.enqueue(new Uint8Array(32));
          c.close();
        },
      });
    const small = createAuthenticatedFetch(manager, { maxBufferedBodyBytes: 16 });
    const none = createAuthenticatedFetch(manager, { maxBufferedBodyBytes: 0 });
    for (const f of [small, none]) {
      const err = await f(echoUrl(issuer), {
        method: "POST",
        body: stream(),
        duplex: "half",
      } as RequestInit).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RequestBodyNotReplayableError);
      expect((err as CodexAuthError).code).toBe("ERR_REQUEST_BODY_NOT_REPLAYABLE");
    }
    // Strings are never buffered or counted.
    expect((await none(echoUrl(issuer), { method: "POST", body: "x".repeat(64) })).status).toBe(200);
    expect(traffic(issuer).filter((t) => t.includes("echo"))).toEqual(["POST /backend-api/dev/echo 200"]);
  });

  it("fetch-permanent-failure: a logged-out refresh token surfaces as a permanent RefreshTokenError, without secrets", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("chatgpt", issuer);
    const manager = await managerFor(seeded);
    const authFetch = createAuthenticatedFetch(manager);
    // Another machine signs this login out: the grant, its refresh token and its access tokens are revoked.
    expect((await revokeRequest(issuer.url, seeded.previousRefreshToken!)).status).toBe(200);
    const err = await authFetch(echoUrl(issuer)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RefreshTokenError);
    const refreshError = err as RefreshTokenError;
    expect([refreshError.code, refreshError.permanent, refreshError.reason]).toEqual([
      "ERR_REFRESH_TOKEN_REVOKED",
      true,
      "revoked",
    ]);
    const tokens = (await seeded.storage.load())!.tokens!;
    const shown = `${refreshError.message} ${JSON.stringify(refreshError)} ${String(refreshError.stack)}`;
    for (const secret of [tokens.access_token, tokens.refresh_token, tokens.id_token]) {
      expect(shown).not.toContain(secret);
    }
    expect(seeded.now()).toEqual(seeded.before);
  });

  it("fetch-concurrent-401s-one-refresh: eight requests hitting 401 together share one refresh", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("chatgpt", issuer);
    const authFetch = createAuthenticatedFetch(await managerFor(seeded));
    issuer.revokeAccessTokens();
    const from = issuer.requests.length;
    const statuses = await Promise.all(
      Array.from({ length: 8 }, (_, i) => authFetch(`${echoUrl(issuer)}?i=${i}`).then((r) => r.status)),
    );
    expect(statuses).toEqual(Array(8).fill(200));
    expect(traffic(issuer, from).filter((t) => t.includes("oauth"))).toEqual([
      "POST /oauth/token 200 rotated",
    ]);
  });

  it("fetch-adopts-other-process-refresh: a 401 after another process rotated the tokens reloads them, no second refresh", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("chatgpt", issuer);
    const ours = await managerFor(seeded);
    const theirs = await managerFor(seeded);
    issuer.revokeAccessTokens();
    await theirs.refreshToken(); // saved to auth.json; our cache still holds the revoked token
    const from = issuer.requests.length;
    const res = await createAuthenticatedFetch(ours)(echoUrl(issuer));
    expect(res.status).toBe(200);
    expect(traffic(issuer, from)).toEqual(["GET /backend-api/dev/echo 401", "GET /backend-api/dev/echo 200"]);
  });

  it("fetch-api-key-401: an API key the backend refuses is returned as the 401 it is (nothing to recover)", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("apiKey");
    const res = await createAuthenticatedFetch(await managerFor(seeded))(echoUrl(issuer));
    expect(res.status).toBe(401);
    expect(issuer.requests.some((r) => r.path === "/oauth/token")).toBe(false);
  });

  it("fetch-abort: the caller's signal aborts the request as with plain fetch", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("chatgpt", issuer);
    const authFetch = createAuthenticatedFetch(await managerFor(seeded));
    const err = await authFetch(echoUrl(issuer), { signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect((err as Error).name).toBe("AbortError");
  });
});

describe("authenticated fetch: host-supplied tokens (chatgptAuthTokens)", () => {
  async function hostSetup(o: { refresher?: boolean; fail?: boolean } = {}) {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("none");
    const manager = await managerFor(seeded);
    const asked: HostTokensRefreshRequest[] = [];
    const first = await issuer.issueTokens();
    const account = await signInWithHostTokens({
      manager,
      accessToken: first.access_token,
      chatgptAccountId: "org_dev",
      ...(o.refresher === false
        ? {}
        : {
            refreshTokens: async (request: HostTokensRefreshRequest) => {
              asked.push(request);
              if (o.fail) throw new Error("the host's own sign-in expired");
              const next = await issuer.issueTokens();
              return { accessToken: next.access_token, chatgptAccountId: "org_dev", chatgptPlanType: "plus" };
            },
          }),
    });
    return { issuer, seeded, manager, asked, account };
  }

  it("host-tokens-refreshed-by-host: a 401 asks the host (reason unauthorized, previous account), then retries", async () => {
    const { issuer, seeded, manager, asked, account } = await hostSetup();
    expect(account).toMatchObject({
      mode: "chatgptAuthTokens",
      email: "dev@example.com",
      accountId: "org_dev",
    });
    const authFetch = createAuthenticatedFetch(manager);
    expect((await authFetch(echoUrl(issuer))).status).toBe(200);
    issuer.revokeAccessTokens();
    const res = await authFetch(echoUrl(issuer));
    expect(res.status).toBe(200);
    expect(((await res.json()) as Echo).chatgptAccountId).toBe("org_dev");
    expect(asked).toEqual([{ reason: "unauthorized", previousAccountId: "org_dev" }]);
    expect(manager.authCached()?.mode).toBe("chatgptAuthTokens");
    // Never refreshed by us, never written anywhere.
    expect(issuer.requests.some((r) => r.grant_type === "refresh_token")).toBe(false);
    expect(existsSync(join(seeded.home, "auth.json"))).toBe(false);
  });

  it("host-tokens-win-until-logout: reload keeps them over stored credentials; logout drops them", async () => {
    const { seeded, manager } = await hostSetup();
    writeFileSync(
      join(seeded.home, "auth.json"),
      JSON.stringify({ auth_mode: "apikey", OPENAI_API_KEY: "sk-file" }),
    );
    await manager.reload();
    expect(manager.authCached()?.mode).toBe("chatgptAuthTokens");
    const other = await managerFor(seeded); // same CODEX_HOME, same process: sees them too, as in Codex
    expect(other.authCached()?.mode).toBe("chatgptAuthTokens");
    expect(await manager.logout()).toBe(true);
    expect(manager.authCached()).toBeUndefined();
  });

  it("host-tokens-no-refresher: without a refresher a 401 is final", async () => {
    const { issuer, manager } = await hostSetup({ refresher: false });
    issuer.revokeAccessTokens();
    expect((await createAuthenticatedFetch(manager)(echoUrl(issuer))).status).toBe(401);
  });

  it("host-tokens-refresher-fails: the host's failure is a transient RefreshTokenError", async () => {
    const { issuer, manager, asked } = await hostSetup({ fail: true });
    issuer.revokeAccessTokens();
    const err = await createAuthenticatedFetch(manager)(echoUrl(issuer)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RefreshTokenError);
    expect([(err as RefreshTokenError).code, (err as RefreshTokenError).permanent]).toEqual([
      "ERR_REFRESH_TRANSIENT",
      false,
    ]);
    expect(asked).toHaveLength(1);
  });

  it("host-tokens-validated: a token that is not a JWT, or a workspace config forbids, is refused", async () => {
    const seeded = await home("none");
    const manager = await managerFor(seeded);
    await expect(
      signInWithHostTokens({ manager, accessToken: "not-a-jwt", chatgptAccountId: "org_x" }),
    ).rejects.toMatchObject({ code: "ERR_JWT_MALFORMED" });
    await expect(
      signInWithHostTokens({
        manager,
        accessToken: fakeJwt({ exp: 1 }),
        chatgptAccountId: "org_x",
        config: { forcedLoginMethod: undefined, forcedChatgptWorkspaceIds: ["org_y"] },
      }),
    ).rejects.toMatchObject({ code: "ERR_LOGIN_RESTRICTED" });
    expect(manager.authCached()).toBeUndefined();
  });
});
