/**
 * signInWithApiKey and signInWithHostTokens: what they save (or do not),
 * the manager reloaded, and their place in "one sign-in per CODEX_HOME".
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  AuthManager,
  activeSignInId,
  signInWithApiKey,
  signInWithHostTokens,
  startDeviceCodeSignIn,
} from "../../src/index.js";
import { codexApiKeyText } from "../fixtures/versions.js";
import { type SeededHome, testResources } from "../login/helpers.js";
import { fakeJwt } from "../support/jwt.js";
import { rejection } from "./gates.js";

const { issuerFor, home, closeAll } = testResources();
afterEach(async () => {
  await closeAll();
});

const managerFor = (seeded: SeededHome) =>
  AuthManager.create({ codexHome: seeded.home, storage: seeded.storage, env: {} });

const hostAccessToken = fakeJwt({
  exp: Math.floor(Date.now() / 1000) + 3600,
  "https://api.openai.com/auth": { chatgpt_plan_type: "pro", chatgpt_user_id: "user-h" },
  "https://api.openai.com/profile": { email: "host@example.com" },
});

describe("signInWithApiKey", () => {
  it("api-key-signin-saves-as-codex: the bytes codex writes, the manager reloaded, a pending sign-in cancelled", async () => {
    const issuer = await issuerFor(); // nobody approves: the device sign-in stays pending
    const seeded = await home("chatgpt", issuer);
    const manager = await managerFor(seeded);
    const pending = await startDeviceCodeSignIn({ manager, issuer: issuer.url });
    expect(activeSignInId(seeded.home)).toBe(pending.loginId);
    const account = await signInWithApiKey({ manager, apiKey: "sk-test-1234567890ABCDEFGH" });
    expect((await rejection(pending.done)).code).toBe("ERR_LOGIN_CANCELLED");
    expect(account).toEqual({
      mode: "apikey",
      email: undefined,
      planType: undefined,
      accountId: undefined,
      userId: undefined,
    });
    expect(seeded.now()?.toString()).toBe(codexApiKeyText("sk-test-1234567890ABCDEFGH"));
    expect(manager.authCached()?.mode).toBe("apikey");
    expect(activeSignInId(seeded.home)).toBeUndefined();
  });

  it("api-key-signin-restricted: forced_login_method=chatgpt refuses with Codex's words; nothing changes", async () => {
    const seeded = await home("none");
    const manager = await managerFor(seeded);
    const err = await rejection(
      signInWithApiKey({
        manager,
        apiKey: "sk-x",
        config: { forcedLoginMethod: "chatgpt", forcedChatgptWorkspaceIds: undefined },
      }),
    );
    expect([err.code, err.message]).toEqual([
      "ERR_LOGIN_RESTRICTED",
      "API key login is disabled. Use ChatGPT login instead.",
    ]);
    expect(existsSync(join(seeded.home, "auth.json"))).toBe(false);
  });
});

describe("signInWithHostTokens", () => {
  it("host-tokens-memory-only: account from the token's claims with the host's workspace and plan; nothing on disk", async () => {
    const seeded = await home("apiKey");
    const manager = await managerFor(seeded);
    const account = await signInWithHostTokens({
      manager,
      accessToken: hostAccessToken,
      chatgptAccountId: "org_host",
      chatgptPlanType: "team",
    });
    expect(account).toEqual({
      mode: "chatgptAuthTokens",
      email: "host@example.com",
      planType: "team",
      accountId: "org_host",
      userId: "user-h",
    });
    expect(seeded.now()).toEqual(seeded.before);
    const auth = manager.authCached();
    expect(auth?.mode).toBe("chatgptAuthTokens");
    // No plan from the host: the token's claim.
    expect(
      (await signInWithHostTokens({ manager, accessToken: hostAccessToken, chatgptAccountId: "org_host" }))
        .planType,
    ).toBe("pro");
  });

  it("host-tokens-give-way: a later API-key sign-in replaces them", async () => {
    const seeded = await home("none");
    const manager = await managerFor(seeded);
    await signInWithHostTokens({ manager, accessToken: hostAccessToken, chatgptAccountId: "org_host" });
    await signInWithApiKey({ manager, apiKey: "sk-after" });
    expect(manager.authCached()?.mode).toBe("apikey");
    await manager.reload();
    expect(manager.authCached()?.mode).toBe("apikey");
  });

  it("host-tokens-never-refreshed-proactively: an expired host token is not refreshed by auth(); recovery asks the host", async () => {
    const seeded = await home("none");
    const manager = await managerFor(seeded);
    const expired = fakeJwt({ exp: Math.floor(Date.now() / 1000) - 60 });
    const asked: unknown[] = [];
    await signInWithHostTokens({
      manager,
      accessToken: expired,
      chatgptAccountId: "org_host",
      refreshTokens: async (request) => {
        asked.push(request);
        return { accessToken: hostAccessToken, chatgptAccountId: "org_host" };
      },
    });
    const auth = await manager.auth();
    expect(auth?.mode === "chatgptAuthTokens" && auth.tokens?.access_token).toBe(expired);
    expect(asked).toEqual([]);
    const recovery = manager.unauthorizedRecovery();
    expect(recovery.hasNext()).toBe(true);
    await recovery.next();
    expect(recovery.hasNext()).toBe(false);
    expect(asked).toEqual([{ reason: "unauthorized", previousAccountId: "org_host" }]);
    const after = manager.authCached();
    expect(after?.mode === "chatgptAuthTokens" && after.tokens?.access_token).toBe(hostAccessToken);
  });
});

describe("the ephemeral slot is shared with cli_auth_credentials_store = ephemeral (as in Codex)", () => {
  it("ephemeral-store-sign-in-kept: a device sign-in saved in ephemeral storage survives the sign-in's own cleanup and logout revokes it", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("none");
    const manager = await AuthManager.create({
      codexHome: seeded.home,
      credentialsStore: "ephemeral",
      env: {},
    });
    const signIn = await startDeviceCodeSignIn({ manager, issuer: issuer.url });
    expect((await signIn.done).mode).toBe("chatgpt");
    expect(manager.authCached()?.mode).toBe("chatgpt");
    await manager.reload();
    expect(manager.authCached()?.mode).toBe("chatgpt");
    expect(await manager.logout()).toBe(true);
    expect(issuer.requests.filter((r) => r.path === "/oauth/revoke").map((r) => r.outcome)).toEqual([
      "revoked",
    ]);
    expect(existsSync(join(seeded.home, "auth.json"))).toBe(false);
  });
});
