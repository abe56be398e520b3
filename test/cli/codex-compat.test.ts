/**
 * codex-auth's CLI against the real codex 0.169 binary: same words, streams
 * and exit codes in every normal state, and each program reads and removes
 * what the other wrote.
 */
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findCodexBinary, makeCodexHome, removeCodexHome } from "../support/env.js";
import { fakeChatgptRecord, fakeJwt } from "../support/jwt.js";
import { type RunResult, runCodex, runOurs } from "../support/run.js";

const codex = findCodexBinary();
const homes: string[] = [];
afterAll(() => {
  for (const h of homes) removeCodexHome(h);
});

function home(files: Record<string, string> = {}): string {
  const h = makeCodexHome("compat");
  homes.push(h);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(h, name), content, { mode: 0o600 });
  return h;
}

/** Two identical homes; run codex in one and codex-auth in the other. */
function both(
  files: Record<string, string>,
  args: string[],
  input = "",
): { theirs: RunResult; ours: RunResult; homes: [string, string] } {
  const a = home(files);
  const b = home();
  cpSync(a, b, { recursive: true });
  const theirs = runCodex(codex!, args, { home: a, input });
  const ours = runOurs(args, { home: b, input });
  const norm = (r: RunResult, h: string) => ({ ...r, stderr: r.stderr.replaceAll(h, "$HOME") });
  return { theirs: norm(theirs, a), ours: norm(ours, b), homes: [a, b] };
}

/** Codex's usage hints name `codex`; ours name `codex-auth`. Everything else must be equal. */
function expectSame(r: { theirs: RunResult; ours: RunResult }) {
  expect(r.ours.code).toBe(r.theirs.code);
  expect(r.ours.stdout).toBe(r.theirs.stdout);
  expect(r.ours.stderr).toBe(r.theirs.stderr.replaceAll("| codex login", "| codex-auth login"));
}

const chatgpt = JSON.stringify(fakeChatgptRecord(), null, 2);
const idToken = (fakeChatgptRecord().tokens as { id_token: string }).id_token;
const apikey = (key: string) => JSON.stringify({ auth_mode: "apikey", OPENAI_API_KEY: key }, null, 2);

describe.runIf(codex)("login status matches codex 0.169", () => {
  const states: [string, Record<string, string>][] = [
    ["nothing stored", {}],
    ["API key (long)", { "auth.json": apikey("sk-test-1234567890ABCDEFGH") }],
    ["API key of 13 chars", { "auth.json": apikey("sk-1234567890") }],
    ["API key of 14 chars", { "auth.json": apikey("sk-12345678901") }],
    ["API key with inner newline", { "auth.json": apikey("sk-abc def\nline2") }],
    ["ChatGPT tokens (legacy shape)", { "auth.json": chatgpt }],
    [
      "legacy API key with null tokens",
      { "auth.json": '{"OPENAI_API_KEY":"sk-legacy-1234567890ABCDEFGH","tokens":null,"last_refresh":null}' },
    ],
    ["empty object", { "auth.json": "{}" }],
    ["only a null key", { "auth.json": '{"OPENAI_API_KEY":null}' }],
    ["unknown field", { "auth.json": '{"OPENAI_API_KEY":"sk-x","unknown_field":1}' }],
    ["chatgptAuthTokens mode", { "auth.json": '{"auth_mode":"chatgptAuthTokens"}' }],
    [
      "key and tokens, no auth_mode",
      {
        "auth.json": JSON.stringify({
          OPENAI_API_KEY: "sk-abcdefgh12345",
          tokens: { id_token: idToken, access_token: "a", refresh_token: "r" },
        }),
      },
    ],
    [
      "key and tokens, auth_mode chatgpt",
      {
        "auth.json": JSON.stringify({
          auth_mode: "chatgpt",
          OPENAI_API_KEY: "sk-abcdefgh12345",
          tokens: { id_token: idToken, access_token: "a", refresh_token: "r" },
        }),
      },
    ],
    [
      "id_token with extra dots",
      {
        "auth.json": JSON.stringify({
          tokens: { id_token: "a.e30.c.d", access_token: "a", refresh_token: "r" },
        }),
      },
    ],
    [
      "forced chatgpt, API key stored",
      {
        "auth.json": apikey("sk-test-1234567890ABCDEFGH"),
        "config.toml": 'forced_login_method = "chatgpt"\n',
      },
    ],
    [
      "forced chatgpt, ChatGPT stored",
      { "auth.json": chatgpt, "config.toml": 'forced_login_method = "chatgpt"\n' },
    ],
    ["forced api, ChatGPT stored", { "auth.json": chatgpt, "config.toml": 'forced_login_method = "api"\n' }],
    [
      "forced api, API key stored",
      { "auth.json": apikey("sk-test-1234567890ABCDEFGH"), "config.toml": 'forced_login_method = "api"\n' },
    ],
    [
      "other workspace forced, ChatGPT stored",
      { "auth.json": chatgpt, "config.toml": 'forced_chatgpt_workspace_id = "org_other"\n' },
    ],
    [
      "same workspace forced, ChatGPT stored",
      { "auth.json": chatgpt, "config.toml": 'forced_chatgpt_workspace_id = "org_x"\n' },
    ],
    [
      "workspace forced, API key stored",
      {
        "auth.json": apikey("sk-test-1234567890ABCDEFGH"),
        "config.toml": 'forced_chatgpt_workspace_id = "org_other"\n',
      },
    ],
    [
      "file store set explicitly",
      {
        "auth.json": apikey("sk-test-1234567890ABCDEFGH"),
        "config.toml": 'cli_auth_credentials_store = "file"\n',
      },
    ],
    [
      "ephemeral store ignores the file",
      {
        "auth.json": apikey("sk-test-1234567890ABCDEFGH"),
        "config.toml": 'cli_auth_credentials_store = "ephemeral"\n',
      },
    ],
    ["invalid forced_login_method", { "config.toml": 'forced_login_method = "bogus"\n' }],
    ["invalid credentials store", { "config.toml": 'cli_auth_credentials_store = "bogus"\n' }],
  ];
  it.each(states)("%s", (_name, files) => {
    expectSame(both(files, ["login", "status"]));
  });

  it("-c overrides work like codex's", () => {
    expectSame(both({ "auth.json": chatgpt }, ["login", "status", "-c", 'forced_login_method="api"']));
    expectSame(both({ "auth.json": chatgpt }, ["login", "status", "-c", "forced_login_method=api"]));
    expectSame(both({ "auth.json": chatgpt }, ["-c", 'forced_login_method="api"', "login", "status"]));
    expectSame(both({ "auth.json": chatgpt }, ["login", "-c", 'forced_login_method="api"', "status"]));
    expectSame(
      both({ "auth.json": apikey("sk-test-1234567890ABCDEFGH") }, [
        "-c",
        'forced_login_method="api"',
        "logout",
      ]),
    );
  });

  it("env keys do not count as a stored login", () => {
    for (const env of [
      { OPENAI_API_KEY: "sk-env-openai-1234567890" },
      { CODEX_API_KEY: "sk-env-codex-1234567890" },
    ]) {
      const a = home();
      const theirs = runCodex(codex!, ["login", "status"], { home: a, env });
      const ours = runOurs(["login", "status"], { home: a, env });
      expect([ours.code, ours.stderr]).toEqual([theirs.code, theirs.stderr]);
    }
  });

  const malformed: [string, string][] = [
    ["truncated object", "{"],
    ["array", "[]"],
    ["empty file", ""],
    ["null", "null"],
    ["syntax error", '{"a":}'],
    ["trailing comma", '{"OPENAI_API_KEY":"sk-x",}'],
    ["trailing characters", '{"OPENAI_API_KEY":"sk-x"} trailing'],
    ["number key", '{"OPENAI_API_KEY":123}'],
    ["string tokens", '{"OPENAI_API_KEY":"sk-x","tokens":"x"}'],
    ["bad last_refresh", '{"OPENAI_API_KEY":"sk-x","last_refresh":"notadate"}'],
    ["unknown auth_mode", '{"auth_mode":"bogus","OPENAI_API_KEY":"sk-x"}'],
    ["wrong-case auth_mode", '{"auth_mode":"apiKey","OPENAI_API_KEY":"sk-x"}'],
    ["apikey mode without key", '{"auth_mode":"apikey"}'],
    ["agentIdentity without material", '{"auth_mode":"agentIdentity"}'],
    ["id_token not a JWT", '{"tokens":{"id_token":"x","access_token":"a","refresh_token":"r"}}'],
    [
      "id_token payload not JSON",
      '{"tokens":{"id_token":"a.bm90IGpzb24.c","access_token":"a","refresh_token":"r"}}',
    ],
    [
      "id_token email not a string",
      JSON.stringify({ tokens: { id_token: fakeJwt({ email: 5 }), access_token: "a", refresh_token: "r" } }),
    ],
    ["missing refresh_token", JSON.stringify({ tokens: { id_token: idToken, access_token: "a" } })],
  ];
  it.each(malformed)(
    "malformed auth.json (%s): both refuse with the same prefix; ours names the file; nothing changes",
    (_name, content) => {
      const r = both({ "auth.json": content }, ["login", "status"]);
      expect(r.theirs.code).toBe(1);
      expect(r.ours.code).toBe(1);
      expect(r.theirs.stderr).toMatch(/^Error checking login status: /);
      expect(r.ours.stderr).toMatch(/^Error checking login status: /);
      expect(r.ours.stderr).toContain("auth.json");
      for (const h of r.homes) expect(readFileSync(join(h, "auth.json"), "utf8")).toBe(content);
    },
  );

  it("auth.json that is a directory", () => {
    const a = home();
    const b = home();
    for (const h of [a, b]) mkdirSync(join(h, "auth.json"));
    const theirs = runCodex(codex!, ["login", "status"], { home: a });
    const ours = runOurs(["login", "status"], { home: b });
    expect([theirs.code, ours.code]).toEqual([1, 1]);
    expect(ours.stderr).toMatch(/^Error checking login status: .*auth\.json is a directory/);
  });

  it("CODEX_HOME that does not exist", () => {
    const missing = join(home(), "missing");
    const theirs = runCodex(codex!, ["login", "status"], { home: missing });
    const ours = runOurs(["login", "status"], { home: missing });
    expect(theirs.code).toBe(1);
    expect(ours.code).toBe(1);
    const line = `Error loading configuration: CODEX_HOME points to "${missing}", but that path does not exist`;
    expect(theirs.stderr).toContain(line);
    expect(ours.stderr.startsWith(line)).toBe(true);
  });
});

describe.runIf(codex)("login --with-api-key and logout match codex 0.169", () => {
  const inputs: [string, string][] = [
    ["empty stdin", ""],
    ["only whitespace", "\n\t\n"],
    ["key with newline", "sk-abc-0123456789xyz\n"],
    ["13-char key", "sk-1234567890"],
    ["inner whitespace kept", "sk-abc def\nline2"],
  ];
  it.each(inputs)("login --with-api-key with %s writes the same bytes", (_name, input) => {
    const r = both({}, ["login", "--with-api-key"], input);
    expectSame(r);
    const [a, b] = r.homes;
    const fa = join(a, "auth.json");
    const fb = join(b, "auth.json");
    expect(existsSync(fb)).toBe(existsSync(fa));
    if (existsSync(fa)) {
      expect(readFileSync(fb, "utf8")).toBe(readFileSync(fa, "utf8"));
      expect(statMode(fb)).toBe(statMode(fa));
      expect(statMode(join(b, "auth.lock"))).toBe(statMode(join(a, "auth.lock")));
      expect(statMode(join(b, "auth.json.lock"))).toBe(statMode(join(a, "auth.json.lock")));
    }
  });

  it("--api-key on argv is refused", () => {
    expectSame(both({}, ["login", "--api-key", "sk-x"]));
  });

  it("both credential flags are refused", () => {
    expectSame(both({}, ["login", "--with-api-key", "--with-access-token"]));
  });

  it("forced chatgpt refuses API-key login", () => {
    expectSame(
      both({ "config.toml": 'forced_login_method = "chatgpt"\n' }, ["login", "--with-api-key"], "sk-x"),
    );
  });

  it("read-only existing file is refused and kept", () => {
    const a = home({ "auth.json": apikey("sk-old-1234567890ABCDEFGH") });
    const b = home({ "auth.json": apikey("sk-old-1234567890ABCDEFGH") });
    chmodSync(join(a, "auth.json"), 0o400);
    chmodSync(join(b, "auth.json"), 0o400);
    const theirs = runCodex(codex!, ["login", "--with-api-key"], { home: a, input: "sk-new" });
    const ours = runOurs(["login", "--with-api-key"], { home: b, input: "sk-new" });
    expect(theirs.stderr).toContain("Error logging in: credential file is read-only");
    expect(ours.stderr).toContain("Error logging in: credential file is read-only");
    expect([ours.code, theirs.code]).toEqual([1, 1]);
    expect(readFileSync(join(b, "auth.json"), "utf8")).toBe(apikey("sk-old-1234567890ABCDEFGH"));
  });

  // A failed revoke: Codex is silent; we add one warning line after its words (deliberate difference).
  const REVOKE_WARNING =
    "Warning: the issuer did not confirm that the refresh token was revoked; it stays valid until it expires.\n";
  const logoutStates: [string, Record<string, string>, boolean][] = [
    ["nothing stored", {}, false],
    ["API key", { "auth.json": apikey("sk-test-1234567890ABCDEFGH") }, false],
    ["ChatGPT tokens (revoke fails: nothing listens)", { "auth.json": chatgpt }, true],
    [
      "forced api, ChatGPT stored",
      { "auth.json": chatgpt, "config.toml": 'forced_login_method = "api"\n' },
      true,
    ],
    ["invalid config", { "auth.json": chatgpt, "config.toml": 'forced_login_method = "bogus"\n' }, false],
  ];
  it.each(logoutStates)("logout with %s", (_name, files, revokeFails) => {
    const r = both(files, ["logout"]);
    expectSame({
      theirs: { ...r.theirs, stderr: r.theirs.stderr + (revokeFails ? REVOKE_WARNING : "") },
      ours: r.ours,
    });
    const [a, b] = r.homes;
    expect(existsSync(join(b, "auth.json"))).toBe(existsSync(join(a, "auth.json")));
  });
});

describe.runIf(codex)("each program reads and removes what the other wrote", () => {
  it("our login → codex status → codex logout → our status", () => {
    const h = home();
    expect(
      runOurs(["login", "--with-api-key"], { home: h, input: "sk-ours-1234567890ABCDEFGH\n" }).code,
    ).toBe(0);
    const status = runCodex(codex!, ["login", "status"], { home: h });
    expect(status.stderr).toBe(
      "API key configured - sk-ours-***DEFGH\nAuthentication is checked when you send a request.\n",
    );
    expect(runCodex(codex!, ["logout"], { home: h }).stderr).toBe("Successfully logged out\n");
    expect(runOurs(["login", "status"], { home: h }).stderr).toBe("Not logged in\n");
  });

  it("codex login → our status and library → our logout → codex status", async () => {
    const h = home();
    expect(
      runCodex(codex!, ["login", "--with-api-key"], { home: h, input: "sk-theirs-1234567890ABCDEFGH" }).code,
    ).toBe(0);
    expect(runOurs(["login", "status"], { home: h }).stderr).toBe(
      "API key configured - sk-their***DEFGH\nAuthentication is checked when you send a request.\n",
    );
    const { loadAuth, FileAuthStorage, bearerToken } = await import("../../src/index.js");
    const auth = await loadAuth(new FileAuthStorage(h));
    expect(auth?.mode).toBe("apikey");
    expect(auth && bearerToken(auth)).toBe("sk-theirs-1234567890ABCDEFGH");
    expect(runOurs(["logout"], { home: h }).stderr).toBe("Successfully logged out\n");
    expect(runCodex(codex!, ["login", "status"], { home: h }).stderr).toBe("Not logged in\n");
  });

  it("after our save of a ChatGPT record with unknown fields, codex still reads and rewrites it", async () => {
    const h = home({
      "auth.json": JSON.stringify({ ...fakeChatgptRecord(), future_field: { keep: true } }, null, 2),
    });
    const { saveAuth, loadAuthRecord } = await import("../../src/index.js");
    const record = await loadAuthRecord(h);
    await saveAuth(h, record!);
    const saved = readFileSync(join(h, "auth.json"), "utf8");
    expect(JSON.parse(saved).future_field).toEqual({ keep: true });
    expect(JSON.parse(saved).auth_mode).toBe("chatgpt");
    expect(runCodex(codex!, ["login", "status"], { home: h }).stderr).toBe("Logged in using ChatGPT\n");
    expect(
      runCodex(codex!, ["login", "--with-api-key"], { home: h, input: "sk-after-1234567890ABCDEFGH" }).code,
    ).toBe(0);
    expect(runOurs(["login", "status"], { home: h }).stderr).toContain("sk-after***DEFGH");
  });
});

function statMode(path: string): string {
  return (statSync(path).mode & 0o777).toString(8);
}
