/**
 * Hardening, kind 5: a stored record that cannot be refreshed says so
 * without a network call — library, `token` and `status --json`.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthManager, RefreshTokenError } from "../../src/index.js";
import { makeCodexHome, removeCodexHome } from "../support/env.js";
import { runInProcess } from "../support/fake-io.js";
import { fakeChatgptRecord } from "../support/jwt.js";
import { type ScriptedServer, startScriptedServer } from "../support/scripted-server.js";

let issuer: ScriptedServer;
const homes: string[] = [];
beforeAll(async () => {
  issuer = await startScriptedServer();
});
afterAll(async () => {
  await issuer.close();
  for (const h of homes) removeCodexHome(h);
});

function homeWithEmptyRefreshToken(): string {
  const h = makeCodexHome("no-rt");
  homes.push(h);
  const record = fakeChatgptRecord({ exp: Math.floor(Date.now() / 1000) - 60, refreshToken: "" });
  writeFileSync(join(h, "auth.json"), JSON.stringify(record), { mode: 0o600 });
  return h;
}

describe("missing-refresh-token-is-permanent-and-local", () => {
  it("library: auth() reports a permanent typed failure and sends nothing; refreshToken() throws it", async () => {
    const h = homeWithEmptyRefreshToken();
    const failures: RefreshTokenError[] = [];
    const m = await AuthManager.create({
      codexHome: h,
      env: { CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/token` },
      onRefreshFailed: (e) => failures.push(e),
    });
    const before = issuer.requests.length;
    await m.auth();
    await m.auth();
    const err = await m.refreshToken().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RefreshTokenError);
    expect(err).toMatchObject({ permanent: true, reason: "missing", code: "ERR_REFRESH_TOKEN_FAILED" });
    expect((err as Error).message).toContain("Sign in again with `codex-auth login`");
    expect(failures).toHaveLength(1); // the second auth() does not retry a permanent failure
    expect(failures[0]).toMatchObject({ reason: "missing" });
    expect(issuer.requests.length - before).toBe(0);
  });

  it("CLI: token fails with the reason, status --json says not refreshable and not logged in, no request made", async () => {
    const h = homeWithEmptyRefreshToken();
    const env = { CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/token` };
    const before = issuer.requests.length;
    const token = await runInProcess(["token"], { home: h, env });
    expect(token.code).toBe(1);
    expect(token.stdout).toBe("");
    expect(token.stderr).toMatch(/no refresh token is stored\. Sign in again with `codex-auth login`/);
    const status = await runInProcess(["status", "--json"], { home: h, env });
    expect(status.code).toBe(1);
    expect(JSON.parse(status.stdout)).toMatchObject({ mode: "chatgpt", refreshable: false, loggedIn: false });
    expect(issuer.requests.length - before).toBe(0);
  });
});
