/**
 * Hardening, kind 6: transient faults never throw away a user's approval.
 * Fault sequences during device-code polling and the exchange that follows
 * (5xx, 429 with Retry-After, dropped connections, slow_down, pending), as
 * a property over generated sequences with an injected clock — nothing
 * sleeps for real. Then the CLI beside the real codex, which ends the
 * sign-in at the first 5xx.
 */
import type { ServerResponse } from "node:http";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CodexAuthError } from "../../src/errors.js";
import { runDeviceLogin } from "../../src/login/device.js";
import { EphemeralAuthStorage } from "../../src/storage/ephemeral.js";
import { findCodexBinary } from "../support/env.js";
import { runInProcess } from "../support/fake-io.js";
import { fakeJwt } from "../support/jwt.js";
import { type Reply, type ScriptedServer, startScriptedServer } from "../support/scripted-server.js";
import { codexEnv, startChild, stopChildren, testResources } from "./helpers.js";

let server: ScriptedServer;
const { home, closeAll } = testResources();
beforeAll(async () => {
  server = await startScriptedServer();
});
afterAll(async () => {
  await stopChildren();
  await closeAll();
  await server.close();
});

const USER_CODE: Reply = {
  status: 200,
  body: { device_auth_id: "deviceauth_1", user_code: "ABCD-EFGHJ", interval: "5" },
};
const APPROVED: Reply = { status: 200, body: { authorization_code: "ac_1", code_verifier: "cv_1" } };
const DENIED: Reply = { status: 400, body: { error: "access_denied" } };
const TOKENS: Reply = {
  status: 200,
  body: {
    id_token: fakeJwt({
      email: "faults@example.com",
      "https://api.openai.com/auth": { chatgpt_account_id: "org_faults", chatgpt_plan_type: "plus" },
    }),
    access_token: fakeJwt({ exp: 4_102_444_800 }),
    refresh_token: "rt_after_faults",
  },
};

type Fault = "pending" | "slow_down" | 500 | 502 | 503 | 504 | "429" | "reset";
const faultReply = (f: Fault): Reply => {
  switch (f) {
    case "pending":
      return { status: 403, body: { error: { code: "deviceauth_authorization_pending" } } };
    case "slow_down":
      return { status: 400, body: { error: "slow_down" } };
    case "429":
      return (_req, res: ServerResponse) => {
        res.writeHead(429, { "retry-after": "7", "content-type": "application/json" }).end("{}");
      };
    case "reset":
      return (_req, res: ServerResponse) => {
        res.socket?.destroy();
      };
    default:
      return { status: f, raw: "upstream trouble" };
  }
};

/** A clock that moves only when the code under test sleeps. */
function fakeTime() {
  let now = 1_700_000_000_000;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      now += ms;
    },
  };
}

describe("transient-faults-never-throw-away-an-approval", () => {
  it("any sequence of poll faults, then an approval (with exchange faults): signed in", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom<Fault>("pending", "slow_down", 500, 502, 503, 504, "429", "reset"), {
          maxLength: 12,
        }),
        fc.array(fc.constantFrom<Fault>(500, 502, 503, "429", "reset"), { maxLength: 3 }),
        fc.boolean(),
        async (pollFaults, exchangeFaults, approve) => {
          const time = fakeTime();
          const start = server.requests.length;
          server.script(
            USER_CODE,
            ...pollFaults.map(faultReply),
            approve ? APPROVED : DENIED,
            ...exchangeFaults.map(faultReply),
            TOKENS,
          );
          const storage = new EphemeralAuthStorage(`faults-${Math.random()}`);
          const outcome = await runDeviceLogin({
            issuer: server.url,
            storage,
            env: {},
            now: time.now,
            sleep: time.sleep,
          }).then(
            (record) => ({ ok: true as const, record }),
            (err: unknown) => ({ ok: false as const, err }),
          );
          const polls = server.requests.slice(start).filter((r) => r.path.endsWith("/deviceauth/token"));
          expect(polls).toHaveLength(pollFaults.length + 1);
          if (approve) {
            if (!outcome.ok) throw outcome.err;
            expect(outcome.record.tokens?.refresh_token).toBe("rt_after_faults");
            expect((await storage.load())?.tokens?.refresh_token).toBe("rt_after_faults");
            const exchanges = server.requests.slice(start).filter((r) => r.path === "/oauth/token");
            expect(exchanges).toHaveLength(exchangeFaults.length + 1);
          } else {
            expect(outcome.ok).toBe(false);
            expect((outcome as { err: CodexAuthError }).err.code).toBe("ERR_LOGIN_DENIED");
            expect(await storage.load()).toBeUndefined();
          }
          // a fault is waited out: never sooner than the interval, at least the 7 s a 429 asked for
          pollFaults.forEach((f, i) => {
            expect(time.sleeps[i]).toBeGreaterThanOrEqual(f === "429" ? 7_000 : 5_000);
          });
        },
      ),
      { numRuns: 40 },
    );
  });

  it("faults until the code's 15 minutes are up: expired, with the last answer named", async () => {
    const time = fakeTime();
    server.script(USER_CODE, faultReply(502));
    const err = await runDeviceLogin({
      issuer: server.url,
      storage: new EphemeralAuthStorage("faults-forever"),
      env: {},
      now: time.now,
      sleep: time.sleep,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: "ERR_LOGIN_EXPIRED",
      message:
        "device auth timed out after 15 minutes (last answer: device auth failed with status 502 Bad Gateway)",
    });
    expect(time.sleeps.reduce((a, b) => a + b, 0)).toBe(15 * 60_000);
  });

  it("the CLI keeps polling through a 502 and signs in; the real codex 0.169 ends the sign-in there", async () => {
    const script = [USER_CODE, faultReply(502), APPROVED, TOKENS];
    server.script(...script);
    const seeded = await home("apiKey");
    const time = fakeTime();
    const ours = await runInProcess(["login", "--device-auth", "--issuer", server.url], {
      home: seeded.home,
      deps: { now: time.now, sleep: time.sleep },
    });
    expect(ours.code, ours.stderr).toBe(0);
    expect(ours.stderr.trim().split("\n").at(-1)).toBe("Successfully logged in");

    const codex = findCodexBinary();
    if (!codex) return;
    server.script(
      { status: 200, body: { device_auth_id: "deviceauth_1", user_code: "ABCD-EFGHJ", interval: "0" } },
      faultReply(502),
    );
    const codexHome = await home("none");
    const real = startChild(
      codex,
      ["login", "--device-auth", "--experimental_issuer", server.url],
      codexEnv(codexHome.home, server.url),
    );
    expect(await real.exit).toBe(1);
    expect(real.stderr().trim().split("\n").at(-1)).toBe(
      "Error logging in: device auth failed with status 502 Bad Gateway",
    );
  });
});
