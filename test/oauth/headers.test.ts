/**
 * The headers each request carries, compared with what the real codex 0.169
 * sends to the same endpoint. Both are captured the same way: through a
 * logging forward proxy (HTTP_PROXY) in front of the dev issuer.
 *
 * Observed (Codex 0.169 on Linux; besides `host` and `content-length`):
 *
 * | request                                     | Codex 0.169                                                                                        | codex-auth                    |
 * |---------------------------------------------|----------------------------------------------------------------------------------------------------|-------------------------------|
 * | refresh `POST /oauth/token` (JSON)          | content-type: application/json, originator: codex_cli_rs¹, user-agent: codex_cli_rs/0.169.0 (Debian 12.0.0; x86_64) xterm², accept: *\/* | the same, but user-agent: codex-auth/0.1.0 (linux; x86_64) node/20.x |
 * | revoke `POST /oauth/revoke` (JSON)          | the same as refresh                                                                                | the same as refresh           |
 * | code exchange `POST /oauth/token` (form)    | content-type: application/x-www-form-urlencoded, accept: *\/*                                       | the same                      |
 * | API-key exchange `POST /oauth/token` (form) | the same as code exchange                                                                          | the same                      |
 * | device code `POST …/deviceauth/usercode`    | content-type: application/json, accept: *\/*                                                        | the same                      |
 * | device poll `POST …/deviceauth/token`       | the same as device code                                                                            | the same                      |
 *
 * ¹ Under `codex app-server` the originator is the client's name
 *   (`clientInfo.name`) and the user agent starts with it and ends with
 *   `(name; version)`; `CODEX_INTERNAL_ORIGINATOR_OVERRIDE` replaces the
 *   originator and the user agent's product in every case.
 * ² The last word is the terminal (`TERM`, or `unknown`).
 * Both also send `connection`-level headers of their HTTP layers (ours:
 * `connection: keep-alive`). A caller-supplied fetch adds its own (a
 * user-agent, accept-language, sec-fetch-mode, accept-encoding).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import { buildAuthorizeUrl } from "../../src/oauth/authorize.js";
import { pollDeviceToken, requestDeviceCode } from "../../src/oauth/device.js";
import { defaultUserAgent } from "../../src/oauth/http.js";
import { generatePkce, generateState } from "../../src/oauth/pkce.js";
import { requestTokenRefresh } from "../../src/oauth/refresh.js";
import { revokeRefreshToken } from "../../src/oauth/revoke.js";
import { exchangeCodeForTokens, obtainApiKey } from "../../src/oauth/token-exchange.js";
import { Browser } from "../dev-issuer/helpers.js";
import { authorizeToCallback, startChild, stopChildren } from "../login/helpers.js";
import { holdCallbackPorts } from "../support/browser.js";
import { findCodexBinary, makeCodexHome, removeCodexHome } from "../support/env.js";
import { withCodexAppServer } from "../support/run.js";
import { type LoggingProxy, type ProxyLogEntry, startLoggingProxy } from "./logging-proxy.js";

const codex = findCodexBinary();
const CALLBACK = "http://127.0.0.1:1455/auth/callback";

type Endpoint = "refresh" | "revoke" | "code exchange" | "api-key exchange" | "device code" | "device poll";

/** Header names Codex 0.169 sends per endpoint, besides host and content-length (the table above). */
const CODEX_HEADERS: Record<Endpoint, string[]> = {
  refresh: ["accept", "content-type", "originator", "user-agent"],
  revoke: ["accept", "content-type", "originator", "user-agent"],
  "code exchange": ["accept", "content-type"],
  "api-key exchange": ["accept", "content-type"],
  "device code": ["accept", "content-type"],
  "device poll": ["accept", "content-type"],
};
/** Added by the HTTP layer on either side, not by the auth code. */
const TRANSPORT = new Set([
  "host",
  "content-length",
  "connection",
  "accept-encoding",
  "accept-language",
  "sec-fetch-mode",
  "proxy-connection",
  "transfer-encoding",
]);
const OUR_USER_AGENT = /^codex-auth\/\d+\.\d+\.\d+\S* \([a-z0-9]+; [a-z0-9_]+\) node\/\d+\.\d+\.\d+$/;

let issuer: DevIssuer;
let proxy: LoggingProxy;
beforeAll(async () => {
  issuer = await startDevIssuer({ autoApprove: true, deviceIntervalSeconds: 0 });
  proxy = await startLoggingProxy();
});
afterAll(async () => {
  await stopChildren();
  await proxy?.close();
  await issuer?.close();
});

function names(entry: ProxyLogEntry): string[] {
  return Object.keys(entry.headers)
    .filter((h) => !TRANSPORT.has(h))
    .sort();
}

/** Which endpoint a logged request was, by path and body kind. */
function endpointOf(entry: ProxyLogEntry, seenTokenForms: number): Endpoint {
  const path = new URL(entry.target).pathname;
  if (path === "/oauth/revoke") return "revoke";
  if (path === "/api/accounts/deviceauth/usercode") return "device code";
  if (path === "/api/accounts/deviceauth/token") return "device poll";
  if (entry.headers["content-type"] === "application/json") return "refresh";
  return seenTokenForms === 0 ? "code exchange" : "api-key exchange";
}

/** The log by endpoint (first request of each), in the order made. */
function byEndpoint(log: ProxyLogEntry[]): Map<Endpoint, ProxyLogEntry> {
  const out = new Map<Endpoint, ProxyLogEntry>();
  let forms = 0;
  for (const entry of log) {
    const endpoint = endpointOf(entry, forms);
    if (endpoint === "code exchange" || endpoint === "api-key exchange") forms++;
    if (!out.has(endpoint)) out.set(endpoint, entry);
  }
  return out;
}

/** One request of each kind from codex-auth, through the proxy. */
async function oursByEndpoint(env: Record<string, string>, originator?: string) {
  proxy.log.length = 0;
  const deps = { env: { HTTP_PROXY: proxy.url, ...env }, ...(originator ? { originator } : {}) };
  const tokens = await issuer.issueTokens();
  await requestTokenRefresh(tokens.refresh_token, {
    url: `${issuer.url}/oauth/token`,
    reason: "forced",
    ...deps,
  });
  const pkce = generatePkce();
  const authUrl = buildAuthorizeUrl({
    issuer: issuer.url,
    redirectUri: CALLBACK,
    codeChallenge: pkce.challenge,
    state: generateState(),
  });
  const code = (await authorizeToCallback(authUrl, issuer.url)).searchParams.get("code")!;
  const issued = await exchangeCodeForTokens(code, CALLBACK, pkce.verifier, { issuer: issuer.url, ...deps });
  await obtainApiKey(issued.id_token, { issuer: issuer.url, ...deps });
  const device = await requestDeviceCode(issuer.url, deps);
  await pollDeviceToken(issuer.url, device, deps);
  await revokeRefreshToken(issued.refresh_token, { url: `${issuer.url}/oauth/revoke`, ...deps });
  return byEndpoint(proxy.log);
}

function codexEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/proxy|^OPENAI_|^CODEX_|^DISPLAY$|^WAYLAND_DISPLAY$/i.test(k)) continue;
    env[k] = v;
  }
  return {
    ...env,
    CODEX_HOME: home,
    NO_COLOR: "1",
    HTTP_PROXY: proxy.url,
    CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/token`,
    CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/revoke`,
    CODEX_APP_SERVER_LOGIN_ISSUER: issuer.url,
    ...extra,
  };
}

/** One request of each kind from the real codex, through the proxy. */
async function codexByEndpoint(extra: Record<string, string> = {}) {
  const home = makeCodexHome("headers-codex");
  writeFileSync(join(home, "config.toml"), `chatgpt_base_url = "${issuer.url}/backend-api"\n`);
  const env = codexEnv(home, extra);
  const log: ProxyLogEntry[] = [];
  const auth = (e: ProxyLogEntry) => !new URL(e.target).pathname.startsWith("/backend-api");
  try {
    // Device code, poll, code exchange (device flow).
    proxy.log.length = 0;
    const login = startChild(codex!, ["login", "--device-auth", "--experimental_issuer", issuer.url], env);
    expect(await login.exit).toBe(0);
    log.push(...proxy.log.filter(auth).filter((e) => new URL(e.target).pathname !== "/oauth/token"));
    // Refresh (app-server, named as Codex's CLI so the originator is comparable), then
    // a browser sign-in: code exchange and API-key exchange.
    proxy.log.length = 0;
    const release = await holdCallbackPorts();
    try {
      await withCodexAppServer(codex!, { home, env: env as Record<string, string> }, async (call) => {
        await call("getAuthStatus", { includeToken: true, refreshToken: true });
        const started = await call("account/login/start", { type: "chatgpt" });
        const authUrl = (started.result as { authUrl: string }).authUrl;
        const redirectUri = new URL(authUrl).searchParams.get("redirect_uri")!;
        const browser = new Browser();
        const callback = await browser.follow(await browser.request(authUrl), issuer.url, redirectUri);
        if (!(callback instanceof URL)) throw new Error(`sign-in stopped at HTTP ${callback.status}`);
        const landed = await fetch(callback, { redirect: "manual" });
        // The exchanges happen before the callback redirects to /success.
        await fetch(new URL(landed.headers.get("location")!, callback));
      });
    } finally {
      release();
    }
    log.push(...proxy.log.filter(auth));
    // Revoke.
    proxy.log.length = 0;
    const logout = startChild(codex!, ["logout"], env);
    expect(await logout.exit).toBe(0);
    log.push(...proxy.log.filter(auth));
  } finally {
    removeCodexHome(home);
  }
  return byEndpoint(log);
}

describe("headers-as-codex: the same set of headers on every endpoint", () => {
  it("codex-auth's headers per endpoint: Codex's names, accept */*, originator and our user agent where Codex sends them", async () => {
    const ours = await oursByEndpoint({});
    expect([...ours.keys()].sort()).toEqual(Object.keys(CODEX_HEADERS).sort());
    for (const [endpoint, entry] of ours) {
      expect(names(entry), endpoint).toEqual(CODEX_HEADERS[endpoint]);
      expect(entry.headers.accept, endpoint).toBe("*/*");
      if (CODEX_HEADERS[endpoint].includes("originator")) {
        expect(entry.headers.originator).toBe("codex_cli_rs");
        expect(entry.headers["user-agent"], endpoint).toMatch(OUR_USER_AGENT);
      }
    }
    expect(defaultUserAgent()).toMatch(OUR_USER_AGENT);
  });

  it.skipIf(!codex)(
    "real codex 0.169 sends the recorded set, and so do we: the same names, the same values but for the user agent's product",
    async () => {
      const theirs = await codexByEndpoint({ CODEX_INTERNAL_ORIGINATOR_OVERRIDE: "codex_cli_rs" });
      const ours = await oursByEndpoint({});
      expect([...theirs.keys()].sort()).toEqual(Object.keys(CODEX_HEADERS).sort());
      for (const [endpoint, entry] of theirs) {
        const mine = ours.get(endpoint)!;
        expect(names(entry), endpoint).toEqual(CODEX_HEADERS[endpoint]);
        expect(names(mine), endpoint).toEqual(names(entry));
        for (const h of ["accept", "content-type", "originator"])
          expect(mine.headers[h], `${endpoint} ${h}`).toBe(entry.headers[h]);
        if (entry.headers["user-agent"])
          expect(entry.headers["user-agent"]).toMatch(/^codex_cli_rs\/0\.169\.0 \(.+; x86_64\) \S+/);
      }
    },
  );
});

describe("originator", () => {
  it("originator-override-wins: CODEX_INTERNAL_ORIGINATOR_OVERRIDE on refresh and revoke, over the host's choice", async () => {
    const ours = await oursByEndpoint({ CODEX_INTERNAL_ORIGINATOR_OVERRIDE: "my_host" }, "host_app");
    expect(ours.get("refresh")!.headers.originator).toBe("my_host");
    expect(ours.get("revoke")!.headers.originator).toBe("my_host");
  });

  it("originator-set-by-host: a host's originator on refresh and revoke, and in the authorize URL", async () => {
    const ours = await oursByEndpoint({}, "host_app");
    expect(ours.get("refresh")!.headers.originator).toBe("host_app");
    expect(ours.get("revoke")!.headers.originator).toBe("host_app");
    const url = buildAuthorizeUrl({
      issuer: issuer.url,
      redirectUri: CALLBACK,
      codeChallenge: "c",
      state: "s",
      originator: "host_app",
      env: {},
    });
    expect(new URL(url).searchParams.get("originator")).toBe("host_app");
    const overridden = buildAuthorizeUrl({
      issuer: issuer.url,
      redirectUri: CALLBACK,
      codeChallenge: "c",
      state: "s",
      originator: "host_app",
      env: { CODEX_INTERNAL_ORIGINATOR_OVERRIDE: "my_host" },
    });
    expect(new URL(overridden).searchParams.get("originator")).toBe("my_host");
  });

  it.skipIf(!codex)(
    "originator-override-as-codex: codex logout sends the override as originator, as we do",
    async () => {
      const home = makeCodexHome("originator-codex");
      try {
        const env = codexEnv(home, { CODEX_INTERNAL_ORIGINATOR_OVERRIDE: "my_host" });
        const login = startChild(
          codex!,
          ["login", "--device-auth", "--experimental_issuer", issuer.url],
          env,
        );
        expect(await login.exit).toBe(0);
        proxy.log.length = 0;
        const logout = startChild(codex!, ["logout"], env);
        expect(await logout.exit).toBe(0);
        const revoke = proxy.log.find((e) => e.target.endsWith("/oauth/revoke"))!;
        expect(revoke.headers.originator).toBe("my_host");
        expect(revoke.headers["user-agent"]).toMatch(/^my_host\/0\.169\.0 /);
      } finally {
        removeCodexHome(home);
      }
    },
  );
});
