/**
 * Differential: every account method in the logged-out, API-key and ChatGPT
 * states, logout, refresh, login restrictions and sign-in flows — the same
 * conversation with the real `codex app-server` 0.169 and with ours, every
 * answer and account notification compared after masking.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import { chromiumAvailable, holdCallbackPorts, launchChromium } from "../support/browser.js";
import { findCodexBinary } from "../support/env.js";
import { compared, differential, type ServerSetup, type Session } from "./support/differential.js";
import { browseSignIn, seedApiKey, seedChatgpt, seedRaw } from "./support/seed.js";

const codex = findCodexBinary();
let issuer: DevIssuer;
/** An issuer that leaves device codes pending (nobody approves them). */
let slowIssuer: DevIssuer;

beforeAll(async () => {
  issuer = await startDevIssuer({ autoApprove: true });
  slowIssuer = await startDevIssuer({ deviceIntervalSeconds: 1 });
});
afterAll(async () => {
  await issuer?.close();
  await slowIssuer?.close();
});

async function same(
  setup: Partial<Omit<ServerSetup, "kind" | "codex">>,
  scenario: (s: Session) => Promise<void>,
): Promise<void> {
  const { codex: theirs, ours } = await differential({ codex: codex!, issuer, ...setup }, scenario);
  if (process.env.DIFF_DUMP) console.log(JSON.stringify(compared(theirs), null, 2));
  expect(compared(ours)).toEqual(compared(theirs));
}

/** Runs with the callback ports 1455/1457 held, as every browser sign-in test does. */
async function withCallbackPorts(fn: () => Promise<void>): Promise<void> {
  const release = await holdCallbackPorts();
  try {
    await fn();
  } finally {
    release();
  }
}

/** Every read an account client makes, in one go. */
async function reads(s: Session): Promise<void> {
  await s.call("account/read", {});
  await s.call("account/read", { refreshToken: false });
  await s.call("getAuthStatus", { includeToken: true, refreshToken: false });
  await s.call("getAuthStatus", { includeToken: false, refreshToken: false });
  await s.call("getAuthStatus", { includeToken: null, refreshToken: null });
  await s.call("getAuthStatus", {});
}

describe.skipIf(!codex)("differential against codex app-server 0.169: account methods", () => {
  it("logged out: reads, refresh flags, rate limits, cancel of unknown logins, logout twice", async () => {
    await same({}, async (s) => {
      await s.initialize();
      await reads(s);
      await s.call("account/read", { refreshToken: true });
      await s.call("getAuthStatus", { includeToken: true, refreshToken: true });
      await s.call("account/rateLimits/read", undefined, { noParams: true });
      await s.call("account/login/cancel", { loginId: "8182b0dc-d7ac-4a0e-b599-86c39ee5837c" });
      await s.call("account/login/cancel", { loginId: "not-a-uuid" });
      await s.call("account/logout", undefined, { noParams: true });
      await s.notification("account/updated");
      await s.call("account/logout", {});
      await s.notification("account/updated");
      await reads(s);
    });
  });

  it("API key: reads, empty and padded keys stored as given, logout", async () => {
    await same({ seed: seedApiKey("sk-seeded-1234567890ABCDEF") }, async (s) => {
      await s.initialize();
      await reads(s);
      await s.call("account/read", { refreshToken: true });
      await s.call("getAuthStatus", { includeToken: true, refreshToken: true });
      await s.call("account/rateLimits/read", {});
      await s.call("account/login/start", { type: "apiKey", apiKey: "" });
      await s.notification("account/login/completed");
      await s.notification("account/updated");
      await reads(s);
      await s.call("account/login/start", { type: "apiKey", apiKey: "  sk-padded-1234567890  " });
      await s.notification("account/login/completed");
      await s.notification("account/updated");
      await reads(s);
      await s.call("account/logout", undefined, { noParams: true });
      await s.notification("account/updated");
      await reads(s);
    });
  });

  it("ChatGPT: announced after start-up, reads with workspace routing, forced refreshes, logout", async () => {
    await same({ seed: seedChatgpt() }, async (s) => {
      await s.initialize();
      await s.notification("account/updated");
      await reads(s);
      await s.call("getAuthStatus", { includeToken: true, refreshToken: true });
      await s.call("getAuthStatus", { includeToken: true, refreshToken: true });
      await s.call("account/read", { refreshToken: true });
      await s.call("getAuthStatus", { includeToken: false, refreshToken: true });
      await s.call("account/rateLimits/read", undefined, { noParams: true });
      await s.call("account/rateLimits/read", { supportsLunaReserve: true });
      await s.call("account/logout", undefined, { noParams: true });
      await s.notification("account/updated");
      await reads(s);
    });
  });

  it("ChatGPT without tokens.account_id: no workspace lookup, refresh skipped", async () => {
    await same({ seed: seedChatgpt({ accountId: false }) }, async (s) => {
      await s.initialize();
      await reads(s);
      await s.call("account/read", { refreshToken: true });
      await s.call("getAuthStatus", { includeToken: true, refreshToken: true });
    });
  });

  it("ChatGPT with an unreachable backend: account/read fails as Codex's does, getAuthStatus works", async () => {
    await same({ seed: seedChatgpt(), chatgptBaseUrl: "http://127.0.0.1:9/backend-api/" }, async (s) => {
      await s.initialize();
      await reads(s);
    });
  });

  it("malformed or unusable auth.json counts as logged out", async () => {
    for (const text of [
      "{",
      "[]",
      "",
      "null",
      '{"OPENAI_API_KEY":123}',
      '{"auth_mode":"bogus","OPENAI_API_KEY":"sk-x"}',
    ]) {
      await same({ seed: seedRaw(text) }, async (s) => {
        await s.initialize();
        await reads(s);
      });
    }
  });

  it("forced_login_method = api: ChatGPT credentials hidden, ChatGPT sign-ins refused, API keys accepted", async () => {
    await same({ seed: seedChatgpt(), config: ['forced_login_method = "api"'] }, async (s) => {
      await s.initialize();
      await reads(s);
      await s.call("account/login/start", { type: "chatgpt" });
      await s.call("account/login/start", { type: "chatgptDeviceCode" });
      await s.call("account/login/start", { type: "apiKey", apiKey: "sk-policy-1234567890ABCDEF" });
      await s.notification("account/login/completed");
      await s.notification("account/updated");
      await reads(s);
    });
  });

  it("forced_login_method = chatgpt: API keys hidden and refused", async () => {
    await same(
      { seed: seedApiKey("sk-seeded-1234567890ABCDEF"), config: ['forced_login_method = "chatgpt"'] },
      async (s) => {
        await s.initialize();
        await reads(s);
        await s.call("account/login/start", { type: "apiKey", apiKey: "sk-policy-1234567890ABCDEF" });
        await reads(s);
      },
    );
  });

  it("forced_chatgpt_workspace_id: another workspace is hidden; the allowed one is shown", async () => {
    await same({ seed: seedChatgpt(), config: ['forced_chatgpt_workspace_id = "org_other"'] }, async (s) => {
      await s.initialize();
      await reads(s);
    });
    await same({ seed: seedChatgpt(), config: ['forced_chatgpt_workspace_id = "org_dev"'] }, async (s) => {
      await s.initialize();
      await s.notification("account/updated");
      await reads(s);
    });
  });

  it("device code: start, completed and account/updated, then the new account", async () => {
    await same({}, async (s) => {
      await s.initialize();
      await s.call("account/login/start", { type: "chatgptDeviceCode" });
      await s.notification("account/login/completed");
      await s.notification("account/updated");
      await reads(s);
    });
  });

  it("device code in a forbidden workspace: completed with Codex's error, nothing stored", async () => {
    await same({ config: ['forced_chatgpt_workspace_id = "org_other"'] }, async (s) => {
      await s.initialize();
      await s.call("account/login/start", { type: "chatgptDeviceCode" });
      await s.notification("account/login/completed");
      await reads(s);
    });
  });

  it("device code: start, cancel, cancel again, start twice (the second replaces the first)", async () => {
    await same({ issuer: slowIssuer }, async (s) => {
      await s.initialize();
      const started = await s.call("account/login/start", { type: "chatgptDeviceCode" });
      const loginId = (started.result as { loginId: string }).loginId;
      await s.call("account/login/cancel", { loginId });
      await s.notification("account/login/completed");
      await s.call("account/login/cancel", { loginId });
      await s.call("account/login/start", { type: "chatgptDeviceCode" });
      const second = await s.call("account/login/start", { type: "chatgptDeviceCode" });
      await s.notification("account/login/completed");
      await s.call("account/login/cancel", { loginId: (second.result as { loginId: string }).loginId });
      await s.notification("account/login/completed");
      await reads(s);
    });
  });

  it("device code cannot start: the issuer is unreachable", async () => {
    await same({ env: { CODEX_APP_SERVER_LOGIN_ISSUER: "http://127.0.0.1:9" } }, async (s) => {
      await s.initialize();
      await s.call("account/login/start", { type: "chatgptDeviceCode" });
      await reads(s);
    });
  });

  it("browser: start, cancel, notFound, start, replaced by a second start, API key login ends the pending one", async () => {
    await withCallbackPorts(() =>
      same({}, async (s) => {
        await s.initialize();
        const first = await s.call("account/login/start", { type: "chatgpt" });
        const loginId = (first.result as { loginId: string }).loginId;
        await s.call("account/login/cancel", { loginId });
        await s.notification("account/login/completed");
        await s.call("account/login/cancel", { loginId });
        await s.call("account/login/start", { type: "chatgpt" });
        await s.call("account/login/start", { type: "chatgpt" });
        await s.notification("account/login/completed");
        await s.call("account/login/start", { type: "apiKey", apiKey: "sk-after-browser-1234567890" });
        await s.notification("account/login/completed");
        await s.notification("account/login/completed");
        await s.notification("account/updated");
        await reads(s);
      }),
    );
  });

  it("browser: the callback completes the sign-in; completed and updated once the success page loads", async () => {
    await withCallbackPorts(() =>
      same({}, async (s) => {
        await s.initialize();
        const started = await s.call("account/login/start", { type: "chatgpt" });
        const { callback, success } = await browseSignIn(
          (started.result as { authUrl: string }).authUrl,
          s.issuer,
        );
        expect([callback, success]).toEqual([302, 200]);
        await s.notification("account/login/completed");
        await s.notification("account/updated");
        await reads(s);
      }),
    );
  });
});

describe.skipIf(!codex || !chromiumAvailable())(
  "differential against codex app-server 0.169: real browser",
  () => {
    it("browser sign-in in headless Chromium: completed and updated after the success page", async () => {
      const chromium = await launchChromium();
      try {
        await withCallbackPorts(() =>
          same({}, async (s) => {
            await s.initialize();
            const started = await s.call("account/login/start", { type: "chatgpt" });
            const page = await chromium.newPage();
            try {
              await page.goto((started.result as { authUrl: string }).authUrl);
              await page.waitForURL(/^http:\/\/127\.0\.0\.1:1455\/success/, { timeout: 20_000 });
              await s.notification("account/login/completed");
              await s.notification("account/updated");
            } finally {
              await page.close();
            }
            await s.call("account/read", {});
            await s.call("getAuthStatus", { includeToken: true });
          }),
        );
      } finally {
        await chromium.close();
      }
    });
  },
);
