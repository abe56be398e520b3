/**
 * Personal access tokens end to end against the real codex 0.169, with the
 * development issuer answering `whoami` as OpenAI does:
 * - `login --with-access-token`: same refusals, words, exit codes and bytes
 *   written;
 * - each program reads, uses and removes what the other wrote;
 * - the `whoami` request carries the headers Codex sends.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import { loadAuth } from "../../src/manager/operations.js";
import { bearerToken } from "../../src/record/codex-auth.js";
import { FileAuthStorage } from "../../src/storage/index.js";
import { type LoggingProxy, startLoggingProxy } from "../oauth/logging-proxy.js";
import { findCodexBinary, makeCodexHome, removeCodexHome } from "../support/env.js";
import { fakeIo, runInProcess } from "../support/fake-io.js";
import { type RunResult, runCodexAsync, runOursAsync } from "../support/run.js";

const codex = findCodexBinary();
let issuer: DevIssuer;
let pat: string;
let patOther: string;
let revoked: string;
const homes: string[] = [];

beforeAll(async () => {
  issuer = await startDevIssuer({
    users: [
      {
        email: "pat@example.com",
        plan: "business",
        workspaces: [{ id: "org_dev" }, { id: "org_other" }],
      },
    ],
  });
  pat = issuer.issuePersonalAccessToken();
  patOther = issuer.issuePersonalAccessToken({ workspaceId: "org_other" });
  revoked = issuer.issuePersonalAccessToken();
  issuer.revokePersonalAccessToken(revoked);
});
afterAll(async () => {
  await issuer?.close();
  for (const h of homes) removeCodexHome(h);
});

function home(files: Record<string, string> = {}): string {
  const h = makeCodexHome("pat");
  homes.push(h);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(h, name), content, { mode: 0o600 });
  return h;
}

const env = () => ({ CODEX_AUTHAPI_BASE_URL: `${issuer.url}/api/accounts` });

/** Run codex in one home and codex-auth in an identical one. */
async function both(
  files: Record<string, string>,
  args: string[],
  input: string,
  extraEnv: Record<string, string> = {},
): Promise<{ theirs: RunResult; ours: RunResult; homes: [string, string] }> {
  const a = home(files);
  const b = home(files);
  const e = { ...env(), ...extraEnv };
  const [theirs, ours] = await Promise.all([
    runCodexAsync(codex!, args, { home: a, input, env: e }),
    runOursAsync(args, { home: b, input, env: e }),
  ]);
  return { theirs, ours, homes: [a, b] };
}

describe.runIf(codex)("login --with-access-token matches codex 0.169", () => {
  const cases: Array<[string, Record<string, string>, () => string]> = [
    ["a valid personal access token", {}, () => `${pat}\n`],
    ["surrounding whitespace is trimmed", {}, () => `  ${pat}\n\n`],
    ["a revoked token (whoami 401): nothing saved", {}, () => revoked],
    ["empty stdin", {}, () => ""],
    ["forced api refuses", { "config.toml": 'forced_login_method = "api"\n' }, () => pat],
    ["forced chatgpt allows", { "config.toml": 'forced_login_method = "chatgpt"\n' }, () => pat],
    ["another workspace forced", { "config.toml": 'forced_chatgpt_workspace_id = "org_other"\n' }, () => pat],
    [
      "its workspace forced",
      { "config.toml": 'forced_chatgpt_workspace_id = "org_other"\n' },
      () => patOther,
    ],
    [
      "replaces a stored API key",
      {
        "auth.json": JSON.stringify(
          { auth_mode: "apikey", OPENAI_API_KEY: "sk-old-1234567890ABCDEFGH" },
          null,
          2,
        ),
      },
      () => pat,
    ],
  ];
  it.each(cases)("%s", async (_name, files, input) => {
    const r = await both(files, ["login", "--with-access-token"], input());
    expect(r.ours.code).toBe(r.theirs.code);
    expect(r.ours.stdout).toBe(r.theirs.stdout);
    expect(r.ours.stderr).toBe(r.theirs.stderr);
    const [a, b] = r.homes;
    expect(existsSync(join(b, "auth.json"))).toBe(existsSync(join(a, "auth.json")));
    if (existsSync(join(a, "auth.json"))) {
      expect(readFileSync(join(b, "auth.json"), "utf8")).toBe(readFileSync(join(a, "auth.json"), "utf8"));
    }
    for (const token of [pat, patOther, revoked]) expect(r.ours.stderr).not.toContain(token);
  });

  it("a TTY on stdin is refused before anything is read", async () => {
    const h = home();
    const terminal = fakeIo("", { stdinIsTty: true });
    const code = await main(["login", "--with-access-token"], { io: terminal.io, env: { CODEX_HOME: h } });
    expect(code).toBe(1);
    expect(terminal.stderr).toBe(
      "--with-access-token expects the access token on stdin. Try piping it, e.g. `printenv CODEX_ACCESS_TOKEN | codex-auth login --with-access-token`.\n",
    );
  });

  it("both credential flags are refused", async () => {
    const r = await both({}, ["login", "--with-api-key", "--with-access-token"], pat);
    expect([r.ours.code, r.ours.stderr]).toEqual([r.theirs.code, r.theirs.stderr]);
  });
});

describe.runIf(codex)("each program reads, uses and removes the other's personal access token", () => {
  it("codex login → our status, status --json, library, token → our logout → codex status", async () => {
    const h = home();
    const login = await runCodexAsync(codex!, ["login", "--with-access-token"], {
      home: h,
      input: pat,
      env: env(),
    });
    expect(login.code).toBe(0);
    const status = await runOursAsync(["login", "status"], { home: h, env: env() });
    expect([status.code, status.stderr]).toEqual([0, "Logged in using personal access token\n"]);
    const json = JSON.parse((await runInProcess(["status", "--json"], { home: h, env: env() })).stdout);
    expect(json).toMatchObject({
      loggedIn: true,
      mode: "personalAccessToken",
      source: "storage",
      email: "pat@example.com",
      plan: "business",
      accountId: "org_dev",
    });
    expect(JSON.stringify(json)).not.toContain(pat);
    const auth = await loadAuth(new FileAuthStorage(h), { env: env(), checkAccessTokens: true });
    expect(auth?.mode === "personalAccessToken" && auth.metadata?.chatgptAccountId).toBe("org_dev");
    expect(auth && bearerToken(auth)).toBe(pat);
    const token = await runInProcess(["token"], { home: h, env: env() });
    expect([token.code, token.stdout]).toEqual([0, `${pat}\n`]);
    const logout = await runOursAsync(["logout"], { home: h, env: env() });
    expect([logout.code, logout.stderr]).toEqual([0, "Successfully logged out\n"]);
    const after = await runCodexAsync(codex!, ["login", "status"], { home: h, env: env() });
    expect(after.stderr).toBe("Not logged in\n");
  });

  it("our login → codex status → codex logout → our status", async () => {
    const h = home();
    const login = await runOursAsync(["login", "--with-access-token"], { home: h, input: pat, env: env() });
    expect([login.code, login.stderr]).toEqual([
      0,
      "Reading access token from stdin...\nSuccessfully logged in\n",
    ]);
    const status = await runCodexAsync(codex!, ["login", "status"], { home: h, env: env() });
    expect([status.code, status.stderr]).toEqual([0, "Logged in using personal access token\n"]);
    const logout = await runCodexAsync(codex!, ["logout"], { home: h, env: env() });
    expect(logout.stderr).toBe("Successfully logged out\n");
    const after = await runOursAsync(["login", "status"], { home: h, env: env() });
    expect([after.code, after.stderr]).toEqual([1, "Not logged in\n"]);
  });

  it("CODEX_ACCESS_TOKEN: token prints it, over a stored API key; CODEX_API_KEY still wins for token", async () => {
    const h = home({
      "auth.json": JSON.stringify({ auth_mode: "apikey", OPENAI_API_KEY: "sk-stored-1234567890ABC" }),
    });
    const withPat = { ...env(), CODEX_ACCESS_TOKEN: pat };
    expect((await runInProcess(["token"], { home: h, env: withPat })).stdout).toBe(`${pat}\n`);
    const both = { ...withPat, CODEX_API_KEY: "sk-env-1234567890ABCDEF" };
    expect((await runInProcess(["token"], { home: h, env: both })).stdout).toBe("sk-env-1234567890ABCDEF\n");
    const revokedEnv = { ...env(), CODEX_ACCESS_TOKEN: revoked };
    const refused = await runInProcess(["token"], { home: h, env: revokedEnv });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      "personal access token metadata request failed with status 401 Unauthorized",
    );
    expect(refused.stdout).toBe("");
  });
});

describe.runIf(codex)("whoami carries the headers Codex sends", () => {
  let proxy: LoggingProxy;
  beforeAll(async () => {
    proxy = await startLoggingProxy({ upstream: issuer.url });
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it("authorization, originator, user-agent, accept (besides host)", async () => {
    const h = home({ "auth.json": JSON.stringify({ OPENAI_API_KEY: null, personal_access_token: pat }) });
    const viaProxy = { CODEX_AUTHAPI_BASE_URL: `${proxy.url}/api/accounts` };
    const names = () =>
      Object.keys(proxy.log.at(-1)!.headers)
        .filter((k) => !["host", "connection", "content-length"].includes(k))
        .sort();
    proxy.log.length = 0;
    expect((await runCodexAsync(codex!, ["login", "status"], { home: h, env: viaProxy })).code).toBe(0);
    const theirs = names();
    const theirAuth = proxy.log.at(-1)!.headers.authorization;
    proxy.log.length = 0;
    expect((await runOursAsync(["login", "status"], { home: h, env: viaProxy })).code).toBe(0);
    expect(names()).toEqual(theirs);
    expect(theirs).toEqual(["accept", "authorization", "originator", "user-agent"]);
    expect(proxy.log.at(-1)!.headers.authorization).toBe(theirAuth);
    expect(proxy.log.at(-1)!.headers.originator).toBe("codex_cli_rs");
  });
});
