import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import { Browser, CLIENT_ID, jwtPayload, manualClock, redeemCode } from "./helpers.js";

let issuer: DevIssuer | undefined;
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await issuer?.close();
  issuer = undefined;
});

/**
 * A reverse proxy on its own loopback port in front of `target`. It rewrites
 * Host to the target's (as nginx does by default), so the issuer cannot tell
 * from the request how the client addressed it.
 */
async function startReverseProxy(target: string): Promise<{ url: string; forwarded: string[] }> {
  const upstream = new URL(target);
  const forwarded: string[] = [];
  const server = createServer((req, res) => {
    forwarded.push(`${req.method} ${new URL(req.url ?? "/", upstream).pathname}`);
    const out = request(
      new URL(req.url ?? "/", upstream),
      { method: req.method, headers: { ...req.headers, host: upstream.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on("error", () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, forwarded };
}

/** Codex's whole device-code exchange with the issuer at `base`: code, poll, then redemption at `base`. */
async function deviceExchange(base: string): Promise<Response> {
  const code = await requestCode(base);
  const result = (await (await poll(base, code)).json()) as Record<string, string>;
  return redeemCode(base, result.authorization_code!, result.code_verifier!, `${base}/deviceauth/callback`);
}

function post(url: string, body: unknown): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

interface UserCode {
  device_auth_id: string;
  user_code: string;
  interval: unknown;
}

/** `base`: the issuer URL as the client addresses it. */
async function requestCode(base: string): Promise<UserCode> {
  const res = await post(`${base}/api/accounts/deviceauth/usercode`, { client_id: CLIENT_ID });
  expect(res.status).toBe(200);
  return (await res.json()) as UserCode;
}

function poll(base: string, code: UserCode): Promise<Response> {
  return post(`${base}/api/accounts/deviceauth/token`, {
    device_auth_id: code.device_auth_id,
    user_code: code.user_code,
  });
}

describe("dev issuer: device code (OpenAI's flavour)", () => {
  it("pending (403) → approved on /codex/device → authorization code redeemable with the server's verifier", async () => {
    issuer = await startDevIssuer({ deviceIntervalSeconds: 5 });
    const code = await requestCode(issuer.url);
    expect(code.interval).toBe("5"); // a string, as OpenAI sends it
    expect(code.user_code).toMatch(/^[A-Z0-9]{4}-[A-Z0-9]{5}$/);

    expect((await poll(issuer.url, code)).status).toBe(403);
    expect(issuer.requests.at(-1)).toMatchObject({
      path: "/api/accounts/deviceauth/token",
      outcome: "pending",
    });

    const page = await fetch(`${issuer.url}/codex/device`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('name="user_code"');
    expect(html).toContain("dev@example.com");

    const browser = new Browser();
    const approve = await browser.post(`${issuer.url}/codex/device`, {
      user_code: code.user_code.toLowerCase().replace("-", ""), // people type sloppily
      account: "dev@example.com|org_dev",
      action: "approve",
    });
    expect(approve.status).toBe(200);
    expect(await approve.text()).toContain("Device approved");

    const done = await poll(issuer.url, code);
    expect(done.status).toBe(200);
    const result = (await done.json()) as Record<string, string>;
    expect(Object.keys(result).sort()).toEqual(["authorization_code", "code_challenge", "code_verifier"]);

    const tokens = await redeemCode(
      issuer.url,
      result.authorization_code!,
      result.code_verifier!,
      `${issuer.url}/deviceauth/callback`,
    );
    expect(tokens.status).toBe(200);
    const body = (await tokens.json()) as Record<string, string>;
    expect(jwtPayload(body.id_token!)).toMatchObject({
      email: "dev@example.com",
      "https://api.openai.com/auth": { chatgpt_account_id: "org_dev", chatgpt_plan_type: "pro" },
    });
    expect(body.refresh_token).toBeTruthy();
    expect(issuer.requests.map((r) => `${r.method} ${r.path} ${r.status} ${r.outcome}`)).toEqual([
      "POST /api/accounts/deviceauth/usercode 200 issued",
      "POST /api/accounts/deviceauth/token 403 pending",
      "GET /codex/device 200 shown",
      "POST /codex/device 200 approved",
      "POST /api/accounts/deviceauth/token 200 approved",
      "POST /oauth/token 200 issued",
    ]);
  });

  it("the code is bound to the deviceauth redirect URI and its verifier", async () => {
    issuer = await startDevIssuer({ autoApprove: true });
    const code = await requestCode(issuer.url);
    const result = (await (await poll(issuer.url, code)).json()) as Record<string, string>;
    const wrongUri = await redeemCode(issuer.url, result.authorization_code!, result.code_verifier!);
    expect(wrongUri.status).toBe(400);
    const again = await poll(issuer.url, code);
    expect(((await again.json()) as Record<string, string>).authorization_code).toBe(
      result.authorization_code,
    );
  });

  it("issuer-addressed-as-localhost: the exchange names http://localhost:PORT/deviceauth/callback and succeeds", async () => {
    issuer = await startDevIssuer({ autoApprove: true });
    const base = issuer.url.replace("127.0.0.1", "localhost");
    const tokens = await deviceExchange(base);
    expect(tokens.status).toBe(200);
    const body = (await tokens.json()) as Record<string, string>;
    expect(jwtPayload(body.id_token!)).toMatchObject({ email: "dev@example.com" });
    expect(body.refresh_token).toBeTruthy();
    expect(issuer.requests.at(-1)).toMatchObject({ path: "/oauth/token", status: 200, outcome: "issued" });
  });

  it("issuer-behind-reverse-proxy: the exchange names the proxy's /deviceauth/callback and succeeds", async () => {
    issuer = await startDevIssuer({ autoApprove: true });
    const proxy = await startReverseProxy(issuer.url);
    const tokens = await deviceExchange(proxy.url);
    expect(tokens.status).toBe(200);
    expect(((await tokens.json()) as Record<string, string>).refresh_token).toBeTruthy();
    expect(proxy.forwarded).toEqual([
      "POST /api/accounts/deviceauth/usercode",
      "POST /api/accounts/deviceauth/token",
      "POST /oauth/token",
    ]);
    expect(issuer.requests.at(-1)).toMatchObject({ path: "/oauth/token", status: 200, outcome: "issued" });
  });

  it("a device code still needs the device callback path and its own verifier, however the issuer is addressed", async () => {
    issuer = await startDevIssuer({ autoApprove: true });
    const base = issuer.url.replace("127.0.0.1", "localhost");
    const code = await requestCode(base);
    const result = (await (await poll(base, code)).json()) as Record<string, string>;
    const otherPath = await redeemCode(
      base,
      result.authorization_code!,
      result.code_verifier!,
      `${base}/auth/callback`,
    );
    expect(otherPath.status).toBe(400);
    const withQuery = await redeemCode(
      base,
      result.authorization_code!,
      result.code_verifier!,
      `${base}/deviceauth/callback?x=1`,
    );
    expect(withQuery.status).toBe(400);
    const otherVerifier = await redeemCode(
      base,
      result.authorization_code!,
      "x".repeat(86),
      `${base}/deviceauth/callback`,
    );
    expect(otherVerifier.status).toBe(400);
    expect(issuer.requests.at(-1)).toMatchObject({ path: "/oauth/token", outcome: "invalid_grant" });
  });

  it("deny: the poll fails with a non-pending status", async () => {
    issuer = await startDevIssuer();
    const code = await requestCode(issuer.url);
    const deny = await new Browser().post(`${issuer.url}/codex/device`, {
      user_code: code.user_code,
      account: "dev@example.com|org_dev",
      action: "deny",
    });
    expect(deny.status).toBe(200);
    const res = await poll(issuer.url, code);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("authorization_declined");
    expect(issuer.requests.at(-1)?.outcome).toBe("denied");
  });

  it("expiry: after 15 minutes (moved clock) the code can neither be approved nor polled", async () => {
    const clock = manualClock();
    issuer = await startDevIssuer({ now: clock.now });
    const code = await requestCode(issuer.url);
    clock.advance(15 * 60 * 1000);
    const approve = await new Browser().post(`${issuer.url}/codex/device`, {
      user_code: code.user_code,
      account: "dev@example.com|org_dev",
      action: "approve",
    });
    expect(approve.status).toBe(400);
    expect(await approve.text()).toContain("expired");
    const res = await poll(issuer.url, code);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("expired_token");
  });

  it("auto-approve: the first poll already returns the code", async () => {
    issuer = await startDevIssuer({ autoApprove: true });
    const code = await requestCode(issuer.url);
    expect((await poll(issuer.url, code)).status).toBe(200);
  });

  it("a wrong user code or an unknown device auth id answers 404; a bad client id 400", async () => {
    issuer = await startDevIssuer({ autoApprove: true });
    const code = await requestCode(issuer.url);
    expect((await poll(issuer.url, { ...code, user_code: "AAAA-AAAAA" })).status).toBe(404);
    expect((await poll(issuer.url, { ...code, device_auth_id: "deviceauth_nope" })).status).toBe(404);
    const bad = await post(`${issuer.url}/api/accounts/deviceauth/usercode`, { client_id: "someone_else" });
    expect(bad.status).toBe(400);
    const page = await new Browser().post(`${issuer.url}/codex/device`, {
      user_code: "ZZZZ-ZZZZZ",
      account: "dev@example.com|org_dev",
      action: "approve",
    });
    expect(page.status).toBe(400);
    expect(await page.text()).toContain("not valid");
  });

  it("asks for the password of users that have one", async () => {
    issuer = await startDevIssuer({
      users: [
        { email: "dev@example.com" },
        {
          email: "lead@example.com",
          password: "s3cret",
          plan: "team",
          workspaces: [{ id: "org_team", name: "Team" }],
        },
      ],
    });
    const code = await requestCode(issuer.url);
    const form = { user_code: code.user_code, account: "lead@example.com|org_team", action: "approve" };
    const wrong = await new Browser().post(`${issuer.url}/codex/device`, { ...form, password: "nope" });
    expect(wrong.status).toBe(401);
    const ok = await new Browser().post(`${issuer.url}/codex/device`, { ...form, password: "s3cret" });
    expect(ok.status).toBe(200);
    const result = (await (await poll(issuer.url, code)).json()) as Record<string, string>;
    const tokens = (await (
      await redeemCode(
        issuer.url,
        result.authorization_code!,
        result.code_verifier!,
        `${issuer.url}/deviceauth/callback`,
      )
    ).json()) as Record<string, string>;
    expect(jwtPayload(tokens.id_token!)).toMatchObject({
      email: "lead@example.com",
      "https://api.openai.com/auth": { chatgpt_account_id: "org_team", chatgpt_plan_type: "team" },
    });
  });
});
