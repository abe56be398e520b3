/**
 * Differential: host-supplied ChatGPT tokens (`chatgptAuthTokens`, an
 * experimental sign-in) — taken in memory, checked against the backend, and,
 * when the backend refuses them, refreshed by asking the client with the
 * `account/chatgptAuthTokens/refresh` request (answered with tokens, or with
 * an error). The same conversation with the real `codex app-server` 0.169
 * and with ours; answers, notifications, server requests and auth.json
 * compared. A refresh request the client never answers is ours only: Codex
 * then stops answering account requests.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import { findCodexBinary, makeCodexHome, removeCodexHome } from "../support/env.js";
import { compared, differential, type Session, serverEnv } from "./support/differential.js";
import { RpcProcess } from "./support/rpc-process.js";

const codex = findCodexBinary();
let issuer: DevIssuer;
/** Another issuer: its tokens are refused by the first one's backend (HTTP 401). */
let stranger: DevIssuer;

beforeAll(async () => {
  issuer = await startDevIssuer({ autoApprove: true });
  stranger = await startDevIssuer({ autoApprove: true });
});
afterAll(async () => {
  await issuer?.close();
  await stranger?.close();
});

async function same(scenario: (s: Session) => Promise<void>): Promise<void> {
  const { codex: theirs, ours } = await differential({ codex: codex!, issuer }, scenario);
  if (process.env.DIFF_DUMP) console.log(JSON.stringify(compared(theirs), null, 2));
  expect(compared(ours)).toEqual(compared(theirs));
}

const EXPERIMENTAL = {
  clientInfo: { name: "difftest", title: null, version: "0.0.1" },
  capabilities: { experimentalApi: true, requestAttestation: false },
};

async function reads(s: Session): Promise<void> {
  await s.call("account/read", {});
  await s.call("getAuthStatus", { includeToken: true, refreshToken: false });
  await s.call("getAuthStatus", { includeToken: false });
}

const hostTokens = (accessToken: string, chatgptPlanType: string | null = null) => ({
  type: "chatgptAuthTokens",
  accessToken,
  chatgptAccountId: "org_dev",
  chatgptPlanType,
});

describe.skipIf(!codex)("differential against codex app-server 0.169: host-supplied tokens", () => {
  it("accepted tokens: completed and updated, reads, refresh flags ignored, nothing on disk, logout", async () => {
    await same(async (s) => {
      await s.initialize(EXPERIMENTAL);
      await s.call("account/login/start", hostTokens((await s.issuer.issueTokens()).access_token));
      await s.notification("account/login/completed");
      await s.notification("account/updated");
      await reads(s);
      await s.call("account/read", { refreshToken: true });
      await s.call("getAuthStatus", { includeToken: true, refreshToken: true });
      await s.call("account/rateLimits/read", {});
      await s.call("account/login/start", hostTokens((await s.issuer.issueTokens()).access_token, "team"));
      await s.notification("account/login/completed");
      await s.notification("account/updated");
      await reads(s);
      await s.call("account/logout", undefined, { noParams: true });
      await s.notification("account/updated");
      await reads(s);
    });
  });

  it("tokens that are not JWTs are refused; stored credentials stay in effect", async () => {
    await same(async (s) => {
      await s.initialize(EXPERIMENTAL);
      for (const token of [
        "not-a-jwt",
        "a.b",
        ".e30.c",
        "a..c",
        "a.e30.",
        "a.b.c",
        "a.e30=.c",
        "a.e3!.c",
        "a.bm90IGpzb24.c",
      ]) {
        await s.call("account/login/start", hostTokens(token, "pro"));
      }
      await reads(s);
    });
  });

  it("refused by the backend, refreshed by the client: the request, then the new tokens", async () => {
    await same(async (s) => {
      await s.initialize(EXPERIMENTAL);
      await s.call("account/login/start", hostTokens((await stranger.issueTokens()).access_token));
      const request = await s.serverRequest("account/chatgptAuthTokens/refresh");
      s.reply(request.id, {
        accessToken: (await s.issuer.issueTokens()).access_token,
        chatgptAccountId: "org_dev",
        chatgptPlanType: null,
      });
      await s.notification("account/login/completed");
      await s.notification("account/updated");
      await reads(s);
    });
  });

  it("refused by the backend, the client cannot refresh: completed with the refusal, account/read fails", async () => {
    await same(async (s) => {
      await s.initialize(EXPERIMENTAL);
      await s.call("account/login/start", hostTokens((await stranger.issueTokens()).access_token));
      const first = await s.serverRequest("account/chatgptAuthTokens/refresh");
      s.replyError(first.id, -32000, "host cannot refresh");
      await s.notification("account/login/completed");
      await s.call("getAuthStatus", { includeToken: true });
      const read = s.send("account/read", {});
      const second = await s.serverRequest("account/chatgptAuthTokens/refresh");
      s.replyError(second.id, -32000, "host cannot refresh");
      await s.response(read);
    });
  });
});

describe("host-supplied tokens: an unanswered refresh request (codex-auth only)", () => {
  it("unanswered-refresh-blocks-nothing-else: other requests are answered while the client stays silent", async () => {
    const home = makeCodexHome("host-unanswered");
    writeFileSync(join(home, "config.toml"), `chatgpt_base_url = "${issuer.url}/backend-api/"\n`);
    const p = new RpcProcess({ kind: "ours", env: serverEnv(home, issuer) });
    try {
      p.send(JSON.stringify({ id: 1, method: "initialize", params: EXPERIMENTAL }));
      p.send(
        JSON.stringify({
          id: 2,
          method: "account/login/start",
          params: hostTokens((await stranger.issueTokens()).access_token),
        }),
      );
      await p.waitFor((m) => m.method === "account/chatgptAuthTokens/refresh", "the refresh request");
      p.send(JSON.stringify({ id: 3, method: "getAuthStatus", params: { includeToken: false } }));
      p.send(JSON.stringify({ id: 4, method: "account/login/cancel", params: { loginId: "x" } }));
      const status = await p.waitFor((m) => m.id === 3 && m.method === undefined, "getAuthStatus");
      expect(status.message.result).toEqual({
        authMethod: "chatgptAuthTokens",
        authToken: null,
        requiresOpenaiAuth: true,
      });
      await p.waitFor((m) => m.id === 4 && m.method === undefined, "login/cancel");
      // Closing ends the wait: the sign-in reports failure and the process exits.
      expect(await p.close()).toEqual({ code: 0, signal: null });
      expect(p.messages.some((m) => m.method === "account/login/completed")).toBe(true);
    } finally {
      if (p.child.exitCode === null) p.child.kill("SIGKILL");
      removeCodexHome(home);
    }
  });
});
