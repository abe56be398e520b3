/**
 * The administrator's requirements.toml reaches the library the same way
 * config.toml's restrictions do: the sign-in API loads it when no config is
 * given, and AuthManager enforces what loadConfig returns.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  AuthManager,
  LoginRestrictedError,
  loadConfig,
  RequirementsError,
  signInWithApiKey,
  startChatgptSignIn,
  startDeviceCodeSignIn,
} from "../../src/index.js";
import { makeCodexHome, removeCodexHome } from "../support/env.js";
import { fakeChatgptRecord } from "../support/jwt.js";
import { rejection } from "./gates.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) removeCodexHome(d);
});
function folder(files: Record<string, string> = {}): string {
  const d = makeCodexHome("req-signin");
  dirs.push(d);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(d, name), text, { mode: 0o600 });
  return d;
}
const apiKeyRecord = JSON.stringify({ auth_mode: "apikey", OPENAI_API_KEY: "sk-stored-1234567890" }, null, 2);

describe("requirements in the library", () => {
  it("signin-api-reads-requirements: API-key sign-in refused under ChatGPT-only requirements, nothing saved", async () => {
    const home = folder();
    const env = {
      CODEX_AUTH_SYSTEM_CONFIG_DIR: folder({ "requirements.toml": 'allowed_login_methods = ["chatgpt"]\n' }),
    };
    const manager = await AuthManager.create({ codexHome: home, env });
    const err = await rejection(signInWithApiKey({ manager, apiKey: "sk-new-1234567890" }));
    expect([err.code, err.message]).toEqual([
      "ERR_LOGIN_RESTRICTED",
      "API key login is disabled. Use ChatGPT login instead.",
    ]);
    expect(existsSync(join(home, "auth.json"))).toBe(false);
  });

  it("signin-api-reads-requirements: ChatGPT sign-ins refused when no workspace is left", async () => {
    const home = folder();
    const env = {
      CODEX_AUTH_SYSTEM_CONFIG_DIR: folder({ "requirements.toml": "allowed_chatgpt_workspaces = []\n" }),
    };
    const manager = await AuthManager.create({ codexHome: home, env });
    for (const start of [
      () => startChatgptSignIn({ manager, issuer: "http://127.0.0.1:9" }),
      () => startDeviceCodeSignIn({ manager, issuer: "http://127.0.0.1:9" }),
    ]) {
      const err = await rejection(start());
      expect([err.code, err.message]).toEqual([
        "ERR_LOGIN_RESTRICTED",
        "ChatGPT login is disabled. Use API key login instead.",
      ]);
    }
    // An API key is still allowed.
    await signInWithApiKey({ manager, apiKey: "sk-new-1234567890" });
    expect(JSON.parse(readFileSync(join(home, "auth.json"), "utf8")).OPENAI_API_KEY).toBe(
      "sk-new-1234567890",
    );
  });

  it("signin-api-malformed-requirements: a typed error naming the file; credentials untouched", async () => {
    const home = folder({ "auth.json": apiKeyRecord });
    const etc = folder({ "requirements.toml": 'allowed_login_methods = "api"\n' });
    const manager = await AuthManager.create({ codexHome: home, env: { CODEX_AUTH_SYSTEM_CONFIG_DIR: etc } });
    const err = await rejection(signInWithApiKey({ manager, apiKey: "sk-new-1234567890" }));
    expect(err).toBeInstanceOf(RequirementsError);
    expect((err as RequirementsError).path).toBe(join(etc, "requirements.toml"));
    expect(readFileSync(join(home, "auth.json"), "utf8")).toBe(apiKeyRecord);
  });

  it("auth-manager-enforces-requirements: a stored API key under ChatGPT-only requirements is refused as forced_login_method is", async () => {
    const home = folder({ "auth.json": apiKeyRecord });
    const etc = folder({ "requirements.toml": 'allowed_login_methods = ["chatgpt"]\n' });
    const config = await loadConfig({ codexHome: home, systemConfigDir: etc, env: {} });
    const err = await AuthManager.create({
      codexHome: home,
      config,
      env: { CODEX_REVOKE_TOKEN_URL_OVERRIDE: "http://127.0.0.1:9/" },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LoginRestrictedError);
    expect((err as Error).message).toBe(
      "ChatGPT login is required, but an API key is currently being used. Logging out.",
    );
  });

  it("auth-manager-enforces-requirements: a workspace outside allowed_chatgpt_workspaces is refused", async () => {
    const home = folder({ "auth.json": JSON.stringify(fakeChatgptRecord({ accountId: "org_x" }), null, 2) });
    const etc = folder({ "requirements.toml": 'allowed_chatgpt_workspaces = ["org_y"]\n' });
    const config = await loadConfig({ codexHome: home, systemConfigDir: etc, env: {} });
    const err = await AuthManager.create({
      codexHome: home,
      config,
      env: { CODEX_REVOKE_TOKEN_URL_OVERRIDE: "http://127.0.0.1:9/" },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LoginRestrictedError);
    expect((err as Error).message).toContain("org_y");
  });
});
