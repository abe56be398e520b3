/** Our own commands: status --json, token, help and usage errors; no secret ever printed where it should not be. */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseCommandLine } from "../../src/cli/args.js";
import { maskApiKey } from "../../src/cli/io.js";
import { makeCodexHome, removeCodexHome } from "../support/env.js";
import { fakeChatgptRecord } from "../support/jwt.js";
import { runOurs } from "../support/run.js";

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
  it("reports ChatGPT credentials for scripts without any secret", () => {
    const h = home({ "auth.json": JSON.stringify(record, null, 2) });
    const r = runOurs(["status", "--json"], { home: h });
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

  it("reports API-key mode without the key", () => {
    const h = home({ "auth.json": JSON.stringify({ auth_mode: "apikey", OPENAI_API_KEY: SECRETS[3] }) });
    const r = runOurs(["status", "--json"], { home: h });
    expect(JSON.parse(r.stdout)).toMatchObject({ loggedIn: true, mode: "apikey", plan: null, email: null });
    expectNoSecrets(r.stdout + r.stderr);
  });

  it("not logged in → exit 1 with loggedIn false", () => {
    const r = runOurs(["status", "--json"], { home: home() });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ loggedIn: false, mode: null, error: null });
  });

  it("a restriction is reported as not logged in with the reason", () => {
    const h = home({
      "auth.json": JSON.stringify(record),
      "config.toml": 'forced_chatgpt_workspace_id = "org_other"\n',
    });
    const r = runOurs(["status", "--json"], { home: h });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({
      loggedIn: false,
      restriction: "Login is restricted to workspace org_other, but current credentials belong to org_team.",
    });
    expect(readFileSync(join(h, "auth.json"), "utf8")).toBe(JSON.stringify(record));
  });

  it("a malformed file is a typed error in JSON, and the file is untouched", () => {
    const bad = '{"OPENAI_API_KEY":"sk-planted-secret-ABCDEFGHIJKLMNOP","tokens":"x"}';
    const h = home({ "auth.json": bad });
    const r = runOurs(["status", "--json"], { home: h });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: "ERR_AUTH_FILE_MALFORMED" });
    expectNoSecrets(r.stdout + r.stderr);
    expect(readFileSync(join(h, "auth.json"), "utf8")).toBe(bad);
  });

  it("a config error is reported in JSON", () => {
    const r = runOurs(["status", "--json"], { home: home({ "config.toml": "forced_login_method = 3\n" }) });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.message).toContain("config.toml:1:23");
  });
});

describe("token", () => {
  it("prints the access token (and only it) on stdout", () => {
    const h = home({ "auth.json": JSON.stringify(record) });
    const r = runOurs(["token"], { home: h });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${tokens.access_token}\n`);
    const j = runOurs(["token", "--json"], { home: h });
    expect(JSON.parse(j.stdout)).toMatchObject({ mode: "chatgpt", token: tokens.access_token });
    expectNoSecrets(r.stderr + j.stderr);
  });

  it("prints the API key; CODEX_API_KEY wins", () => {
    const h = home({ "auth.json": JSON.stringify({ auth_mode: "apikey", OPENAI_API_KEY: "sk-stored" }) });
    expect(runOurs(["token"], { home: h }).stdout).toBe("sk-stored\n");
    expect(runOurs(["token"], { home: h, env: { CODEX_API_KEY: "sk-env" } }).stdout).toBe("sk-env\n");
  });

  it("enforces restrictions first: logs out and fails", () => {
    const h = home({ "auth.json": JSON.stringify(record), "config.toml": 'forced_login_method = "api"\n' });
    const r = runOurs(["token"], { home: h });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(
      "API key login is required, but ChatGPT is currently being used. Logging out.",
    );
    expectNoSecrets(r.stderr);
  });

  it("not logged in → exit 1, nothing on stdout", () => {
    const r = runOurs(["token"], { home: home() });
    expect([r.code, r.stdout, r.stderr]).toEqual([1, "", "Not logged in\n"]);
  });
});

describe("secrets never leak through any command's output", () => {
  it("status, login status, logout, status --json on a ChatGPT home with planted secrets", () => {
    const h = home({ "auth.json": JSON.stringify(record) });
    for (const args of [
      ["login", "status"],
      ["status"],
      ["status", "--json"],
      ["logout"],
      ["login", "status"],
    ]) {
      const r = runOurs(args, { home: h });
      expectNoSecrets(r.stdout + r.stderr);
    }
  });

  it("login --with-api-key never echoes the key", () => {
    const h = home();
    const r = runOurs(["login", "--with-api-key"], { home: h, input: SECRETS[3] });
    expect(r.code).toBe(0);
    expectNoSecrets(r.stdout + r.stderr);
    expectNoSecrets(runOurs(["login", "status"], { home: h }).stderr);
  });
});

describe("command line", () => {
  it("help goes to stdout with exit 0", () => {
    for (const args of [
      ["--help"],
      ["login", "--help"],
      ["login", "status", "--help"],
      ["logout", "--help"],
      ["help"],
    ]) {
      const r = runOurs(args, { home: home() });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("Usage: codex-auth");
    }
  });

  it("unknown commands and flags are usage errors (exit 2)", () => {
    expect(runOurs(["frobnicate"], { home: home() }).code).toBe(2);
    expect(runOurs(["login", "status", "--bogus"], { home: home() }).code).toBe(2);
  });

  it("parses -c anywhere after the command, repeated", () => {
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
      issuer: "http://127.0.0.1:1",
    });
  });

  it("masks keys like codex", () => {
    expect(maskApiKey("sk-1234567890")).toBe("***");
    expect(maskApiKey("sk-12345678901")).toBe("sk-12345***78901");
    expect(maskApiKey("sk-test-1234567890ABCDEFGH")).toBe("sk-test-***DEFGH");
  });
});
