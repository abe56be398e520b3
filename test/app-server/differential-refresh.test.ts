/**
 * Differential: token refresh as the app server exposes it — forced and
 * proactive refreshes, a refresh token already used elsewhere (permanent:
 * the token disappears for the rest of the process), an issuer failing
 * (transient: the old token stays) — with the real `codex app-server` 0.169
 * and ours, answers, notifications and auth.json compared.
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import { refreshRequest } from "../dev-issuer/helpers.js";
import { findCodexBinary } from "../support/env.js";
import { compared, differential, type ServerSetup, type Session } from "./support/differential.js";
import { seedChatgpt } from "./support/seed.js";

const codex = findCodexBinary();
let issuer: DevIssuer;
let shortLived: DevIssuer;
let failing: Server;
let failingUrl: string;

beforeAll(async () => {
  issuer = await startDevIssuer({ autoApprove: true });
  // Access tokens inside the 5-minute refresh window from the start.
  shortLived = await startDevIssuer({ autoApprove: true, accessTtlSeconds: 60 });
  failing = createServer((_req, res) => {
    res.writeHead(500, { "content-type": "application/json" }).end('{"error":"server_error"}');
  });
  await new Promise<void>((resolve) => failing.listen(0, "127.0.0.1", resolve));
  failingUrl = `http://127.0.0.1:${(failing.address() as AddressInfo).port}/oauth/token`;
});
afterAll(async () => {
  await issuer?.close();
  await shortLived?.close();
  await new Promise((resolve) => failing?.close(resolve));
});

async function same(
  setup: Partial<Omit<ServerSetup, "kind" | "codex">>,
  scenario: (s: Session) => Promise<void>,
): Promise<void> {
  const { codex: theirs, ours } = await differential({ codex: codex!, issuer, ...setup }, scenario);
  if (process.env.DIFF_DUMP) console.log(JSON.stringify(compared(theirs), null, 2));
  expect(compared(ours)).toEqual(compared(theirs));
}

async function reads(s: Session): Promise<void> {
  await s.call("account/read", {});
  await s.call("getAuthStatus", { includeToken: true, refreshToken: false });
  await s.call("getAuthStatus", { includeToken: false });
}

/** A ChatGPT login whose refresh token another process has already used. */
function seedSpentRefreshToken() {
  return async (home: string, iss: DevIssuer) => {
    await seedChatgpt()(home, iss);
    const stored = JSON.parse(readFileSync(join(home, "auth.json"), "utf8")) as {
      tokens: { refresh_token: string };
    };
    const spent = await refreshRequest(iss.url, stored.tokens.refresh_token);
    if (spent.status !== 200) throw new Error(`could not spend the refresh token: HTTP ${spent.status}`);
  };
}

describe.skipIf(!codex)("differential against codex app-server 0.169: refresh", () => {
  it("refresh token already used: the token is withheld from then on, account/read looks logged out", async () => {
    await same({ seed: seedSpentRefreshToken() }, async (s) => {
      await s.initialize();
      await s.notification("account/updated");
      await s.call("getAuthStatus", { includeToken: true, refreshToken: true });
      await reads(s);
      await s.call("getAuthStatus", { includeToken: true, refreshToken: true });
      await s.call("account/read", { refreshToken: true });
    });
  });

  it("issuer failing (HTTP 500): transient, the old token stays and is offered", async () => {
    await same({ seed: seedChatgpt(), env: { CODEX_REFRESH_TOKEN_URL_OVERRIDE: failingUrl } }, async (s) => {
      await s.initialize();
      await s.notification("account/updated");
      await s.call("getAuthStatus", { includeToken: true, refreshToken: true });
      await reads(s);
      await s.call("account/read", { refreshToken: true });
    });
  });

  it("access token about to expire: getAuthStatus with the token refreshes it first", async () => {
    await same({ issuer: shortLived, seed: seedChatgpt() }, async (s) => {
      await s.initialize();
      await s.notification("account/updated");
      await s.call("getAuthStatus", { includeToken: true, refreshToken: false });
      await s.call("account/read", {});
    });
  });
});
