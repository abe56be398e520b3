/**
 * Every kind of request (refresh, code exchange, API-key exchange, device
 * code and poll, revoke) goes through the proxy the environment names, and
 * none does when NO_PROXY matches: on the wire, through a logging proxy on
 * 127.0.0.1, against the dev issuer (over plain HTTP, and over HTTPS behind
 * a TLS front trusted through CODEX_CA_CERTIFICATE).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Env } from "../../src/config/env.js";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import { buildAuthorizeUrl } from "../../src/oauth/authorize.js";
import { pollDeviceToken, requestDeviceCode } from "../../src/oauth/device.js";
import { generatePkce, generateState } from "../../src/oauth/pkce.js";
import { requestTokenRefresh } from "../../src/oauth/refresh.js";
import { revokeRefreshToken } from "../../src/oauth/revoke.js";
import { exchangeCodeForTokens, obtainApiKey } from "../../src/oauth/token-exchange.js";
import { authorizeToCallback } from "../login/helpers.js";
import { type LoggingProxy, startLoggingProxy } from "./logging-proxy.js";
import { makeTestPki, startHttpsFront, type TestPki } from "./tls.js";

const CALLBACK = "http://127.0.0.1:1455/auth/callback";

let issuer: DevIssuer;
let proxy: LoggingProxy;
let pki: TestPki;
let front: Awaited<ReturnType<typeof startHttpsFront>>;
beforeAll(async () => {
  issuer = await startDevIssuer({ autoApprove: true, deviceIntervalSeconds: 0 });
  proxy = await startLoggingProxy();
  pki = makeTestPki();
  front = await startHttpsFront(pki, issuer.url);
});
afterAll(async () => {
  await front?.close();
  await proxy?.close();
  await issuer?.close();
  pki?.cleanup();
});

/** An authorization code for CALLBACK, as a browser sign-in gets one (the authorize step runs directly). */
async function authorizationCode(): Promise<{ code: string; verifier: string }> {
  const pkce = generatePkce();
  const url = buildAuthorizeUrl({
    issuer: issuer.url,
    redirectUri: CALLBACK,
    codeChallenge: pkce.challenge,
    state: generateState(),
  });
  const callback = await authorizeToCallback(url, issuer.url);
  return { code: callback.searchParams.get("code")!, verifier: pkce.verifier };
}

/**
 * Makes one request of each kind to `base` (the dev issuer, or its HTTPS
 * front) with `env`, and returns the paths requested, in order. Every
 * request must get its normal answer.
 */
async function everyKindOfRequest(base: string, env: Env): Promise<string[]> {
  const deps = { env };
  const tokens = await issuer.issueTokens();
  const refreshed = await requestTokenRefresh(tokens.refresh_token, {
    url: `${base}/oauth/token`,
    reason: "forced",
    ...deps,
  });
  expect(refreshed.access_token).toEqual(expect.any(String));

  const { code, verifier } = await authorizationCode();
  const issued = await exchangeCodeForTokens(code, CALLBACK, verifier, { issuer: base, ...deps });
  expect(await obtainApiKey(issued.id_token, { issuer: base, ...deps })).toMatch(/^sk-dev-/);

  const device = await requestDeviceCode(base, deps);
  expect((await pollDeviceToken(base, device, deps)).kind).toBe("approved");

  expect(await revokeRefreshToken(issued.refresh_token, { url: `${base}/oauth/revoke`, ...deps })).toBe(true);
  return [
    "/oauth/token",
    "/oauth/token",
    "/oauth/token",
    "/api/accounts/deviceauth/usercode",
    "/api/accounts/deviceauth/token",
    "/oauth/revoke",
  ];
}

describe("http:// issuer: HTTP_PROXY, http_proxy, ALL_PROXY, all_proxy", () => {
  for (const variable of ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]) {
    it(`every-request-goes-through-${variable}`, async () => {
      proxy.log.length = 0;
      const paths = await everyKindOfRequest(issuer.url, { [variable]: proxy.url });
      // Plain-HTTP requests reach the proxy in absolute form, one log entry each, as Codex sends them.
      expect(proxy.log.map((e) => `${e.kind} ${e.method} ${e.target}`)).toEqual(
        paths.map((p) => `forward POST ${issuer.url}${p}`),
      );
    });
  }
});

describe("https:// issuer (custom CA): HTTPS_PROXY, https_proxy, ALL_PROXY, all_proxy", () => {
  for (const variable of ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]) {
    it(`every-request-goes-through-${variable}`, async () => {
      proxy.log.length = 0;
      front.clientPorts.length = 0;
      const paths = await everyKindOfRequest(front.url, {
        [variable]: proxy.url,
        CODEX_CA_CERTIFICATE: pki.caPath,
      });
      // HTTPS goes through CONNECT tunnels (reused across requests): every request the
      // TLS front saw came from one of the proxy's tunnel sockets.
      expect(front.clientPorts).toHaveLength(paths.length);
      for (const port of front.clientPorts) expect(proxy.tunnelPorts.has(port)).toBe(true);
      // (A tunnel opened by an earlier test may be reused: CONNECTs are not counted.)
      expect(proxy.log.every((e) => e.kind === "connect" && e.target === `127.0.0.1:${front.port}`)).toBe(
        true,
      );
    });
  }

  it("http-proxy-alone-never-carries-https: HTTP_PROXY set, https:// issuer, requests go direct (as Codex)", async () => {
    proxy.log.length = 0;
    front.clientPorts.length = 0;
    await everyKindOfRequest(front.url, { HTTP_PROXY: proxy.url, CODEX_CA_CERTIFICATE: pki.caPath });
    expect(proxy.log).toEqual([]);
    for (const port of front.clientPorts) expect(proxy.tunnelPorts.has(port)).toBe(false);
  });
});

describe("NO_PROXY", () => {
  const cases: Array<[string, Env]> = [
    ["no-proxy-exact-ip", { HTTP_PROXY: "PROXY", NO_PROXY: "127.0.0.1" }],
    ["no-proxy-lower-case", { http_proxy: "PROXY", no_proxy: "example.com, 127.0.0.1" }],
    ["no-proxy-cidr", { ALL_PROXY: "PROXY", NO_PROXY: "10.0.0.0/8,127.0.0.0/8" }],
  ];
  for (const [name, template] of cases) {
    it(`${name}: nothing reaches the proxy and every request is answered`, async () => {
      proxy.log.length = 0;
      const env = Object.fromEntries(
        Object.entries(template).map(([k, v]) => [k, v === "PROXY" ? proxy.url : v]),
      );
      await everyKindOfRequest(issuer.url, env);
      expect(proxy.log).toEqual([]);
    });
  }

  it("no-proxy-localhost-is-not-127.0.0.1: NO_PROXY=localhost still proxies http://127.0.0.1 (as Codex)", async () => {
    proxy.log.length = 0;
    await everyKindOfRequest(issuer.url, { HTTP_PROXY: proxy.url, NO_PROXY: "localhost" });
    expect(proxy.log).toHaveLength(6);
  });
});

describe("no proxy variables", () => {
  it("direct-without-proxy-variables: nothing reaches the proxy", async () => {
    proxy.log.length = 0;
    await everyKindOfRequest(issuer.url, {});
    expect(proxy.log).toEqual([]);
  });
});
