/**
 * Our own commands: status --json, token, help and usage errors; no secret
 * ever printed where it should not be. In-process against a fake terminal;
 * byte compatibility with codex is tested on the spawned bundle in
 * codex-compat.test.ts.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCommandLine } from "../../src/cli/args.js";
import { maskApiKey } from "../../src/cli/io.js";
import { makeCodexHome, removeCodexHome } from "../support/env.js";
import { runInProcess } from "../support/fake-io.js";
import { fakeChatgptRecord } from "../support/jwt.js";
import { type ScriptedServer, startScriptedServer } from "../support/scripted-server.js";

const homes: string[] = [];
afterAll(() => {
  for (const h of homes) removeCodexHome(h);
});
function home(files: Record<string, string> = {}): string {
  const h = makeCodexHome("cmd");
  homes.push(h);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(h, name), content, { mode: 0o600 });
  return h;
}

const record = fakeChatgptRecord({
  email: "dev@example.com",
  plan: "team",
  accountId: "org_team",
  refreshToken: "rt_secret_planted_123",
});
const tokens = record.tokens as Record<string, string>;
const SECRETS = [
  "rt_secret_planted_123",
  tokens.access_token!,
  tokens.id_token!,
  "sk-planted-secret-ABCDEFGHIJKLMNOP",
];

function expectNoSecrets(text: string, allowed: string[] = []) {
  for (const s of SECRETS)
    if (!allowed.includes(s)) expect(text.includes(s), "a planted secret leaked").toBe(false);
}

describe("status --json", () => {
  it("reports ChatGPT credentials for scripts without any secret", async () => {
    const h = home({ "auth.json": JSON.stringify(record, null, 2) });
    const r = await runInProcess(["status", "--json"], { home: h });
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({
      loggedIn: true,
      mode: "chatgpt",
      email: "dev@example.com",
      plan: "team",
      accountId: "org_team",
      storage: "file",
      storageLocation: join(h, "auth.json"),
      lastRefresh: record.last_refresh,
      restriction: null,
      error: null,
    });
    expect(Date.parse(report.accessTokenExpiresAt)).toBeGreaterThan(Date.now());
    expectNoSecrets(r.stdout + r.stderr);
  });

  it("reports API-key mode without the key", async () => {
    const h = home({ "auth.json": JSON.stringify({ auth_mode: "apikey", OPENAI_API_KEY: SECRETS[3] }) });
    const r = await runInProcess(["status", "--json"], { home: h });
    expect(JSON.parse(r.stdout)).toMatchObject({ loggedIn: true, mode: "apikey", plan: null, email: null });
    expectNoSecrets(r.stdout + r.stderr);
  });

  it("not logged in → exit 1 with loggedIn false", async () => {
    const r = await runInProcess(["status", "--json"], { home: home() });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ loggedIn: false, mode: null, error: null });
  });

  it("a restriction is reported as not logged in with the reason", async () => {
    const h = home({
      "auth.json": JSON.stringify(record),
      "config.toml": 'forced_chatgpt_workspace_id = "org_other"\n',
    });
    const r = await runInProcess(["status", "--json"], { home: h });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({
      loggedIn: false,
      restriction:
        "Login is restricted to workspace(s) org_other, but current credentials belong to org_team.",
    });
    expect(readFileSync(join(h, "auth.json"), "utf8")).toBe(JSON.stringify(record));
  });

  it("a malformed file is a typed error in JSON, and the file is untouched", async () => {
    const bad = '{"OPENAI_API_KEY":"sk-planted-secret-ABCDEFGHIJKLMNOP","tokens":"x"}';
    const h = home({ "auth.json": bad });
    const r = await runInProcess(["status", "--json"], { home: h });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: "ERR_AUTH_FILE_MALFORMED" });
    expectNoSecrets(r.stdout + r.stderr);
    expect(readFileSync(join(h, "auth.json"), "utf8")).toBe(bad);
  });

  it("a config error is reported in JSON", async () => {
    const r = await runInProcess(["status", "--json"], {
      home: home({ "config.toml": "forced_login_method = 3\n" }),
    });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.message).toContain("config.toml:1:23");
  });
});

describe("token", () => {
  it("prints the access token (and only it) on stdout", async () => {
    const h = home({ "auth.json": JSON.stringify(record) });
    const r = await runInProcess(["token"], { home: h });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${tokens.access_token}\n`);
    const j = await runInProcess(["token", "--json"], { home: h });
    expect(JSON.parse(j.stdout)).toMatchObject({ mode: "chatgpt", token: tokens.access_token });
    expectNoSecrets(r.stderr + j.stderr);
  });

  it("prints the API key; CODEX_API_KEY wins", async () => {
    const h = home({ "auth.json": JSON.stringify({ auth_mode: "apikey", OPENAI_API_KEY: "sk-stored" }) });
    expect((await runInProcess(["token"], { home: h })).stdout).toBe("sk-stored\n");
    expect((await runInProcess(["token"], { home: h, env: { CODEX_API_KEY: "sk-env" } })).stdout).toBe(
      "sk-env\n",
    );
  });

  it("enforces restrictions first: logs out and fails", async () => {
    const h = home({ "auth.json": JSON.stringify(record), "config.toml": 'forced_login_method = "api"\n' });
    const r = await runInProcess(["token"], { home: h });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(
      "API key login is required, but ChatGPT is currently being used. Logging out.",
    );
    expectNoSecrets(r.stderr);
  });

  it("not logged in → exit 1, nothing on stdout", async () => {
    const r = await runInProcess(["token"], { home: home() });
    expect([r.code, r.stdout, r.stderr]).toEqual([1, "", "Not logged in\n"]);
  });
});

describe("secrets never leak through any command's output", () => {
  it("status, login status, logout, status --json on a ChatGPT home with planted secrets", async () => {
    const h = home({ "auth.json": JSON.stringify(record) });
    for (const args of [
      ["login", "status"],
      ["status"],
      ["status", "--json"],
      ["logout"],
      ["login", "status"],
    ]) {
      const r = await runInProcess(args, { home: h });
      expectNoSecrets(r.stdout + r.stderr);
    }
  });

  it("login --with-api-key never echoes the key", async () => {
    const h = home();
    const r = await runInProcess(["login", "--with-api-key"], { home: h, input: SECRETS[3] });
    expect(r.code).toBe(0);
    expectNoSecrets(r.stdout + r.stderr);
    expectNoSecrets((await runInProcess(["login", "status"], { home: h })).stderr);
  });
});

describe("command line", () => {
  it("help goes to stdout with exit 0", async () => {
    for (const args of [
      ["--help"],
      ["login", "--help"],
      ["login", "status", "--help"],
      ["logout", "--help"],
      ["help"],
    ]) {
      const r = await runInProcess(args, { home: home() });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("Usage: codex-auth");
    }
  });

  it("unknown commands and flags are usage errors (exit 2)", async () => {
    expect((await runInProcess(["frobnicate"], { home: home() })).code).toBe(2);
    expect((await runInProcess(["login", "status", "--bogus"], { home: home() })).code).toBe(2);
  });

  it("parses -c anywhere after the command, repeated", async () => {
    expect(parseCommandLine(["login", "status", "-c", "a=1", "--config", "b=2"])).toEqual({
      kind: "login-status",
      overrides: ["a=1", "b=2"],
    });
    expect(parseCommandLine(["-c", "a=1", "login", "--config=b=2", "status", "-cc=3"])).toEqual({
      kind: "login-status",
      overrides: ["a=1", "b=2", "c=3"],
    });
    expect(parseCommandLine(["login", "--experimental_issuer", "http://127.0.0.1:1"])).toMatchObject({
      kind: "login",
      issuer: undefined,
      experimentalIssuer: "http://127.0.0.1:1",
    });
  });

  it("masks keys like codex", async () => {
    expect(maskApiKey("sk-1234567890")).toBe("***");
    expect(maskApiKey("sk-12345678901")).toBe("sk-12345***78901");
    expect(maskApiKey("sk-test-1234567890ABCDEFGH")).toBe("sk-test-***DEFGH");
  });
});

describe("one table from error to message and exit code", () => {
  it("config-error-is-reported-by-every-command-in-codex-words", async () => {
    const h = home({ "config.toml": "forced_login_method = 3\n" });
    for (const args of [["login", "status"], ["logout"], ["token"], ["login", "--with-api-key"]]) {
      const r = await runInProcess(args, { home: h, input: "sk-some-key-1234567890" });
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stderr).toMatch(/Error loading configuration: .*config\.toml:1:23/);
      expect(r.stdout).toBe("");
    }
  });

  it("storage-errors-carry-each-command's-prefix-and-leave-the-file-alone", async () => {
    const bad = '{"OPENAI_API_KEY": 12}';
    const h = home({ "auth.json": bad });
    const status = await runInProcess(["login", "status"], { home: h });
    expect([status.code, status.stderr]).toEqual([
      1,
      expect.stringMatching(/^Error checking login status: /),
    ]);
    const out = await runInProcess(["logout"], { home: h });
    expect([out.code, out.stderr]).toEqual([1, expect.stringMatching(/^Error logging out: .*auth\.json/)]);
    const key = await runInProcess(["login", "--with-api-key"], { home: h, input: "sk-new-1234567890" });
    expect([key.code, key.stderr]).toEqual([1, expect.stringMatching(/Error logging in: .*auth\.json/)]);
    expect(readFileSync(join(h, "auth.json"), "utf8")).toBe(bad);
  });

  it("refusals are printed as they are, exit 1", async () => {
    const h = home();
    expect(await runInProcess(["login", "--with-api-key"], { home: h, input: "  \n" })).toMatchObject({
      code: 1,
      stderr: "Reading API key from stdin...\nNo API key provided via stdin.\n",
    });
    expect(await runInProcess(["login", "--api-key", "sk-x"], { home: h })).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^The --api-key flag is no longer supported/),
    });
  });

  it("expired-token-that-cannot-be-refreshed-is-an-error-not-a-token", async () => {
    const expired = fakeChatgptRecord({ exp: Math.floor(Date.now() / 1000) - 60 });
    const h = home({ "auth.json": JSON.stringify(expired) });
    // childEnv points the refresh endpoint at 127.0.0.1:9, where nothing listens
    const r = await runInProcess(["token"], { home: h });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(
      /^Error: the access token has expired and could not be refreshed\. Failed to refresh token: /,
    );
  });

  it("a refresh failure of a still-valid token is a warning, and the token is printed", async () => {
    const soon = fakeChatgptRecord({ exp: Math.floor(Date.now() / 1000) + 60 });
    const h = home({ "auth.json": JSON.stringify(soon) });
    const r = await runInProcess(["token"], { home: h });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${(soon.tokens as Record<string, string>).access_token}\n`);
    expect(r.stderr).toMatch(/^Warning: Failed to refresh token: /);
  });
});

describe("credentials from the environment (issue: hardening, kind 2)", () => {
  let issuer: ScriptedServer;
  beforeAll(async () => {
    issuer = await startScriptedServer();
  });
  afterAll(() => issuer.close());

  it("env-key-never-destroys-stored-login: token refuses CODEX_API_KEY that breaks forced_login_method, revokes and deletes nothing", async () => {
    const text = JSON.stringify(record, null, 2);
    const h = home({ "auth.json": text, "config.toml": 'forced_login_method = "chatgpt"\n' });
    const before = issuer.requests.length;
    const env = {
      CODEX_API_KEY: "sk-proj-stray-env-key-1234567890",
      CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/revoke`,
      CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/token`,
    };
    const r = await runInProcess(["token"], { home: h, env });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^Error: CODEX_API_KEY is set in the environment, .* Unset CODEX_API_KEY /);
    expect(readFileSync(join(h, "auth.json"), "utf8")).toBe(text);
    expect(issuer.requests.length - before).toBe(0);
    const status = await runInProcess(["status", "--json"], { home: h, env });
    expect(JSON.parse(status.stdout)).toMatchObject({
      loggedIn: false,
      mode: "apikey",
      source: "env:CODEX_API_KEY",
      restriction: expect.stringContaining("Unset CODEX_API_KEY"),
    });
    expect(readFileSync(join(h, "auth.json"), "utf8")).toBe(text);
  });

  it("status-reports-the-credential-token-uses, with its source", async () => {
    const env = { CODEX_API_KEY: "sk-proj-ENV-1234567890" };
    for (const files of [{}, { "auth.json": JSON.stringify(record) }] as Record<string, string>[]) {
      const h = home(files);
      const token = await runInProcess(["token", "--json"], { home: h, env });
      const status = await runInProcess(["status", "--json"], { home: h, env });
      expect([token.code, status.code]).toEqual([0, 0]);
      expect(JSON.parse(token.stdout)).toMatchObject({ mode: "apikey", token: env.CODEX_API_KEY });
      expect(JSON.parse(status.stdout)).toMatchObject({
        loggedIn: true,
        mode: "apikey",
        source: "env:CODEX_API_KEY",
        email: null,
      });
      expect(status.stdout).not.toContain(env.CODEX_API_KEY);
    }
    const stored = await runInProcess(["status", "--json"], {
      home: home({ "auth.json": JSON.stringify(record) }),
    });
    expect(JSON.parse(stored.stdout)).toMatchObject({ mode: "chatgpt", source: "storage" });
  });

  it("login --with-api-key warns when CODEX_API_KEY will still win", async () => {
    const h = home();
    const r = await runInProcess(["login", "--with-api-key"], {
      home: h,
      input: "sk-saved-key-1234567890",
      env: { CODEX_API_KEY: "sk-env-key-1234567890" },
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("Warning: CODEX_API_KEY is set in the environment and takes precedence");
    const quiet = await runInProcess(["login", "--with-api-key"], {
      home: h,
      input: "sk-saved-key-1234567890",
    });
    expect(quiet.stderr).not.toContain("Warning");
  });
});
