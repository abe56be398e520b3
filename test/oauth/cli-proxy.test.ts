/**
 * The report this came from, as a new user tried it: HTTPS_PROXY/HTTP_PROXY
 * pointing at a local logging proxy, the refresh endpoint at
 * http://localhost:PORT/oauth/token, a stale ChatGPT login. `codex-auth
 * token` (the CLI bundle) must refresh through the proxy, as the real codex
 * 0.169 does (its forced refresh, through `app-server`), and both must go
 * direct when NO_PROXY names the host.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import { findCodexBinary, removeCodexHome } from "../support/env.js";
import { issuedHome } from "../support/issued-home.js";
import { runOursAsync, withCodexAppServer } from "../support/run.js";
import { type LoggingProxy, startLoggingProxy } from "./logging-proxy.js";

const codex = findCodexBinary();

let issuer: DevIssuer;
let proxy: LoggingProxy;
const homes: string[] = [];
beforeAll(async () => {
  issuer = await startDevIssuer({ autoApprove: true });
  proxy = await startLoggingProxy();
});
afterAll(async () => {
  await proxy?.close();
  await issuer?.close();
  for (const h of homes) removeCodexHome(h);
});

const staleHome = () =>
  issuedHome(issuer, homes, "cli-proxy", {
    stale: true,
    files: { "config.toml": `chatgpt_base_url = "${issuer.url}/backend-api"\n` },
  });

const refreshUrl = () => `http://localhost:${new URL(issuer.url).port}/oauth/token`;
const refreshesSeen = () => proxy.log.filter((e) => e.target === refreshUrl()).length;
const rotations = () =>
  issuer.requests.filter((r) => r.grant_type === "refresh_token" && r.outcome === "rotated").length;

describe("refresh-through-proxy-from-the-cli", () => {
  const cases: Array<[string, Record<string, string>, number]> = [
    ["token-refreshes-through-https-and-http-proxy", { HTTPS_PROXY: "PROXY", HTTP_PROXY: "PROXY" }, 1],
    ["token-refreshes-through-lower-case-http-proxy", { http_proxy: "PROXY" }, 1],
    [
      "token-refreshes-directly-when-no-proxy-names-localhost",
      { HTTPS_PROXY: "PROXY", HTTP_PROXY: "PROXY", NO_PROXY: "localhost" },
      0,
    ],
  ];
  it.each(cases)("%s (and codex does the same)", async (_name, template, viaProxy) => {
    const env = {
      ...Object.fromEntries(Object.entries(template).map(([k, v]) => [k, v === "PROXY" ? proxy.url : v])),
      CODEX_REFRESH_TOKEN_URL_OVERRIDE: refreshUrl(),
    };
    const home = await staleHome();
    proxy.log.length = 0;
    const before = rotations();
    const r = await runOursAsync(["token"], { home, env });
    expect(r.code, r.stderr).toBe(0);
    const saved = JSON.parse(readFileSync(join(home, "auth.json"), "utf8"));
    expect(r.stdout.trim()).toBe(saved.tokens.access_token);
    expect(rotations()).toBe(before + 1);
    expect(refreshesSeen()).toBe(viaProxy);
    if (viaProxy) {
      const seen = proxy.log.find((e) => e.target === refreshUrl())!;
      expect(seen.kind).toBe("forward");
      expect(seen.headers.originator).toBe("codex_cli_rs");
      expect(seen.headers["user-agent"]).toMatch(/^codex-auth\//);
    }

    if (!codex) return;
    const codexHome = await staleHome();
    proxy.log.length = 0;
    const beforeCodex = rotations();
    await withCodexAppServer(codex, { home: codexHome, env }, async (call) => {
      const status = await call("getAuthStatus", { includeToken: true, refreshToken: true });
      expect(status.result).toMatchObject({ authMethod: "chatgpt" });
    });
    // Codex may refresh twice here: proactively (the access token has expired), then as asked.
    const codexRefreshes = rotations() - beforeCodex;
    expect(codexRefreshes).toBeGreaterThanOrEqual(1);
    expect(refreshesSeen()).toBe(viaProxy ? codexRefreshes : 0);
  });
});
