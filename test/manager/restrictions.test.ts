/** Login restrictions: the seed's tests, ported, plus every branch and message of SPEC §4. */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  type AuthConfig,
  AuthManager,
  enforceLoginRestrictions,
  FileAuthStorage,
  LoginRestrictedError,
  loadAuth,
  loadConfig,
  logout,
} from "../../src/index.js";
import { makeCodexHome, removeCodexHome } from "../support/env.js";
import { fakeChatgptRecord, fakeJwt } from "../support/jwt.js";

const homes: string[] = [];
afterEach(() => {
  for (const h of homes.splice(0)) removeCodexHome(h);
});

function homeWith(record: unknown, config = ""): string {
  const h = makeCodexHome("restrict");
  homes.push(h);
  writeFileSync(join(h, "auth.json"), JSON.stringify(record, null, 2), { mode: 0o600 });
  if (config) writeFileSync(join(h, "config.toml"), config);
  return h;
}

async function enforce(h: string, env: Record<string, string> = {}): Promise<unknown> {
  const config = await loadConfig({ codexHome: h, env });
  const storage = new FileAuthStorage(h);
  const auth = await loadAuth(storage, { enableCodexApiKeyEnv: true, env });
  return enforceLoginRestrictions(auth, config, () =>
    logout(h, storage, { env: { CODEX_REVOKE_TOKEN_URL_OVERRIDE: "http://127.0.0.1:9/" } }),
  ).then(
    () => undefined,
    (err: unknown) => err,
  );
}

describe("enforceLoginRestrictions", () => {
  it("logs out for method mismatch (api required, ChatGPT used)", async () => {
    const h = homeWith(fakeChatgptRecord(), 'forced_login_method = "api"\n');
    const err = await enforce(h);
    expect(err).toBeInstanceOf(LoginRestrictedError);
    expect((err as Error).message).toBe(
      "API key login is required, but ChatGPT is currently being used. Logging out.",
    );
    expect(existsSync(join(h, "auth.json"))).toBe(false);
  });

  it("logs out for method mismatch (chatgpt required, API key used)", async () => {
    const h = homeWith(
      { auth_mode: "apikey", OPENAI_API_KEY: "sk-test" },
      'forced_login_method = "chatgpt"\n',
    );
    const err = await enforce(h);
    expect((err as Error).message).toBe(
      "ChatGPT login is required, but an API key is currently being used. Logging out.",
    );
    expect(existsSync(join(h, "auth.json"))).toBe(false);
  });

  it("logs out for workspace mismatch", async () => {
    const h = homeWith(
      fakeChatgptRecord({ accountId: "org_another_org" }),
      'forced_chatgpt_workspace_id = "org_mine"\n',
    );
    const err = await enforce(h);
    expect((err as Error).message).toBe(
      "Login is restricted to workspace(s) org_mine, but current credentials belong to org_another_org. Logging out.",
    );
    expect(existsSync(join(h, "auth.json"))).toBe(false);
  });

  it("logs out when the credentials lack a workspace identifier", async () => {
    const record = fakeChatgptRecord();
    (record.tokens as Record<string, unknown>).id_token = fakeJwt({ email: "a@b.c" });
    const h = homeWith(record, 'forced_chatgpt_workspace_id = "org_mine"\n');
    const err = await enforce(h);
    expect((err as Error).message).toBe(
      "Login is restricted to workspace(s) org_mine, but current credentials lack a workspace identifier. Logging out.",
    );
  });

  it("allows the matching workspace", async () => {
    const h = homeWith(
      fakeChatgptRecord({ accountId: "org_mine" }),
      'forced_chatgpt_workspace_id = "org_mine"\n',
    );
    expect(await enforce(h)).toBeUndefined();
    expect(existsSync(join(h, "auth.json"))).toBe(true);
  });

  it("allows an API key when only a workspace is forced", async () => {
    const h = homeWith(
      { auth_mode: "apikey", OPENAI_API_KEY: "sk-test" },
      'forced_chatgpt_workspace_id = "org_mine"\n',
    );
    expect(await enforce(h)).toBeUndefined();
  });

  it("env-key-never-destroys-stored-login: an env CODEX_API_KEY that breaks the policy is refused, storage untouched", async () => {
    const h = homeWith(fakeChatgptRecord(), 'forced_login_method = "chatgpt"\n');
    const before = readFileSync(join(h, "auth.json"), "utf8");
    let loggedOut = false;
    const config = await loadConfig({ codexHome: h, env: {} });
    const auth = await loadAuth(new FileAuthStorage(h), {
      enableCodexApiKeyEnv: true,
      env: { CODEX_API_KEY: "sk-env" },
    });
    const err = await enforceLoginRestrictions(auth, config, async () => {
      loggedOut = true;
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LoginRestrictedError);
    expect((err as Error).message).toBe(
      "CODEX_API_KEY is set in the environment, but this login is not allowed: ChatGPT login is required, but an API key is currently being used. Unset CODEX_API_KEY to use your stored login; nothing stored was changed.",
    );
    expect(loggedOut).toBe(false);
    expect(readFileSync(join(h, "auth.json"), "utf8")).toBe(before);
  });

  it("appends the logout failure when removal fails", async () => {
    const config: Pick<AuthConfig, "forcedLoginMethod" | "forcedChatgptWorkspaceIds"> = {
      forcedLoginMethod: "api",
      forcedChatgptWorkspaceIds: undefined,
    };
    const h = homeWith(fakeChatgptRecord());
    const auth = await loadAuth(new FileAuthStorage(h));
    const err = await enforceLoginRestrictions(auth, config, async () => {
      throw new Error("disk on fire");
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      "API key login is required, but ChatGPT is currently being used. Logging out.. Failed to remove auth.json: disk on fire",
    );
    expect(readFileSync(join(h, "auth.json"), "utf8")).toContain("rt_fake_original");
  });

  it("AuthManager built with a config enforces at creation", async () => {
    const h = homeWith(fakeChatgptRecord(), 'forced_login_method = "api"\n');
    const config = await loadConfig({ codexHome: h, env: {} });
    const err = await AuthManager.create({
      codexHome: h,
      config,
      env: { CODEX_REVOKE_TOKEN_URL_OVERRIDE: "http://127.0.0.1:9/" },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LoginRestrictedError);
    expect(existsSync(join(h, "auth.json"))).toBe(false);
  });
});
