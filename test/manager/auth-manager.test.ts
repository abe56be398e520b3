/** AuthManager without refresh, CodexAuth accessors and credential precedence (SPEC §2, §5). */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  AuthManager,
  authFromApiKey,
  authFromRecord,
  bearerToken,
  EphemeralAuthStorage,
  FileAuthStorage,
  loadAuth,
  loadAuthRecord,
  loginWithApiKey,
  logout,
  planTypeOf,
  readCodexApiKeyFromEnv,
  readOpenAiApiKeyFromEnv,
  saveAuth,
} from "../../src/index.js";
import { makeCodexHome, removeCodexHome } from "../support/env.js";
import { fakeChatgptRecord } from "../support/jwt.js";

const homes: string[] = [];
afterEach(() => {
  for (const h of homes.splice(0)) removeCodexHome(h);
});
function home(): string {
  const h = makeCodexHome("manager");
  homes.push(h);
  return h;
}
const token = (m: AuthManager) => {
  const auth = m.authCached();
  return auth && bearerToken(auth);
};
const noRevoke = { CODEX_REVOKE_TOKEN_URL_OVERRIDE: "http://127.0.0.1:9/oauth/revoke" };

describe("credential precedence", () => {
  it("missing auth.json is not logged in, not an error", async () => {
    expect(await loadAuth(new FileAuthStorage(home()))).toBeUndefined();
  });

  it("CODEX_API_KEY wins when enabled, and storage is not read", async () => {
    const h = home();
    writeFileSync(join(h, "auth.json"), "not json");
    const auth = await loadAuth(new FileAuthStorage(h), {
      enableCodexApiKeyEnv: true,
      env: { CODEX_API_KEY: "  sk-env \n" },
    });
    expect(auth?.mode).toBe("apikey");
    expect(auth && bearerToken(auth)).toBe("sk-env");
  });

  it("CODEX_API_KEY is ignored unless enabled, and blank counts as unset", async () => {
    const h = home();
    await saveAuth(h, fakeChatgptRecord() as never);
    expect((await loadAuth(new FileAuthStorage(h), { env: { CODEX_API_KEY: "sk-env" } }))?.mode).toBe(
      "chatgpt",
    );
    expect(
      (await loadAuth(new FileAuthStorage(h), { enableCodexApiKeyEnv: true, env: { CODEX_API_KEY: "  " } }))
        ?.mode,
    ).toBe("chatgpt");
  });

  it("a stored key wins over stored tokens when auth_mode is absent", async () => {
    const h = home();
    writeFileSync(
      join(h, "auth.json"),
      JSON.stringify({ ...fakeChatgptRecord(), OPENAI_API_KEY: "sk-both" }),
    );
    const auth = await loadAuth(new FileAuthStorage(h));
    expect(auth?.mode).toBe("apikey");
    expect(auth && bearerToken(auth)).toBe("sk-both");
  });

  it("env helpers trim and treat blank as none", () => {
    expect(readOpenAiApiKeyFromEnv({ OPENAI_API_KEY: " sk-o " })).toBe("sk-o");
    expect(readOpenAiApiKeyFromEnv({ OPENAI_API_KEY: "" })).toBeUndefined();
    expect(readCodexApiKeyFromEnv({})).toBeUndefined();
  });
});

describe("CodexAuth accessors", () => {
  it("pro account with no API key uses ChatGPT auth (seed test)", async () => {
    const h = home();
    writeFileSync(
      join(h, "auth.json"),
      JSON.stringify(fakeChatgptRecord({ email: "user@example.com", plan: "pro", accountId: "org_x" })),
    );
    const auth = (await loadAuth(new FileAuthStorage(h)))!;
    if (auth.mode !== "chatgpt" || !auth.tokens) throw new Error("expected ChatGPT tokens");
    expect(auth.source).toBe("storage");
    expect("apiKey" in auth).toBe(false);
    expect(auth.idToken.email).toBe("user@example.com");
    expect(planTypeOf(auth)).toBe("pro");
    expect(auth.accountId).toBe("org_x");
    expect(auth.idToken.chatgptUserId).toBe("user-probe");
    expect(auth.tokens.refresh_token).toBe("rt_fake_original");
    expect(auth.idToken.chatgptAccountId).toBe("org_x");
    expect(bearerToken(auth)).toBe(auth.tokens.access_token);
    expect(Object.isFrozen(auth)).toBe(true);
  });

  it("unknown plan maps to unknown; API keys have no plan", () => {
    const rec = fakeChatgptRecord({ plan: "mystery-tier" });
    const auth = authFromRecord(rec as never);
    expect(planTypeOf(auth)).toBe("unknown");
    expect(planTypeOf(authFromApiKey("sk-x"))).toBeUndefined();
  });

  it("API key mode without a key is a typed error naming the source", () => {
    expect(() => authFromRecord({ auth_mode: "apikey", OPENAI_API_KEY: null }, "/x/auth.json")).toThrowError(
      expect.objectContaining({
        code: "ERR_API_KEY_MISSING",
        message: expect.stringContaining("/x/auth.json"),
      }),
    );
  });

  it("ChatGPT mode without tokens: the snapshot says so, and asking for the bearer token is a typed error", () => {
    const auth = authFromRecord({ OPENAI_API_KEY: null });
    expect(auth.mode).toBe("chatgpt");
    expect(auth.mode === "chatgpt" && auth.tokens).toBeUndefined();
    expect(() => bearerToken(auth)).toThrowError(expect.objectContaining({ code: "ERR_NOT_LOGGED_IN" }));
  });

  it("an environment key is a snapshot without a record, marked with its source", () => {
    const auth = authFromApiKey("sk-env");
    expect(auth).toEqual({
      mode: "apikey",
      source: "env:CODEX_API_KEY",
      apiKey: "sk-env",
      record: undefined,
    });
  });
});

describe("operations", () => {
  it("loginWithApiKey overwrites existing ChatGPT auth (seed test)", async () => {
    const h = home();
    await saveAuth(h, fakeChatgptRecord() as never);
    await loginWithApiKey(h, "sk-new-key", "file");
    expect(await loadAuthRecord(h)).toEqual({ auth_mode: "apikey", OPENAI_API_KEY: "sk-new-key" });
  });

  it("logout removes auth.json and reports whether something was removed (seed test)", async () => {
    const h = home();
    await loginWithApiKey(h, "sk-x");
    expect(await logout(h, "file", { env: noRevoke })).toBe(true);
    expect(existsSync(join(h, "auth.json"))).toBe(false);
    expect(existsSync(join(h, "auth.lock"))).toBe(true);
    expect(await logout(h, "file", { env: noRevoke })).toBe(false);
  });

  it("ephemeral storage keeps records in memory only", async () => {
    const h = home();
    await loginWithApiKey(h, "sk-mem", "ephemeral");
    expect(existsSync(join(h, "auth.json"))).toBe(false);
    expect((await loadAuthRecord(h, "ephemeral"))?.OPENAI_API_KEY).toBe("sk-mem");
    expect(await logout(h, "ephemeral")).toBe(true);
    expect(await loadAuthRecord(h, "ephemeral")).toBeUndefined();
  });
});

describe("AuthManager", () => {
  it("loads once, caches, sees outside changes only after reload", async () => {
    const h = home();
    await loginWithApiKey(h, "sk-first");
    const manager = await AuthManager.create({ codexHome: h });
    const first = manager.authCached();
    expect(first && bearerToken(first)).toBe("sk-first");
    expect(manager.authCached()).toBe(first);
    expect(await manager.auth()).toBe(first);
    await loginWithApiKey(h, "sk-second");
    expect(token(manager)).toBe("sk-first");
    expect(await manager.reload()).toBe(true);
    expect(token(manager)).toBe("sk-second");
    expect(await manager.reload()).toBe(false);
    expect(manager.getAuthMode()).toBe("apikey");
  });

  it("an unreadable record counts as logged out and is reported without secrets", async () => {
    const h = home();
    writeFileSync(join(h, "auth.json"), '{"OPENAI_API_KEY": 12345');
    const logs: string[] = [];
    const manager = await AuthManager.create({ codexHome: h, log: (m) => logs.push(m) });
    expect(manager.authCached()).toBeUndefined();
    expect(logs.join("\n")).toContain("auth.json");
  });

  it("logout removes credentials and reloads", async () => {
    const h = home();
    await loginWithApiKey(h, "sk-x");
    const manager = await AuthManager.create({ codexHome: h, env: noRevoke });
    expect(await manager.logout()).toBe(true);
    expect(manager.authCached()).toBeUndefined();
    expect(manager.getAuthMode()).toBeUndefined();
  });

  it("accepts any storage backend", async () => {
    const storage = new EphemeralAuthStorage("test-key-manager");
    await storage.save({ auth_mode: "apikey", OPENAI_API_KEY: "sk-eph" });
    const manager = await AuthManager.create({ codexHome: home(), storage });
    expect(token(manager)).toBe("sk-eph");
  });
});
