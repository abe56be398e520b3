/**
 * The device-code sign-in API against the real development issuer: progress
 * callbacks, the manager reloaded with the new account, one sign-in per
 * CODEX_HOME, restrictions, and a cancel (AbortSignal, `cancel()`, a newer
 * sign-in) in every state leaving the previous credentials byte for byte.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { DevIssuer, RequestLogEntry } from "../../src/dev-issuer/index.js";
import { AuthManager, cancelSignIn, startDeviceCodeSignIn } from "../../src/index.js";
import type { AuthStorage } from "../../src/storage/index.js";
import { refreshRequest } from "../dev-issuer/helpers.js";
import { type Previous, type SeededHome, testResources } from "../login/helpers.js";
import { gatedFetch, gatedStorage, rejection } from "./gates.js";

const { issuerFor, home, closeAll } = testResources();
afterEach(async () => {
  await closeAll();
});

async function managerFor(seeded: SeededHome, o: { fetch?: typeof fetch; storage?: AuthStorage } = {}) {
  return AuthManager.create({ codexHome: seeded.home, storage: o.storage ?? seeded.storage, env: {}, ...o });
}

/** A person approving the code on `/codex/device`, as the page's form posts it. */
async function approve(issuer: DevIssuer, userCode: string): Promise<void> {
  const res = await fetch(`${issuer.url}/codex/device`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ user_code: userCode, account: "dev@example.com|org_dev", action: "approve" }),
  });
  expect(res.status).toBe(200);
}

/** The issuer's request log as events: `when(match)` resolves once a matching request was answered. */
function requestEvents() {
  const waiting: Array<{ match: (e: RequestLogEntry) => boolean; resolve: () => void }> = [];
  return {
    onRequest(entry: RequestLogEntry) {
      for (const w of [...waiting]) {
        if (!w.match(entry)) continue;
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve();
      }
    },
    when(match: (e: RequestLogEntry) => boolean): Promise<void> {
      return new Promise((resolve) => waiting.push({ match, resolve }));
    },
  };
}

describe("device-code sign-in API", () => {
  it("device-signin-completes: code first, polling and completing reported, account returned, manager reloaded, old refresh token revoked", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("apiKey");
    const chatgptBefore = await home("chatgpt", issuer);
    const manager = await managerFor(chatgptBefore);
    expect(manager.authCached()?.mode).toBe("chatgpt");
    const events: string[] = [];
    const signIn = await startDeviceCodeSignIn({
      manager,
      issuer: issuer.url,
      onDeviceCode: (c) => events.push(`code ${c.userCode} ${c.verificationUrl} ${c.loginId}`),
      onPolling: () => events.push("poll"),
      onCompleting: () => events.push("completing"),
    });
    expect(signIn.verificationUrl).toBe(`${issuer.url}/codex/device`);
    expect(signIn.userCode).toMatch(/^[A-Z0-9]{4}-[A-Z0-9]{5}$/);
    expect(signIn.loginId).toMatch(/^[0-9a-f-]{36}$/);
    const account = await signIn.done;
    expect(account).toEqual({
      mode: "chatgpt",
      email: "dev@example.com",
      planType: "pro",
      accountId: "org_dev",
      userId: expect.stringMatching(/^user-/),
    });
    expect(events[0]).toBe(`code ${signIn.userCode} ${signIn.verificationUrl} ${signIn.loginId}`);
    expect(events.slice(1)).toEqual(["poll", "completing"]);
    const cached = manager.authCached();
    expect(cached?.mode === "chatgpt" && cached.tokens?.refresh_token).toBe(
      (await chatgptBefore.storage.load())?.tokens?.refresh_token,
    );
    expect(chatgptBefore.now()).not.toEqual(chatgptBefore.before);
    // The previous login's refresh token was revoked after the save, as the CLI does.
    expect((await refreshRequest(issuer.url, chatgptBefore.previousRefreshToken!)).status).toBe(401);
    expect(seeded.now()).toEqual(seeded.before); // another home: untouched
  });

  it("device-signin-second-cancels-first: a new sign-in for the same CODEX_HOME cancels the pending one", async () => {
    const issuer = await issuerFor({ deviceIntervalSeconds: 1 }); // nobody approves: the first stays pending
    const seeded = await home("chatgpt", issuer);
    const manager = await managerFor(seeded);
    const first = await startDeviceCodeSignIn({ manager, issuer: issuer.url });
    const second = await startDeviceCodeSignIn({ manager, issuer: issuer.url });
    const err = await rejection(first.done);
    expect(err.code).toBe("ERR_LOGIN_CANCELLED");
    expect(seeded.now()).toEqual(seeded.before);
    expect(second.userCode).not.toBe(first.userCode);
    await approve(issuer, second.userCode);
    expect((await second.done).email).toBe("dev@example.com");
  });

  it("device-signin-cancel-by-id: cancelSignIn(home, loginId) cancels the pending one; unknown ids are notFound", async () => {
    const issuer = await issuerFor();
    const seeded = await home("apiKey");
    const manager = await managerFor(seeded);
    const signIn = await startDeviceCodeSignIn({ manager, issuer: issuer.url });
    expect(cancelSignIn(seeded.home, "not-a-login")).toBe("notFound");
    expect(cancelSignIn(seeded.home, signIn.loginId)).toBe("canceled");
    expect((await rejection(signIn.done)).code).toBe("ERR_LOGIN_CANCELLED");
    expect(seeded.now()).toEqual(seeded.before);
  });

  it("device-signin-restrictions: forced_login_method=api refuses before any request; a workspace not allowed saves nothing", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("apiKey");
    const manager = await managerFor(seeded);
    const refused = await rejection(
      startDeviceCodeSignIn({
        manager,
        issuer: issuer.url,
        config: { forcedLoginMethod: "api", forcedChatgptWorkspaceIds: undefined },
      }),
    );
    expect(refused.code).toBe("ERR_LOGIN_RESTRICTED");
    expect(issuer.requests.filter((r) => r.path.startsWith("/api/accounts"))).toEqual([]);
    const signIn = await startDeviceCodeSignIn({
      manager,
      issuer: issuer.url,
      config: { forcedLoginMethod: undefined, forcedChatgptWorkspaceIds: ["org_other"] },
    });
    expect((await rejection(signIn.done)).code).toBe("ERR_LOGIN_RESTRICTED");
    expect(seeded.now()).toEqual(seeded.before);
    expect(manager.authCached()?.mode).toBe("apikey");
  });

  it("device-signin-config-from-home: without a config, CODEX_HOME/config.toml is read as Codex reads it", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("none");
    writeFileSync(join(seeded.home, "config.toml"), 'forced_login_method = "api"\n');
    const manager = await managerFor(seeded);
    expect((await rejection(startDeviceCodeSignIn({ manager, issuer: issuer.url }))).code).toBe(
      "ERR_LOGIN_RESTRICTED",
    );
  });

  it("device-signin-unreadable-storage: an invalid auth.json is never replaced; the start fails before any request", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("none");
    writeFileSync(join(seeded.home, "auth.json"), "{ not json");
    const manager = await managerFor(seeded);
    const err = await rejection(startDeviceCodeSignIn({ manager, issuer: issuer.url }));
    expect(err.code).toBe("ERR_AUTH_FILE_MALFORMED");
    expect(issuer.requests.filter((r) => r.path.startsWith("/api/accounts"))).toEqual([]);
  });
});

describe("device-code sign-in API: a cancel in every state keeps the previous credentials byte for byte", () => {
  const PREVIOUS: Previous[] = ["apiKey", "chatgpt"];

  for (const previous of PREVIOUS) {
    it(`device-abort-before-start (${previous}): an aborted signal refuses at once, nothing requested`, async () => {
      const issuer = await issuerFor({ autoApprove: true });
      const seeded = await home(previous, issuer);
      const manager = await managerFor(seeded);
      const err = await rejection(
        startDeviceCodeSignIn({ manager, issuer: issuer.url, signal: AbortSignal.abort() }),
      );
      expect(err.code).toBe("ERR_LOGIN_CANCELLED");
      expect(issuer.requests.filter((r) => r.path.startsWith("/api/accounts"))).toEqual([]);
      expect(seeded.now()).toEqual(seeded.before);
    });

    it(`device-abort-requesting-code (${previous}): abort while the user code is being requested`, async () => {
      const issuer = await issuerFor({ autoApprove: true });
      const seeded = await home(previous, issuer);
      const { fetch, gate } = gatedFetch((url) => url.endsWith("/deviceauth/usercode"));
      const manager = await managerFor(seeded, { fetch });
      const controller = new AbortController();
      const start = startDeviceCodeSignIn({ manager, issuer: issuer.url, signal: controller.signal });
      await gate.reached;
      controller.abort();
      expect((await rejection(start)).code).toBe("ERR_LOGIN_CANCELLED");
      gate.open();
      expect(seeded.now()).toEqual(seeded.before);
    });

    it(`device-abort-waiting (${previous}): abort between polls (waiting for the person)`, async () => {
      const events = requestEvents();
      const issuer = await issuerFor({ onRequest: events.onRequest });
      const seeded = await home(previous, issuer);
      const manager = await managerFor(seeded);
      const controller = new AbortController();
      const polled = events.when(
        (e) => e.path === "/api/accounts/deviceauth/token" && e.outcome === "pending",
      );
      const signIn = await startDeviceCodeSignIn({ manager, issuer: issuer.url, signal: controller.signal });
      await polled;
      controller.abort();
      expect((await rejection(signIn.done)).code).toBe("ERR_LOGIN_CANCELLED");
      // Approving now changes nothing: nobody polls any more.
      await approve(issuer, signIn.userCode);
      expect(seeded.now()).toEqual(seeded.before);
      expect(
        issuer.requests.filter((r) => r.path === "/oauth/token" && r.grant_type === "authorization_code"),
      ).toEqual(
        previous === "chatgpt" ? [expect.anything()] : [], // the seeding itself
      );
    });

    it(`device-abort-polling (${previous}): abort while a poll is in flight`, async () => {
      const issuer = await issuerFor({ autoApprove: true });
      const seeded = await home(previous, issuer);
      const { fetch, gate } = gatedFetch((url) => url.endsWith("/deviceauth/token"));
      const manager = await managerFor(seeded, { fetch });
      const controller = new AbortController();
      const signIn = await startDeviceCodeSignIn({ manager, issuer: issuer.url, signal: controller.signal });
      await gate.reached;
      controller.abort();
      gate.open();
      expect((await rejection(signIn.done)).code).toBe("ERR_LOGIN_CANCELLED");
      expect(seeded.now()).toEqual(seeded.before);
    });

    it(`device-abort-exchanging (${previous}): cancel() while the approved code is being exchanged`, async () => {
      const issuer = await issuerFor({ autoApprove: true });
      const seeded = await home(previous, issuer);
      const { fetch, gate } = gatedFetch(
        (url, body) => url.endsWith("/oauth/token") && body.includes("grant_type=authorization_code"),
      );
      const manager = await managerFor(seeded, { fetch });
      const signIn = await startDeviceCodeSignIn({ manager, issuer: issuer.url });
      await gate.reached;
      signIn.cancel();
      gate.open(); // the exchange completes, but nothing is saved
      expect((await rejection(signIn.done)).code).toBe("ERR_LOGIN_CANCELLED");
      expect(seeded.now()).toEqual(seeded.before);
    });

    it(`device-abort-waiting-for-lock (${previous}): abort while another process holds storage's lock`, async () => {
      const issuer = await issuerFor({ autoApprove: true });
      const seeded = await home(previous, issuer);
      const { storage, gate } = gatedStorage(seeded.storage);
      const manager = await managerFor(seeded, { storage });
      const controller = new AbortController();
      const signIn = await startDeviceCodeSignIn({ manager, issuer: issuer.url, signal: controller.signal });
      await gate.reached;
      controller.abort();
      gate.open();
      expect((await rejection(signIn.done)).code).toBe("ERR_LOGIN_CANCELLED");
      expect(seeded.now()).toEqual(seeded.before);
    });
  }

  it("device-abort-after-save: an abort once the credentials are saved changes nothing", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("apiKey");
    const manager = await managerFor(seeded);
    const controller = new AbortController();
    const signIn = await startDeviceCodeSignIn({ manager, issuer: issuer.url, signal: controller.signal });
    const account = await signIn.done;
    const saved = seeded.now();
    controller.abort();
    signIn.cancel();
    expect(account.mode).toBe("chatgpt");
    expect(seeded.now()).toEqual(saved);
    expect(manager.authCached()?.mode).toBe("chatgpt");
  });
});
