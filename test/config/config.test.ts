/** config.toml and -c overrides: valid values, and invalid ones named by file, line and column. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, findCodexHome, loadConfig } from "../../src/index.js";
import { makeCodexHome, removeCodexHome } from "../support/env.js";

const homes: string[] = [];
afterEach(() => {
  for (const h of homes.splice(0)) removeCodexHome(h);
});
function home(config?: string): string {
  const h = makeCodexHome("config");
  homes.push(h);
  if (config !== undefined) writeFileSync(join(h, "config.toml"), config);
  return h;
}

describe("loadConfig", () => {
  it("defaults without config.toml", async () => {
    const h = home();
    expect(await loadConfig({ codexHome: h })).toEqual({
      codexHome: h,
      credentialsStore: "file",
      forcedLoginMethod: undefined,
      forcedChatgptWorkspaceIds: undefined,
      chatgptBaseUrl: undefined,
      secretAuthStorage: false,
    });
  });

  it("secret-auth-storage-flag: [features] secret_auth_storage, -c features.secret_auth_storage, Codex's words for a non-boolean", async () => {
    const h = home('cli_auth_credentials_store = "keyring"\n\n[features]\nsecret_auth_storage = true\n');
    expect((await loadConfig({ codexHome: h })).secretAuthStorage).toBe(true);
    expect(
      (await loadConfig({ codexHome: h, overrides: ["features.secret_auth_storage=false"] }))
        .secretAuthStorage,
    ).toBe(false);
    const inline = home("features = { secret_auth_storage = true }\n");
    expect((await loadConfig({ codexHome: inline })).secretAuthStorage).toBe(true);
    const bad = home('cli_auth_credentials_store = "file"\n[features]\nsecret_auth_storage = "yes"\n');
    await expect(loadConfig({ codexHome: bad })).rejects.toThrowError(
      `${join(bad, "config.toml")}:3:23: invalid type: string "yes", expected a boolean`,
    );
  });

  it("reads the auth settings and ignores the rest", async () => {
    const h = home(
      'model = "o3"\ncli_auth_credentials_store = "keyring"\nforced_login_method = "chatgpt"\nforced_chatgpt_workspace_id = "org_1"\nchatgpt_base_url = "http://127.0.0.1:1/backend-api/"\n[profiles.x]\nmodel = "y"\n',
    );
    const c = await loadConfig({ codexHome: h });
    expect(c.credentialsStore).toBe("keyring");
    expect(c.forcedLoginMethod).toBe("chatgpt");
    expect(c.forcedChatgptWorkspaceIds).toEqual(["org_1"]);
    expect(c.chatgptBaseUrl).toBe("http://127.0.0.1:1/backend-api/");
  });

  it("accepts a list of workspaces", async () => {
    const c = await loadConfig({ codexHome: home('forced_chatgpt_workspace_id = ["org_1", "org_2"]\n') });
    expect(c.forcedChatgptWorkspaceIds).toEqual(["org_1", "org_2"]);
  });

  it("names file, line and column of an invalid value, with codex's words", async () => {
    const h = home('# comment\nforced_login_method = "bogus"\n');
    await expect(loadConfig({ codexHome: h })).rejects.toThrowError(
      `${join(h, "config.toml")}:2:23: unknown variant \`bogus\`, expected \`chatgpt\` or \`api\``,
    );
    const h2 = home('cli_auth_credentials_store = "bogus"\n');
    await expect(loadConfig({ codexHome: h2 })).rejects.toThrowError(
      "config.toml:1:30: unknown variant `bogus`, expected one of `file`, `keyring`, `auto`, `ephemeral`",
    );
  });

  it("names file, line and column of a TOML syntax error", async () => {
    const h = home('ok = 1\nforced_login_method = "unterminated\n');
    const err = await loadConfig({ codexHome: h }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(
      new RegExp(`^${join(h, "config.toml").replaceAll("/", "\\/")}:2:\\d+: `),
    );
  });

  it("-c overrides win over the file; values are TOML, else literal strings", async () => {
    const h = home('forced_login_method = "chatgpt"\n');
    expect(
      (await loadConfig({ codexHome: h, overrides: ['forced_login_method="api"'] })).forcedLoginMethod,
    ).toBe("api");
    expect(
      (await loadConfig({ codexHome: h, overrides: ["forced_login_method=api"] })).forcedLoginMethod,
    ).toBe("api");
    await expect(loadConfig({ codexHome: h, overrides: ["forced_login_method=nope"] })).rejects.toThrowError(
      "-c forced_login_method: unknown variant `nope`",
    );
    await expect(loadConfig({ codexHome: h, overrides: ["novalue"] })).rejects.toThrowError(ConfigError);
  });
});

describe("findCodexHome", () => {
  it("uses $CODEX_HOME when it exists, else ~/.codex", () => {
    const h = home();
    expect(findCodexHome({ CODEX_HOME: h })).toBe(h);
    expect(findCodexHome({ HOME: "/home/someone" })).toBe("/home/someone/.codex");
  });

  it("a missing $CODEX_HOME is a clear error", () => {
    const missing = join(home(), "nope");
    expect(() => findCodexHome({ CODEX_HOME: missing })).toThrowError(
      `CODEX_HOME points to "${missing}", but that path does not exist`,
    );
    const file = join(home(), "file");
    writeFileSync(file, "");
    expect(() => findCodexHome({ CODEX_HOME: file })).toThrowError("is not a directory");
  });
});
