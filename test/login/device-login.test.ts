/**
 * Device-code sign-in against the development issuer (and, for what it
 * cannot produce on demand, a scripted server): approved, denied, expired,
 * slow_down, unsupported, cancelled. Library calls, and the CLI as a child.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { DevIssuer } from "../../src/dev-issuer/index.js";
import { CodexAuthError } from "../../src/errors.js";
import { type DeviceCode, runDeviceLogin } from "../../src/login/device.js";
import { jwtPayload, manualClock, refreshRequest } from "../dev-issuer/helpers.js";
import { findCodexBinary } from "../support/env.js";
import { startScriptedServer } from "../support/scripted-server.js";
import {
  authFileMode,
  codexEnv,
  readAuthJson,
  startChild,
  startOurs,
  stopChildren,
  testResources,
} from "./helpers.js";

const { cleanups, issuerFor, home, closeAll } = testResources();
afterEach(async () => {
  await stopChildren();
  await closeAll();
});

async function rejection(p: Promise<unknown>): Promise<CodexAuthError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof CodexAuthError)) throw new Error(`expected a CodexAuthError, got ${String(err)}`);
  return err;
}

/** A person acting on `/codex/device` with a plain form post, as the page's form sends it. */
async function decide(issuer: DevIssuer, userCode: string, action: "approve" | "deny"): Promise<string> {
  const res = await fetch(`${issuer.url}/codex/device`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ user_code: userCode, account: "dev@example.com|org_dev", action }),
  });
  expect(res.status).toBe(200);
  return res.text();
}

const isPoll = (input: Parameters<typeof fetch>[0]) =>
  String(input).endsWith("/api/accounts/deviceauth/token");

describe("device code: the library against the dev issuer", () => {
  it("approved: ChatGPT tokens saved without an API key, then the previous refresh token is revoked", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("chatgpt", issuer);
    const codes: DeviceCode[] = [];
    const record = await runDeviceLogin({
      issuer: issuer.url,
      storage: seeded.storage,
      env: {},
      onCode: (c) => codes.push(c),
    });
    expect(codes).toHaveLength(1);
    expect(codes[0]!.verificationUrl).toBe(`${issuer.url}/codex/device`);
    expect(codes[0]!.userCode).toMatch(/^[A-Z0-9]{4}-[A-Z0-9]{5}$/);
    const saved = readAuthJson(seeded.home);
    expect(saved).toEqual(JSON.parse(JSON.stringify(record)));
    expect(authFileMode(seeded.home)).toBe(0o600);
    expect(saved.auth_mode).toBe("chatgpt");
    expect(saved.OPENAI_API_KEY).toBeNull(); // no API-key exchange in the device flow, as Codex
    expect(saved.tokens.oauth_provenance).toEqual({ issuer: issuer.url, client_id: issuer.clientId });
    expect(saved.tokens.account_id).toBe("org_dev");
    expect(jwtPayload(saved.tokens.id_token).email).toBe("dev@example.com");
    expect(issuer.requests.map((r) => `${r.method} ${r.path} ${r.status} ${r.outcome}`).slice(1)).toEqual([
      "POST /api/accounts/deviceauth/usercode 200 issued+approved",
      "POST /api/accounts/deviceauth/token 200 approved",
      "POST /oauth/token 200 issued",
      "POST /oauth/revoke 200 revoked",
    ]);
    const old = await refreshRequest(issuer.url, seeded.previousRefreshToken!);
    expect(((await old.json()) as { error: { code: string } }).error.code).toBe("refresh_token_invalidated");
  });

  it("a person approves after a pending poll: polling goes on until the approval, then signs in", async () => {
    const issuer = await issuerFor({ deviceIntervalSeconds: 0 });
    const seeded = await home("apiKey", issuer);
    let code: DeviceCode | undefined;
    let polls = 0;
    // After the first (pending) poll comes back, the person approves on the page.
    const personApprovesAfterFirstPoll: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (isPoll(input) && ++polls === 1) {
        expect(res.status).toBe(403);
        expect(await decide(issuer, code!.userCode, "approve")).toContain("Device approved");
      }
      return res;
    };
    await runDeviceLogin({
      issuer: issuer.url,
      storage: seeded.storage,
      env: {},
      fetch: personApprovesAfterFirstPoll,
      onCode: (c) => (code = c),
    });
    expect(polls).toBe(2);
    expect(readAuthJson(seeded.home).auth_mode).toBe("chatgpt");
  });

  for (const previous of ["apiKey", "chatgpt"] as const) {
    it(`denied on /codex/device: ERR_LOGIN_DENIED, nothing saved, previous ${previous} credentials unchanged`, async () => {
      const issuer = await issuerFor();
      const seeded = await home(previous, issuer);
      let denied: Promise<string> | undefined;
      // The person denies as soon as the code is shown, before the first poll arrives.
      const afterTheDecision: typeof fetch = async (input, init) => {
        if (isPoll(input)) await denied;
        return fetch(input, init);
      };
      const err = await rejection(
        runDeviceLogin({
          issuer: issuer.url,
          storage: seeded.storage,
          env: {},
          fetch: afterTheDecision,
          onCode: (c) => {
            denied = decide(issuer, c.userCode, "deny");
          },
        }),
      );
      expect(await denied).toContain("The sign-in request was denied");
      expect(err.code).toBe("ERR_LOGIN_DENIED");
      expect(err.message).toBe("The sign-in request was denied in the browser. Nothing was saved.");
      expect(seeded.now()).toEqual(seeded.before);
      expect(issuer.requests.some((r) => r.path === "/oauth/revoke")).toBe(false);
    });
  }

  it("expired at the issuer (clock moved past 15 minutes): ERR_LOGIN_EXPIRED, nothing saved", async () => {
    const clock = manualClock();
    const issuer = await issuerFor({ now: clock.now });
    const seeded = await home("chatgpt", issuer);
    const err = await rejection(
      runDeviceLogin({
        issuer: issuer.url,
        storage: seeded.storage,
        env: {},
        onCode: () => clock.advance(15 * 60 * 1000),
      }),
    );
    expect(err.code).toBe("ERR_LOGIN_EXPIRED");
    expect(err.message).toBe(
      "The device code expired before it was approved. Run the login again for a new code.",
    );
    expect(issuer.requests.at(-1)).toMatchObject({
      path: "/api/accounts/deviceauth/token",
      outcome: "expired",
    });
    expect(seeded.now()).toEqual(seeded.before);
  });

  it("nobody approves before our own deadline: Codex's 'device auth timed out after 15 minutes'", async () => {
    const issuer = await issuerFor({ deviceIntervalSeconds: 0 });
    const seeded = await home("apiKey", issuer);
    const err = await rejection(
      runDeviceLogin({ issuer: issuer.url, storage: seeded.storage, env: {}, timeoutMs: 0 }),
    );
    expect(err.code).toBe("ERR_LOGIN_EXPIRED");
    expect(err.message).toBe("device auth timed out after 15 minutes");
    expect(issuer.requests.filter((r) => r.outcome === "pending")).toHaveLength(1);
    expect(seeded.now()).toEqual(seeded.before);
  });

  it("cancelled (abort signal) while waiting: ERR_LOGIN_CANCELLED, nothing saved", async () => {
    const issuer = await issuerFor(); // interval 5 s: the abort lands in the wait
    const seeded = await home("chatgpt", issuer);
    const controller = new AbortController();
    const afterFirstPoll: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (isPoll(input)) controller.abort();
      return res;
    };
    const err = await rejection(
      runDeviceLogin({
        issuer: issuer.url,
        storage: seeded.storage,
        env: {},
        fetch: afterFirstPoll,
        signal: controller.signal,
      }),
    );
    expect(err.code).toBe("ERR_LOGIN_CANCELLED");
    expect(seeded.now()).toEqual(seeded.before);
  });

  it("cancelled while the user code is being requested: ERR_LOGIN_CANCELLED, not a network error", async () => {
    const issuer = await issuerFor();
    const seeded = await home("apiKey", issuer);
    const controller = new AbortController();
    const abortDuringRequest: typeof fetch = (input, init) => {
      controller.abort();
      return fetch(input, init);
    };
    const err = await rejection(
      runDeviceLogin({
        issuer: issuer.url,
        storage: seeded.storage,
        env: {},
        fetch: abortDuringRequest,
        signal: controller.signal,
      }),
    );
    expect(err.code).toBe("ERR_LOGIN_CANCELLED");
    expect(seeded.now()).toEqual(seeded.before);
  });

  it("cancelled while the approved code is being exchanged: nothing saved, nothing revoked", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("chatgpt", issuer);
    const controller = new AbortController();
    const abortDuringExchange: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (String(input).endsWith("/oauth/token")) controller.abort();
      return res;
    };
    const err = await rejection(
      runDeviceLogin({
        issuer: issuer.url,
        storage: seeded.storage,
        env: {},
        fetch: abortDuringExchange,
        signal: controller.signal,
      }),
    );
    expect(err.code).toBe("ERR_LOGIN_CANCELLED");
    expect(seeded.now()).toEqual(seeded.before);
    expect(issuer.requests.some((r) => r.path === "/oauth/revoke")).toBe(false);
  });
});

describe("device code: what the dev issuer does not produce (scripted server)", () => {
  it("slow_down (RFC 8628; not sent by OpenAI as far as known): the wait grows by 5 s, then the sign-in completes with the exact wire format", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const tokens = await issuer.issueTokens();
    const server = await startScriptedServer();
    cleanups.push(() => server.close());
    const times: number[] = [];
    server.script(
      { status: 200, body: { device_auth_id: "deviceauth_1", user_code: "ABCD-EFGHJ", interval: "0" } },
      (_req, res) => {
        times.push(1);
        res
          .writeHead(400, { "content-type": "application/json" })
          .end(JSON.stringify({ error: "slow_down" }));
      },
      (_req, res) => {
        times.push(2);
        res.writeHead(200, { "content-type": "application/json" }).end(
          JSON.stringify({
            authorization_code: "ac_scripted",
            code_challenge: "x",
            code_verifier: "cv_scripted",
          }),
        );
      },
      { status: 200, body: tokens },
    );
    const seeded = await home("none");
    const sleeps: number[] = [];
    const record = await runDeviceLogin({
      issuer: server.url,
      storage: seeded.storage,
      env: {},
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
    expect(record.tokens?.refresh_token).toBe(tokens.refresh_token);
    expect(times).toHaveLength(2);
    expect(sleeps).toEqual([5_000]); // interval "0" + 5 s
    const wire = server.requests.map((r) => `${r.method} ${r.path} ${r.headers["content-type"]} ${r.body}`);
    expect(wire).toEqual([
      `POST /api/accounts/deviceauth/usercode application/json {"client_id":"app_EMoamEEZ73f0CkXaXp7hrann"}`,
      `POST /api/accounts/deviceauth/token application/json {"device_auth_id":"deviceauth_1","user_code":"ABCD-EFGHJ"}`,
      `POST /api/accounts/deviceauth/token application/json {"device_auth_id":"deviceauth_1","user_code":"ABCD-EFGHJ"}`,
      `POST /oauth/token application/x-www-form-urlencoded grant_type=authorization_code&client_id=app_EMoamEEZ73f0CkXaXp7hrann&code=ac_scripted&redirect_uri=${encodeURIComponent(`${server.url}/deviceauth/callback`)}&code_verifier=cv_scripted`,
    ]);
  });

  it("transient-poll-fault-keeps-the-approval: a poll answering 500 is asked again, and the approval that follows signs in (Codex ends the sign-in there)", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const tokens = await issuer.issueTokens();
    const server = await startScriptedServer();
    cleanups.push(() => server.close());
    server.script(
      { status: 200, body: { device_auth_id: "deviceauth_1", user_code: "ABCD-EFGHJ", interval: "0" } },
      { status: 500, raw: "oops" },
      { status: 200, body: { authorization_code: "ac_scripted", code_verifier: "cv_scripted" } },
      { status: 200, body: tokens },
    );
    const seeded = await home("apiKey");
    const sleeps: number[] = [];
    const record = await runDeviceLogin({
      issuer: server.url,
      storage: seeded.storage,
      env: {},
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
    expect(record.tokens?.refresh_token).toBe(tokens.refresh_token);
    expect(sleeps).toEqual([1_000]); // back-off after the fault
  });
});

const UNSUPPORTED =
  "Error logging in: device code login is not enabled for this Codex server. Use the browser login or verify the server URL.";

describe("device code: the CLI", () => {
  it("codex-auth login --device-auth shows the link and code on stdout and signs in", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("none");
    const cli = startOurs(["login", "--device-auth", "--issuer", issuer.url], seeded.home);
    expect(await cli.exit).toBe(0);
    const code = /\n {3}([A-Z0-9]{4}-[A-Z0-9]{5})\n/.exec(cli.stdout())?.[1];
    expect(code).toBeTruthy();
    expect(cli.stdout()).toContain(
      `1. Open this link in your browser and sign in to your account\n   ${issuer.url}/codex/device\n`,
    );
    expect(cli.stdout()).toContain("2. Enter this one-time code (expires in 15 minutes)");
    expect(cli.stdout()).not.toContain("\x1b["); // not a TTY: no colour
    expect(cli.stderr()).toBe("Successfully logged in\n");
    expect(readAuthJson(seeded.home).tokens.oauth_provenance?.issuer).toBe(issuer.url);
  });

  it("Ctrl-C while waiting for approval: exit 130, Codex-style message, previous credentials byte-for-byte kept", async () => {
    const issuer = await issuerFor(); // nobody approves
    const seeded = await home("chatgpt", issuer);
    const cli = startOurs(["login", "--device-auth", "--issuer", issuer.url], seeded.home, {
      CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/revoke`,
    });
    await cli.waitFor("stdout", /[A-Z0-9]{4}-[A-Z0-9]{5}/);
    cli.child.kill("SIGINT");
    expect(await cli.exit).toBe(130);
    expect(cli.stderr()).toBe("Login cancelled. Your previous credentials (if any) were kept.\n");
    expect(seeded.now()).toEqual(seeded.before);
    expect(issuer.requests.some((r) => r.path === "/oauth/revoke")).toBe(false);
  });

  for (const [what, script] of [
    ["the user-code request answers 500", [{ status: 500, raw: "oops" }]],
  ] as const) {
    it(`${what}: the same last line as real codex, exit 1, nothing saved`, async () => {
      const server = await startScriptedServer();
      cleanups.push(() => server.close());
      server.script(...script);
      const seeded = await home("apiKey");
      const cli = startOurs(["login", "--device-auth", "--issuer", server.url], seeded.home);
      expect(await cli.exit).toBe(1);
      const ours = cli.stderr().trim().split("\n").at(-1);
      expect(ours).toMatch(
        /^Error logging in: device code request failed with status 500 Internal Server Error$/,
      );
      expect(seeded.now()).toEqual(seeded.before);

      const codex = findCodexBinary();
      if (!codex) return;
      server.script(...script);
      const codexHome = await home("none");
      const real = startChild(
        codex,
        ["login", "--device-auth", "--experimental_issuer", server.url],
        codexEnv(codexHome.home, server.url),
      );
      expect(await real.exit).toBe(1);
      expect(real.stderr().trim().split("\n").at(-1)).toBe(ours);
    });
  }

  it("a server without device codes (404): Codex's words, exit 1 — the same as real codex prints", async () => {
    const server = await startScriptedServer();
    cleanups.push(() => server.close());
    server.script({ status: 404, raw: "Not Found" });
    const seeded = await home("apiKey");
    const cli = startOurs(["login", "--device-auth", "--issuer", server.url], seeded.home);
    expect(await cli.exit).toBe(1);
    expect(cli.stderr()).toBe(`${UNSUPPORTED}\n`);
    expect(seeded.now()).toEqual(seeded.before);

    const codex = findCodexBinary();
    if (!codex) return;
    const codexHome = await home("none");
    const real = startChild(
      codex,
      ["login", "--device-auth", "--experimental_issuer", server.url],
      codexEnv(codexHome.home, server.url),
    );
    expect(await real.exit).toBe(1);
    expect(real.stderr().trim().split("\n").at(-1)).toBe(UNSUPPORTED);
  });
});
