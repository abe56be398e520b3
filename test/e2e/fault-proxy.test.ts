/**
 * Hardening, kind 6, against the real dev issuer behind a fault-injecting
 * reverse proxy: every path that talks to the issuer gets through a
 * transient fault — device polling and its exchange, the browser sign-in's
 * exchange, refresh, revoke — with the issuer's own log counting what
 * really happened (one approval used, one rotation, one revoke). Sleeps are
 * injected: nothing waits for real.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { DevIssuer } from "../../src/dev-issuer/index.js";
import { AuthManager, bearerToken, logout } from "../../src/index.js";
import { startBrowserLogin } from "../../src/login/browser.js";
import { runDeviceLogin } from "../../src/login/device.js";
import { authorizeToCallback, testResources } from "../login/helpers.js";
import { type FaultProxy, startFaultProxy } from "../support/fault-proxy.js";

const { issuerFor, home, closeAll, cleanups } = testResources();
let issuer: DevIssuer;
let proxy: FaultProxy;
beforeAll(async () => {
  issuer = await issuerFor({ autoApprove: true });
  proxy = await startFaultProxy(issuer.url);
});
afterEach(() => expect(proxy.pending()).toBe(0));
afterAll(async () => {
  await proxy.close();
  await closeAll();
});
const noWait = async () => {};
const count = (path: string, outcome?: string) =>
  issuer.requests.filter((r) => r.path === path && (outcome === undefined || r.outcome === outcome)).length;

describe("transient-faults-never-throw-away-an-approval (real dev issuer behind a fault proxy)", () => {
  it("device code: a 502 on the first poll and a dropped connection on the exchange; signed in", async () => {
    const seeded = await home("none");
    proxy.inject("/api/accounts/deviceauth/token", { status: 502 });
    proxy.inject("/oauth/token", "reset");
    const record = await runDeviceLogin({
      issuer: proxy.url,
      storage: seeded.storage,
      env: {},
      sleep: noWait,
    });
    expect(record.tokens?.account_id).toBe("org_dev");
    expect(seeded.now()).toBeDefined();
  });

  it("browser: a 503 with Retry-After on the code exchange; signed in with the one code", async () => {
    const seeded = await home("none");
    const l = await startBrowserLogin({
      issuer: proxy.url,
      storage: seeded.storage,
      port: 0,
      env: {},
      sleep: noWait,
    });
    cleanups.push(async () => {
      l.cancel();
      await l.closed;
    });
    const callback = await authorizeToCallback(l.authUrl, proxy.url);
    proxy.inject("/oauth/token", { status: 503, retryAfter: "3" });
    expect(await l.submitPasted(callback.href)).toBeUndefined();
    const record = await l.done;
    expect(record.auth_mode).toBe("chatgpt");
  });

  it("refresh: one 502, then one rotation; revoke: two 503s, then one revocation", async () => {
    const tokens = await issuer.issueTokens();
    const seeded = await home("none");
    writeFileSync(
      join(seeded.home, "auth.json"),
      JSON.stringify({
        auth_mode: "chatgpt",
        OPENAI_API_KEY: null,
        tokens: { ...tokens, account_id: "org_dev" },
        last_refresh: new Date(Date.now() - 2 * 3_600_000).toISOString(),
      }),
      { mode: 0o600 },
    );
    const env = {
      CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${proxy.url}/oauth/token`,
      CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${proxy.url}/oauth/revoke`,
    };
    const rotated = count("/oauth/token", "rotated");
    proxy.inject("/oauth/token", { status: 502 });
    const m = await AuthManager.create({ codexHome: seeded.home, env, sleep: noWait });
    const auth = await m.auth();
    expect(count("/oauth/token", "rotated") - rotated).toBe(1);
    expect(auth && bearerToken(auth)).not.toBe(tokens.access_token);

    const revoked = count("/oauth/revoke");
    proxy.inject("/oauth/revoke", { status: 503 }, { status: 503 });
    let warned = false;
    expect(
      await logout(seeded.home, "file", {
        env,
        sleep: noWait,
        onRevokeFailed: () => {
          warned = true;
        },
      }),
    ).toBe(true);
    expect(count("/oauth/revoke") - revoked).toBe(1);
    expect(warned).toBe(false);
  });
});
