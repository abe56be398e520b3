/**
 * Admin policy against the real codex 0.169: the same `/etc/codex`
 * (requirements.toml, managed_config.toml, config.toml) and the same
 * CODEX_HOME give the same words, exit codes and stored credentials.
 * Codex gets the folder as its real `/etc/codex` in a private mount
 * namespace; ours through `CODEX_AUTH_SYSTEM_CONFIG_DIR` (and once through
 * the real path, mounted the same way).
 */
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findCodexBinary, makeCodexHome, removeCodexHome } from "../support/env.js";
import { fakeChatgptRecord } from "../support/jwt.js";
import { canMount } from "../support/mounts.js";
import type { RunResult } from "../support/run.js";
import {
  makeSystemConfigDir,
  removeSystemConfigDir,
  runCodexWithEtcCodex,
  runOursWithEtcCodex,
  runOursWithSystemConfigDir,
  type SystemFiles,
} from "../support/system-config.js";

const codex = findCodexBinary();
const mountable = canMount();
const cleanup: string[] = [];
afterAll(() => {
  for (const p of cleanup) removeCodexHome(p);
});

const apiKey = JSON.stringify({ auth_mode: "apikey", OPENAI_API_KEY: "sk-test-1234567890ABCDEFGH" }, null, 2);
const chatgpt = (accountId: string) => JSON.stringify(fakeChatgptRecord({ accountId }), null, 2);

interface Case {
  system: SystemFiles;
  home?: Record<string, string>;
  args?: string[];
  input?: string;
}

function home(files: Record<string, string>): string {
  const h = makeCodexHome("policy");
  cleanup.push(h);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(h, name), content, { mode: 0o600 });
  return h;
}

function stored(h: string): string {
  try {
    return readFileSync(join(h, "auth.json"), "utf8");
  } catch {
    return "<none>";
  }
}

/**
 * Runs the case with codex (its real /etc/codex mounted) and with ours (the
 * folder injected, or `viaRealPath`: mounted the same way), each in its own
 * copy of the home; the home path and the folder read as `$HOME` and
 * `/etc/codex` in both transcripts.
 */
async function both(c: Case, o: { viaRealPath?: boolean } = {}) {
  const dir = makeSystemConfigDir(c.system);
  cleanup.push(dir);
  const a = home(c.home ?? {});
  const b = home({});
  cpSync(a, b, { recursive: true });
  try {
    const args = c.args ?? [];
    const theirs = await runCodexWithEtcCodex(codex!, dir, args, { home: a, input: c.input });
    const ours = o.viaRealPath
      ? await runOursWithEtcCodex(dir, args, { home: b, input: c.input })
      : await runOursWithSystemConfigDir(dir, args, { home: b, input: c.input });
    const norm = (r: RunResult, h: string) => ({
      code: r.code,
      stdout: r.stdout.replaceAll(h, "$HOME"),
      // Codex ends a parse error with an empty line; the words are what is compared.
      stderr: r.stderr.replaceAll(h, "$HOME").replaceAll(dir, "/etc/codex").trimEnd(),
      auth: stored(h),
    });
    return { theirs: norm(theirs, a), ours: norm(ours, b) };
  } finally {
    removeSystemConfigDir(dir);
  }
}

async function expectSame(c: Case, o: { viaRealPath?: boolean } = {}) {
  const { theirs, ours } = await both(c, o);
  expect(ours).toEqual(theirs);
  return theirs;
}

describe.runIf(codex && mountable)("admin policy (requirements.toml) matches codex 0.169", () => {
  const statusCases: [string, Case][] = [
    [
      "allowed_login_methods = [chatgpt] hides a stored API key (Not logged in, nothing deleted)",
      {
        system: { "requirements.toml": 'allowed_login_methods = ["chatgpt"]\n' },
        home: { "auth.json": apiKey },
      },
    ],
    [
      "allowed_login_methods = [api] keeps a stored API key",
      { system: { "requirements.toml": 'allowed_login_methods = ["api"]\n' }, home: { "auth.json": apiKey } },
    ],
    [
      "allowed_login_methods = [api] hides ChatGPT tokens",
      {
        system: { "requirements.toml": 'allowed_login_methods = ["api"]\n' },
        home: { "auth.json": chatgpt("org_x") },
      },
    ],
    [
      "config.toml forcing a method the requirements forbid: Codex refuses to start",
      {
        system: { "requirements.toml": 'allowed_login_methods = ["chatgpt"]\n' },
        home: { "auth.json": apiKey, "config.toml": 'forced_login_method = "api"\n' },
      },
    ],
    [
      "a -c override forcing a forbidden method is refused the same way",
      {
        system: { "requirements.toml": 'allowed_login_methods = ["api"]\n' },
        home: { "auth.json": apiKey },
        args: ["-c", 'forced_login_method="chatgpt"'],
      },
    ],
    [
      "an empty allowed_login_methods permits nothing",
      { system: { "requirements.toml": "allowed_login_methods = []\n" }, home: { "auth.json": apiKey } },
    ],
    [
      "allowed_chatgpt_workspaces lets the listed workspace in",
      {
        system: { "requirements.toml": 'allowed_chatgpt_workspaces = [" org_x ", "org_y"]\n' },
        home: { "auth.json": chatgpt("org_x") },
      },
    ],
    [
      "allowed_chatgpt_workspaces hides another workspace",
      {
        system: { "requirements.toml": 'allowed_chatgpt_workspaces = ["org_y"]\n' },
        home: { "auth.json": chatgpt("org_x") },
      },
    ],
    [
      "requirements narrow forced_chatgpt_workspace_id (the intersection is allowed)",
      {
        system: { "requirements.toml": 'allowed_chatgpt_workspaces = ["org_x", "org_y"]\n' },
        home: { "auth.json": chatgpt("org_x"), "config.toml": 'forced_chatgpt_workspace_id = "org_y"\n' },
      },
    ],
    [
      "an empty workspace list leaves API keys usable",
      { system: { "requirements.toml": "allowed_chatgpt_workspaces = []\n" }, home: { "auth.json": apiKey } },
    ],
    [
      "an empty workspace list with ChatGPT-only permits nothing",
      {
        system: {
          "requirements.toml": 'allowed_login_methods = ["chatgpt"]\nallowed_chatgpt_workspaces = []\n',
        },
        home: { "auth.json": chatgpt("org_x") },
      },
    ],
    [
      "disjoint configured and required workspaces with forced ChatGPT permit nothing",
      {
        system: { "requirements.toml": 'allowed_chatgpt_workspaces = ["org_y"]\n' },
        home: {
          "auth.json": chatgpt("org_y"),
          "config.toml": 'forced_login_method = "chatgpt"\nforced_chatgpt_workspace_id = "org_x"\n',
        },
      },
    ],
    [
      "a required cli_auth_credentials_store replaces the configured one",
      {
        system: { "requirements.toml": 'cli_auth_credentials_store = "ephemeral"\n' },
        home: { "auth.json": apiKey, "config.toml": 'cli_auth_credentials_store = "file"\n' },
      },
    ],
    [
      "managed_config.toml wins over the user's config.toml",
      {
        system: { "managed_config.toml": 'forced_login_method = "chatgpt"\n' },
        home: { "auth.json": apiKey, "config.toml": 'forced_login_method = "api"\n' },
      },
    ],
    [
      "managed_config.toml wins over -c",
      {
        system: { "managed_config.toml": 'forced_login_method = "chatgpt"\n' },
        home: { "auth.json": apiKey },
        args: ["-c", 'forced_login_method="api"'],
      },
    ],
    [
      "allowed_login_methods in managed_config.toml is not a requirement",
      {
        system: { "managed_config.toml": 'allowed_login_methods = ["chatgpt"]\n' },
        home: { "auth.json": apiKey },
      },
    ],
    [
      "the system config.toml is below the user's",
      {
        system: { "config.toml": 'forced_login_method = "chatgpt"\n' },
        home: { "auth.json": apiKey, "config.toml": 'forced_login_method = "api"\n' },
      },
    ],
    [
      "the system config.toml applies when the user sets nothing",
      { system: { "config.toml": 'forced_login_method = "chatgpt"\n' }, home: { "auth.json": apiKey } },
    ],
    [
      "unknown requirement keys are ignored",
      {
        system: { "requirements.toml": 'allowed_sandbox_modes = ["read-only"]\nsomething_new = 1\n' },
        home: { "auth.json": apiKey },
      },
    ],
    [
      "a string where a list is required: refused, naming the file and key",
      {
        system: { "requirements.toml": 'allowed_login_methods = "chatgpt"\n' },
        home: { "auth.json": apiKey },
      },
    ],
    [
      "an unknown login method: refused in serde's words",
      {
        system: { "requirements.toml": 'allowed_login_methods = ["bogus"]\n' },
        home: { "auth.json": apiKey },
      },
    ],
    [
      "a table where a workspace list is required",
      {
        system: { "requirements.toml": "allowed_chatgpt_workspaces = { org_x = true }\n" },
        home: { "auth.json": apiKey },
      },
    ],
    [
      "an unknown credential store",
      {
        system: { "requirements.toml": 'cli_auth_credentials_store = "bogus"\n' },
        home: { "auth.json": apiKey },
      },
    ],
    [
      "enforce_residency other than us",
      { system: { "requirements.toml": 'enforce_residency = "eu"\n' }, home: { "auth.json": apiKey } },
    ],
    [
      "enforce_residency = us does not change login status",
      { system: { "requirements.toml": 'enforce_residency = "us"\n' }, home: { "auth.json": apiKey } },
    ],
  ];

  for (const [name, c] of statusCases) {
    it(`login status: ${name}`, async () => {
      const args = [...(c.args ?? []), "login", "status"];
      const theirs = await expectSame({ ...c, args });
      // Nothing stored is ever changed by a policy.
      expect(theirs.auth).toBe(c.home?.["auth.json"] ?? "<none>");
    });
  }

  it("reads the real /etc/codex when nothing is injected", async () => {
    const theirs = await expectSame(
      {
        system: { "requirements.toml": 'allowed_login_methods = ["chatgpt"]\n' },
        home: { "auth.json": apiKey },
        args: ["login", "status"],
      },
      { viaRealPath: true },
    );
    expect(theirs.stderr).toBe("Not logged in");
  });

  it("an administrator's /etc/codex wins over CODEX_AUTH_SYSTEM_CONFIG_DIR (the user's environment cannot lift a policy)", async () => {
    const dir = makeSystemConfigDir({ "requirements.toml": 'allowed_login_methods = ["chatgpt"]\n' });
    const lifted = makeSystemConfigDir({});
    cleanup.push(dir, lifted);
    const h = home({ "auth.json": apiKey });
    const ours = await runOursWithEtcCodex(dir, ["login", "status"], {
      home: h,
      env: { CODEX_AUTH_SYSTEM_CONFIG_DIR: lifted },
    });
    expect([ours.code, ours.stderr.trim()]).toEqual([1, "Not logged in"]);
    // Without an /etc/codex the variable is read: the same key is then in effect.
    const free = await runOursWithSystemConfigDir(lifted, ["login", "status"], { home: h });
    expect([free.code, free.stderr]).toEqual([0, expect.stringContaining("API key configured")]);
    expect(stored(h)).toBe(apiKey);
  });

  it("a malformed requirements file is named on every command, credentials untouched", async () => {
    const record = chatgpt("org_x");
    for (const args of [["logout"], ["login", "--with-api-key"]]) {
      const theirs = await expectSame({
        system: { "requirements.toml": 'allowed_login_methods = "api"\n' },
        home: { "auth.json": record },
        args,
        input: "sk-new-1234567890ABCDEFGH\n",
      });
      expect(theirs.code).toBe(1);
      expect(theirs.auth).toBe(record);
    }
  });

  it("a TOML syntax error is refused with the file, line and column", async () => {
    const { theirs, ours } = await both({
      system: { "requirements.toml": "this is not toml\n" },
      home: { "auth.json": apiKey },
      args: ["login", "status"],
    });
    expect(ours.code).toBe(theirs.code);
    expect(ours.auth).toBe(theirs.auth);
    // Codex follows with a source snippet and the parser's own words; the first line is shared.
    const prefix =
      "Error loading configuration: failed to parse requirements layer /etc/codex/requirements.toml: TOML parse error at line 1, column 6";
    expect(theirs.stderr.startsWith(prefix)).toBe(true);
    expect(ours.stderr.startsWith(prefix)).toBe(true);
  });

  it("login --with-api-key under ChatGPT-only requirements: Codex's refusal, nothing saved", async () => {
    const theirs = await expectSame({
      system: { "requirements.toml": 'allowed_login_methods = ["chatgpt"]\n' },
      home: { "auth.json": chatgpt("org_x") },
      args: ["login", "--with-api-key"],
      input: "sk-new-1234567890ABCDEFGH\n",
    });
    expect(theirs.stderr).toContain("API key login is disabled. Use ChatGPT login instead.");
  });

  it("login --with-api-key when only the workspace list is empty: API keys are still saved", async () => {
    const theirs = await expectSame({
      system: { "requirements.toml": "allowed_chatgpt_workspaces = []\n" },
      args: ["login", "--with-api-key"],
      input: "sk-new-1234567890ABCDEFGH\n",
    });
    expect(theirs.code).toBe(0);
  });

  it("browser, device and access-token sign-in under API-only requirements: Codex's refusals", async () => {
    for (const args of [["login"], ["login", "--device-auth"], ["login", "--with-access-token"]]) {
      const theirs = await expectSame({
        system: { "requirements.toml": 'allowed_login_methods = ["api"]\n' },
        home: { "auth.json": apiKey },
        args,
        input: "at-not-a-real-token\n",
      });
      expect(theirs.code).toBe(1);
    }
  });

  it("browser sign-in when requirements leave no workspace: ChatGPT is disabled", async () => {
    const theirs = await expectSame({
      system: { "requirements.toml": "allowed_chatgpt_workspaces = []\n" },
      args: ["login"],
    });
    expect(theirs.stderr).toContain("ChatGPT login is disabled. Use API key login instead.");
  });
});
