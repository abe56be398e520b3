/**
 * Hardening, kind 6, beyond the device flow: a refresh that got no definite
 * answer is tried once more (a permanent failure never is), and a revoke is
 * tried again after a refused connection, 429 or 5xx. Injected sleep: no
 * real waiting.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthManager, bearerToken, logout, type RefreshTokenError } from "../../src/index.js";
import { makeCodexHome, removeCodexHome } from "../support/env.js";
import { fakeChatgptRecord, fakeJwt } from "../support/jwt.js";
import { type ScriptedServer, startScriptedServer } from "../support/scripted-server.js";

let server: ScriptedServer;
const homes: string[] = [];
beforeAll(async () => {
  server = await startScriptedServer();
});
afterAll(async () => {
  await server.close();
  for (const h of homes) removeCodexHome(h);
});

function staleHome(): string {
  const h = makeCodexHome("faults");
  homes.push(h);
  const record = fakeChatgptRecord({ exp: Math.floor(Date.now() / 1000) - 60, refreshToken: "rt_live" });
  writeFileSync(join(h, "auth.json"), JSON.stringify(record), { mode: 0o600 });
  return h;
}
const fresh = {
  access_token: fakeJwt({ exp: Math.floor(Date.now() / 1000) + 3600 }),
  refresh_token: "rt_next",
};
const env = () => ({
  CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${server.url}/oauth/token`,
  CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${server.url}/oauth/revoke`,
});

describe("refresh-retries-once-after-a-fault-without-answer", () => {
  for (const [what, first, requests, refreshed] of [
    ["503 then 200", { status: 503, raw: "busy" }, 2, true],
    ["429 then 200", { status: 429, body: {} }, 2, true],
    ["400 (a definite answer)", { status: 400, body: { error: "invalid_request" } }, 1, false],
    ["401 (permanent)", { status: 401, body: { error: { code: "refresh_token_expired" } } }, 1, false],
  ] as const) {
    it(`${what}: ${requests} request(s)`, async () => {
      server.script(first, { status: 200, body: fresh });
      const before = server.requests.length;
      const sleeps: number[] = [];
      const failures: RefreshTokenError[] = [];
      const m = await AuthManager.create({
        codexHome: staleHome(),
        env: env(),
        sleep: async (ms) => {
          sleeps.push(ms);
        },
        onRefreshFailed: (e) => failures.push(e),
      });
      const auth = await m.auth();
      expect(server.requests.length - before).toBe(requests);
      expect(auth && bearerToken(auth) === fresh.access_token).toBe(refreshed);
      expect(failures).toHaveLength(refreshed ? 0 : 1);
      expect(sleeps).toEqual(requests === 2 ? [1_000] : []);
    });
  }
});

describe("revoke-retries-after-a-fault-without-answer", () => {
  it("503, 503, then 200: revoked on the third try, no warning", async () => {
    server.script({ status: 503, raw: "busy" }, { status: 503, raw: "busy" }, { status: 200, body: {} });
    const before = server.requests.length;
    let warned = false;
    const removed = await logout(staleHome(), "file", {
      env: env(),
      sleep: async () => {},
      onRevokeFailed: () => {
        warned = true;
      },
    });
    expect(removed).toBe(true);
    expect(server.requests.slice(before).map((r) => r.path)).toEqual([
      "/oauth/revoke",
      "/oauth/revoke",
      "/oauth/revoke",
    ]);
    expect(warned).toBe(false);
  });

  it("400: a definite refusal is not retried, and reported", async () => {
    server.script({ status: 400, body: { error: "invalid_request" } });
    const before = server.requests.length;
    let warned = false;
    await logout(staleHome(), "file", {
      env: env(),
      sleep: async () => {},
      onRevokeFailed: () => {
        warned = true;
      },
    });
    expect(server.requests.length - before).toBe(1);
    expect(warned).toBe(true);
  });
});
