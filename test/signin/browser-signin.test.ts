/**
 * The browser sign-in API against the real development issuer, on free
 * ports (so these run beside other files; the real port 1455 and Chromium
 * are in test/e2e/browser-signin-api.test.ts): the callback and paste-back
 * through the API, one sign-in per CODEX_HOME, and a cancel in every state
 * leaving the previous credentials byte for byte.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  AuthManager,
  type ChatgptSignIn,
  type ChatgptSignInOptions,
  cancelSignIn,
  startChatgptSignIn,
} from "../../src/index.js";
import type { AuthStorage } from "../../src/storage/index.js";
import { refreshRequest } from "../dev-issuer/helpers.js";
import {
  authorizeToCallback,
  type Previous,
  pathAndQuery,
  rawGet,
  readAuthJson,
  type SeededHome,
  testResources,
} from "../login/helpers.js";
import { gatedFetch, gatedStorage, rejection } from "./gates.js";

const { cleanups, issuerFor, home, closeAll } = testResources();
afterEach(async () => {
  await closeAll();
});

async function managerFor(seeded: SeededHome, o: { fetch?: typeof fetch; storage?: AuthStorage } = {}) {
  return AuthManager.create({ codexHome: seeded.home, storage: o.storage ?? seeded.storage, env: {}, ...o });
}

/** A sign-in on a free port, always cancelled and closed after the test. */
async function start(o: ChatgptSignInOptions): Promise<ChatgptSignIn> {
  const signIn = await startChatgptSignIn({ port: 0, successGraceMs: 50, ...o });
  cleanups.push(async () => {
    signIn.cancel();
    await signIn.closed;
  });
  return signIn;
}

describe("browser sign-in API", () => {
  it("browser-signin-completes: the URL at once, the callback saves, the manager reloads, the account is returned", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("chatgpt", issuer);
    const manager = await managerFor(seeded);
    const events: string[] = [];
    const signIn = await start({
      manager,
      issuer: issuer.url,
      originator: "my_editor",
      onUrl: (u) => events.push(`url ${u.loginId} ${u.port} ${u.authUrl}`),
      onCompleting: () => events.push("completing"),
    });
    expect(new URL(signIn.authUrl).searchParams.get("originator")).toBe("my_editor");
    expect(new URL(signIn.authUrl).searchParams.get("redirect_uri")).toBe(signIn.redirectUri);
    expect(signIn.redirectUri).toBe(`http://127.0.0.1:${signIn.port}/auth/callback`);
    const callback = await authorizeToCallback(signIn.authUrl, issuer.url);
    expect((await rawGet(signIn.port, pathAndQuery(callback))).status).toBe(302);
    const account = await signIn.done;
    expect(account).toEqual({
      mode: "chatgpt",
      email: "dev@example.com",
      planType: "pro",
      accountId: "org_dev",
      userId: expect.stringMatching(/^user-/),
    });
    expect(events).toEqual([`url ${signIn.loginId} ${signIn.port} ${signIn.authUrl}`, "completing"]);
    const cached = manager.authCached();
    expect(cached?.mode === "chatgpt" && cached.tokens?.refresh_token).toBe(
      readAuthJson(seeded.home).tokens.refresh_token,
    );
    expect(readAuthJson(seeded.home).OPENAI_API_KEY).toMatch(/^sk-dev-/);
    expect(issuer.requests.at(-1)?.path).toBe("/oauth/revoke"); // the previous login, after the save
    await signIn.closed;
  });

  it("browser-signin-paste-back: the final URL pasted into the host goes through the same checks", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("apiKey");
    const manager = await managerFor(seeded);
    const signIn = await start({ manager, issuer: issuer.url });
    const callback = await authorizeToCallback(signIn.authUrl, issuer.url);
    const forged = new URL(callback);
    forged.searchParams.set("state", "forged");
    expect(await signIn.submitPastedUrl(forged.href)).toBe("State mismatch");
    expect(seeded.now()).toEqual(seeded.before);
    expect(await signIn.submitPastedUrl(callback.href)).toBeUndefined();
    expect((await signIn.done).email).toBe("dev@example.com");
    await signIn.closed;
  });

  it("browser-signin-second-cancels-first: a new sign-in cancels the pending one and waits for its port", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("chatgpt", issuer);
    const manager = await managerFor(seeded);
    const first = await start({ manager, issuer: issuer.url });
    const firstCallback = await authorizeToCallback(first.authUrl, issuer.url);
    const second = await start({ manager, issuer: issuer.url });
    expect((await rejection(first.done)).code).toBe("ERR_LOGIN_CANCELLED");
    await first.closed; // already closed before the second started
    await expect(rawGet(first.port, pathAndQuery(firstCallback))).rejects.toThrow();
    expect(seeded.now()).toEqual(seeded.before);
    const callback = await authorizeToCallback(second.authUrl, issuer.url);
    expect((await rawGet(second.port, pathAndQuery(callback))).status).toBe(302);
    expect((await second.done).mode).toBe("chatgpt");
  });

  it("browser-signin-cancel-by-id: cancelSignIn(home, loginId) cancels; a settled or unknown id is notFound", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("apiKey");
    const manager = await managerFor(seeded);
    const signIn = await start({ manager, issuer: issuer.url });
    expect(cancelSignIn(seeded.home, signIn.loginId)).toBe("canceled");
    expect((await rejection(signIn.done)).code).toBe("ERR_LOGIN_CANCELLED");
    await signIn.closed;
    expect(cancelSignIn(seeded.home, signIn.loginId)).toBe("notFound");
    expect(seeded.now()).toEqual(seeded.before);
  });

  it("browser-signin-restricted: forced_login_method=api refuses without binding a port", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("apiKey");
    const manager = await managerFor(seeded);
    const err = await rejection(
      startChatgptSignIn({
        manager,
        issuer: issuer.url,
        port: 0,
        config: { forcedLoginMethod: "api", forcedChatgptWorkspaceIds: undefined },
      }),
    );
    expect(err.code).toBe("ERR_LOGIN_RESTRICTED");
    expect(err.message).toBe("ChatGPT login is disabled. Use API key login instead.");
  });

  it("browser-signin-workspace: forced_chatgpt_workspace_id goes into the URL; the issuer refuses a user outside it and nothing is saved", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("apiKey");
    const manager = await managerFor(seeded);
    const signIn = await start({
      manager,
      issuer: issuer.url,
      config: { forcedLoginMethod: undefined, forcedChatgptWorkspaceIds: ["org_other"] },
    });
    expect(new URL(signIn.authUrl).searchParams.get("allowed_workspace_id")).toBe("org_other");
    const callback = await authorizeToCallback(signIn.authUrl, issuer.url);
    await rawGet(signIn.port, pathAndQuery(callback)).catch(() => undefined);
    expect((await rejection(signIn.done)).code).toBe("ERR_LOGIN_DENIED");
    expect(seeded.now()).toEqual(seeded.before);
  });
});

describe("browser sign-in API: a cancel in every state keeps the previous credentials byte for byte", () => {
  const PREVIOUS: Previous[] = ["apiKey", "chatgpt"];
  for (const previous of PREVIOUS) {
    it(`browser-abort-before-start (${previous}): an aborted signal refuses before binding`, async () => {
      const issuer = await issuerFor({ autoApprove: true });
      const seeded = await home(previous, issuer);
      const manager = await managerFor(seeded);
      const err = await rejection(
        startChatgptSignIn({ manager, issuer: issuer.url, port: 0, signal: AbortSignal.abort() }),
      );
      expect(err.code).toBe("ERR_LOGIN_CANCELLED");
      expect(seeded.now()).toEqual(seeded.before);
    });

    it(`browser-abort-waiting (${previous}): abort while waiting for the browser; the server closes`, async () => {
      const issuer = await issuerFor({ autoApprove: true });
      const seeded = await home(previous, issuer);
      const manager = await managerFor(seeded);
      const controller = new AbortController();
      const signIn = await start({ manager, issuer: issuer.url, signal: controller.signal });
      const callback = await authorizeToCallback(signIn.authUrl, issuer.url);
      controller.abort();
      expect((await rejection(signIn.done)).code).toBe("ERR_LOGIN_CANCELLED");
      await signIn.closed;
      await expect(rawGet(signIn.port, pathAndQuery(callback))).rejects.toThrow();
      expect(seeded.now()).toEqual(seeded.before);
    });

    it(`browser-abort-exchanging (${previous}): abort while the code is being exchanged`, async () => {
      const issuer = await issuerFor({ autoApprove: true });
      const seeded = await home(previous, issuer);
      const { fetch, gate } = gatedFetch(
        (url, body) => url.endsWith("/oauth/token") && body.includes("grant_type=authorization_code"),
      );
      const manager = await managerFor(seeded, { fetch });
      const controller = new AbortController();
      const signIn = await start({ manager, issuer: issuer.url, signal: controller.signal });
      const callback = await authorizeToCallback(signIn.authUrl, issuer.url);
      const page = rawGet(signIn.port, pathAndQuery(callback));
      await gate.reached;
      controller.abort();
      gate.open();
      expect((await rejection(signIn.done)).code).toBe("ERR_LOGIN_CANCELLED");
      await page.catch(() => undefined); // the server closed under the browser's request
      expect(seeded.now()).toEqual(seeded.before);
    });

    it(`browser-abort-api-key-exchange (${previous}): abort during the API-key token exchange`, async () => {
      const issuer = await issuerFor({ autoApprove: true });
      const seeded = await home(previous, issuer);
      const { fetch, gate } = gatedFetch(
        (url, body) => url.endsWith("/oauth/token") && body.includes("token-exchange"),
      );
      const manager = await managerFor(seeded, { fetch });
      const signIn = await start({ manager, issuer: issuer.url });
      const callback = await authorizeToCallback(signIn.authUrl, issuer.url);
      const page = rawGet(signIn.port, pathAndQuery(callback));
      await gate.reached;
      signIn.cancel();
      gate.open();
      expect((await rejection(signIn.done)).code).toBe("ERR_LOGIN_CANCELLED");
      await page.catch(() => undefined);
      expect(seeded.now()).toEqual(seeded.before);
    });

    it(`browser-abort-waiting-for-lock (${previous}): abort while another process holds storage's lock`, async () => {
      const issuer = await issuerFor({ autoApprove: true });
      const seeded = await home(previous, issuer);
      const { storage, gate } = gatedStorage(seeded.storage);
      const manager = await managerFor(seeded, { storage });
      const controller = new AbortController();
      const signIn = await start({ manager, issuer: issuer.url, signal: controller.signal });
      const callback = await authorizeToCallback(signIn.authUrl, issuer.url);
      const page = rawGet(signIn.port, pathAndQuery(callback));
      await gate.reached;
      controller.abort();
      // Rejected at once, though the lock is still held.
      expect((await rejection(signIn.done)).code).toBe("ERR_LOGIN_CANCELLED");
      gate.open();
      await page.catch(() => undefined);
      expect(seeded.now()).toEqual(seeded.before);
      // The dropped sign-in's tokens are revoked (Codex leaves them live); the previous login never is.
      await expect.poll(() => issuer.requests.filter((r) => r.path === "/oauth/revoke").length).toBe(1);
      if (seeded.previousRefreshToken !== undefined) {
        expect((await refreshRequest(issuer.url, seeded.previousRefreshToken)).status).toBe(200);
      }
    });
  }

  it("browser-abort-after-save: an abort once saved changes nothing but frees the port", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("apiKey");
    const manager = await managerFor(seeded);
    const controller = new AbortController();
    const signIn = await start({
      manager,
      issuer: issuer.url,
      signal: controller.signal,
      successGraceMs: 60_000,
    });
    const callback = await authorizeToCallback(signIn.authUrl, issuer.url);
    expect((await rawGet(signIn.port, pathAndQuery(callback))).status).toBe(302);
    const account = await signIn.done;
    const saved = seeded.now();
    controller.abort();
    await signIn.closed; // without waiting out the 60 s grace
    expect(account.mode).toBe("chatgpt");
    expect(seeded.now()).toEqual(saved);
  });
});
