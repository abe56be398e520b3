/**
 * Workspace name and routing (the ChatGPT backend's `accounts/check`), as
 * Codex 0.169's app server reports them in `account/read`: the library's
 * `AuthManager.accountDetails()` (cached for the credentials) and
 * `status --json --workspace` give the same values, from the development
 * issuer's backend; failures use Codex's words.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import { AccountDetailsError } from "../../src/errors.js";
import { AuthManager } from "../../src/manager/auth-manager.js";
import { parseIdToken } from "../../src/record/claims.js";
import { findCodexBinary, makeCodexHome, removeCodexHome } from "../support/env.js";
import { runInProcess } from "../support/fake-io.js";
import { withCodexAppServer } from "../support/run.js";
import { type ScriptedServer, startScriptedServer } from "../support/scripted-server.js";

const codex = findCodexBinary();
let issuer: DevIssuer;
let failing: ScriptedServer;
const homes: string[] = [];
beforeAll(async () => {
  issuer = await startDevIssuer({
    users: [
      { email: "ws@example.com", workspaces: [{ id: "org_ws", name: "Team Space", structure: "workspace" }] },
    ],
  });
  failing = await startScriptedServer();
});
afterAll(async () => {
  await issuer?.close();
  await failing?.close();
  for (const h of homes) removeCodexHome(h);
});

async function home(chatgptBaseUrl: string): Promise<string> {
  const tokens = await issuer.issueTokens();
  const h = makeCodexHome("ws");
  homes.push(h);
  const record = {
    auth_mode: "chatgpt",
    OPENAI_API_KEY: null,
    tokens: {
      id_token: tokens.id_token,
      access_token: tokens.access_token,
      refresh_token: tokens.refresh_token,
      account_id: parseIdToken(tokens.id_token).chatgptAccountId,
    },
    last_refresh: new Date().toISOString(),
  };
  writeFileSync(join(h, "auth.json"), JSON.stringify(record, null, 2), { mode: 0o600 });
  writeFileSync(join(h, "config.toml"), `chatgpt_base_url = "${chatgptBaseUrl}"\n`);
  return h;
}

const env = () => ({
  CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/token`,
  CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/revoke`,
});

async function manager(h: string): Promise<AuthManager> {
  const config = await loadConfig({ env: { CODEX_HOME: h } });
  return AuthManager.create({ codexHome: h, config, env: { ...env(), CODEX_HOME: h } });
}

describe.runIf(codex)("account details as codex 0.169's account/read reports them", () => {
  it("workspace name and routing: library, status --json --workspace and codex agree; cached per credentials", async () => {
    const h = await home(`${issuer.url}/backend-api`);
    const theirs = await withCodexAppServer(codex!, { home: h, env: env() }, (call) =>
      call("account/read", {}),
    );
    const result = theirs.result as {
      account: { workspaceName: string };
      workspaceRouting: Record<string, string>;
      userId: string;
    };
    const m = await manager(h);
    const before = issuer.requests.filter((r) => r.path.endsWith("/accounts/check")).length;
    const details = await m.accountDetails();
    expect(details).toEqual({
      workspaceName: result.account.workspaceName,
      workspaceRouting: result.workspaceRouting,
    });
    expect(details?.workspaceName).toBe("Team Space");
    await m.accountDetails();
    expect(issuer.requests.filter((r) => r.path.endsWith("/accounts/check")).length - before).toBe(1);

    const report = JSON.parse(
      (await runInProcess(["status", "--json", "--workspace"], { home: h, env: env() })).stdout,
    );
    expect(report).toMatchObject({
      workspaceName: result.account.workspaceName,
      workspaceRouting: result.workspaceRouting,
      workspaceError: null,
      userId: result.userId,
    });
  });

  it("a backend that fails: codex's words", async () => {
    failing.script({ status: 500, body: {} });
    const h = await home(`${failing.url}/backend-api`);
    const theirs = await withCodexAppServer(codex!, { home: h, env: env() }, (call) =>
      call("account/read", {}),
    );
    const words = (theirs.error as { message: string }).message;
    const m = await manager(h);
    const error = await m.accountDetails().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AccountDetailsError);
    expect((error as Error).message.startsWith(words)).toBe(true);
    const report = JSON.parse(
      (await runInProcess(["status", "--json", "--workspace"], { home: h, env: env() })).stdout,
    );
    expect(report.workspaceError.startsWith(words)).toBe(true);
    expect(report.loggedIn).toBe(true);
  });

  it("the workspace missing from the answer: codex's words", async () => {
    failing.script({ status: 200, body: { accounts: [{ id: "org_someone_else" }] } });
    const h = await home(`${failing.url}/backend-api`);
    const theirs = await withCodexAppServer(codex!, { home: h, env: env() }, (call) =>
      call("account/read", {}),
    );
    const words = (theirs.error as { message: string }).message;
    const error = await (await manager(h)).accountDetails().catch((e: unknown) => e);
    expect((error as Error).message).toBe(words);
  });
});
