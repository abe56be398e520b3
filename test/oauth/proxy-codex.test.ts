/**
 * Which proxy a request takes, for each way of setting the proxy variables:
 * ours compared with the real codex 0.169, case by case. Codex's request is
 * the best-effort revoke `codex logout` makes (CODEX_REVOKE_TOKEN_URL_OVERRIDE
 * on loopback); ours is revokeRefreshToken with the same environment. Two
 * logging proxies (A, B) tell which one was used. The expected column is
 * what Codex 0.169 was observed to do; it holds for us even where the
 * binary is not installed.
 */
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { revokeRefreshToken } from "../../src/oauth/revoke.js";
import { startChild, stopChildren } from "../login/helpers.js";
import { findCodexBinary, makeCodexHome, removeCodexHome } from "../support/env.js";
import { fakeChatgptRecord } from "../support/jwt.js";
import { type LoggingProxy, startLoggingProxy } from "./logging-proxy.js";

const codex = findCodexBinary();

type Route = "A" | "B" | "direct";
/** [name, env (A and B stand for the proxies' URLs, PORT for the origin's port), target origin, route Codex takes]. */
const CASES: Array<[string, Record<string, string>, string, Route]> = [
  ["HTTP_PROXY", { HTTP_PROXY: "A" }, "http://127.0.0.1", "A"],
  ["http_proxy", { http_proxy: "A" }, "http://127.0.0.1", "A"],
  ["ALL_PROXY", { ALL_PROXY: "A" }, "http://127.0.0.1", "A"],
  ["all_proxy", { all_proxy: "A" }, "http://127.0.0.1", "A"],
  ["HTTPS_PROXY does not carry http://", { HTTPS_PROXY: "A" }, "http://127.0.0.1", "direct"],
  ["HTTPS_PROXY carries https://", { HTTPS_PROXY: "A" }, "https://127.0.0.1", "A"],
  ["https_proxy carries https://", { https_proxy: "A" }, "https://127.0.0.1", "A"],
  ["HTTP_PROXY does not carry https://", { HTTP_PROXY: "A" }, "https://127.0.0.1", "direct"],
  ["ALL_PROXY carries https://", { ALL_PROXY: "A" }, "https://127.0.0.1", "A"],
  [
    "upper case wins: HTTP_PROXY over http_proxy",
    { HTTP_PROXY: "A", http_proxy: "B" },
    "http://127.0.0.1",
    "A",
  ],
  [
    "upper case wins: HTTPS_PROXY over https_proxy",
    { HTTPS_PROXY: "A", https_proxy: "B" },
    "https://127.0.0.1",
    "A",
  ],
  ["upper case wins: ALL_PROXY over all_proxy", { ALL_PROXY: "A", all_proxy: "B" }, "http://127.0.0.1", "A"],
  ["an empty HTTP_PROXY hides http_proxy", { HTTP_PROXY: "", http_proxy: "B" }, "http://127.0.0.1", "direct"],
  ["HTTP_PROXY wins over ALL_PROXY", { HTTP_PROXY: "A", ALL_PROXY: "B" }, "http://127.0.0.1", "A"],
  ["HTTPS_PROXY wins over ALL_PROXY", { HTTPS_PROXY: "A", ALL_PROXY: "B" }, "https://127.0.0.1", "A"],
  [
    "an unusable HTTP_PROXY falls back to ALL_PROXY",
    { HTTP_PROXY: "::::", ALL_PROXY: "B" },
    "http://127.0.0.1",
    "B",
  ],
  ["a proxy without a scheme is http://", { HTTP_PROXY: "A-NO-SCHEME" }, "http://127.0.0.1", "A"],
  [
    "CGI (REQUEST_METHOD set): no proxy",
    { HTTP_PROXY: "A", REQUEST_METHOD: "GET" },
    "http://127.0.0.1",
    "direct",
  ],
  ["CGI: not even ALL_PROXY", { ALL_PROXY: "A", REQUEST_METHOD: "GET" }, "http://127.0.0.1", "direct"],
  ["NO_PROXY=127.0.0.1", { HTTP_PROXY: "A", NO_PROXY: "127.0.0.1" }, "http://127.0.0.1", "direct"],
  [
    "NO_PROXY=127.0.0.1 for https://",
    { HTTPS_PROXY: "A", NO_PROXY: "127.0.0.1" },
    "https://127.0.0.1",
    "direct",
  ],
  ["no_proxy=127.0.0.1", { HTTP_PROXY: "A", no_proxy: "127.0.0.1" }, "http://127.0.0.1", "direct"],
  [
    "NO_PROXY wins over no_proxy",
    { HTTP_PROXY: "A", NO_PROXY: "example.com", no_proxy: "127.0.0.1" },
    "http://127.0.0.1",
    "A",
  ],
  ["NO_PROXY CIDR", { HTTP_PROXY: "A", NO_PROXY: "127.0.0.0/8" }, "http://127.0.0.1", "direct"],
  [
    "NO_PROXY=localhost does not cover 127.0.0.1",
    { HTTP_PROXY: "A", NO_PROXY: "localhost" },
    "http://127.0.0.1",
    "A",
  ],
  [
    "NO_PROXY=localhost covers localhost",
    { HTTP_PROXY: "A", NO_PROXY: "localhost" },
    "http://localhost",
    "direct",
  ],
  ["localhost is proxied without NO_PROXY", { HTTP_PROXY: "A" }, "http://localhost", "A"],
  [
    "NO_PROXY=.localhost covers localhost",
    { HTTP_PROXY: "A", NO_PROXY: ".localhost" },
    "http://localhost",
    "direct",
  ],
  ["NO_PROXY is case-insensitive", { HTTP_PROXY: "A", NO_PROXY: "LOCALHOST" }, "http://localhost", "direct"],
  [
    "NO_PROXY entries are trimmed",
    { HTTP_PROXY: "A", NO_PROXY: " x , localhost " },
    "http://localhost",
    "direct",
  ],
  ["NO_PROXY is split on commas only", { HTTP_PROXY: "A", NO_PROXY: "x localhost" }, "http://localhost", "A"],
  ["NO_PROXY=* covers names", { HTTP_PROXY: "A", NO_PROXY: "*" }, "http://localhost", "direct"],
  ["NO_PROXY=* does not cover IP literals", { HTTP_PROXY: "A", NO_PROXY: "*" }, "http://127.0.0.1", "A"],
  [
    "NO_PROXY entries with a port never match",
    { HTTP_PROXY: "A", NO_PROXY: "127.0.0.1:PORT" },
    "http://127.0.0.1",
    "A",
  ],
  ["an empty NO_PROXY", { HTTP_PROXY: "A", NO_PROXY: "" }, "http://127.0.0.1", "A"],
];

let origin: Server;
let port: number;
let a: LoggingProxy;
let b: LoggingProxy;
let home: string;
beforeAll(async () => {
  origin = createServer((_req, res) => res.end("{}"));
  await new Promise<void>((resolve) => origin.listen(0, "127.0.0.1", resolve));
  port = (origin.address() as { port: number }).port;
  a = await startLoggingProxy();
  b = await startLoggingProxy();
  home = makeCodexHome("proxy-codex");
});
afterAll(async () => {
  await stopChildren();
  await a?.close();
  await b?.close();
  origin?.closeAllConnections();
  await new Promise((resolve) => origin?.close(resolve));
  if (home) removeCodexHome(home);
});

function envFor(template: Record<string, string>): Record<string, string> {
  const fill = (v: string) =>
    v === "A"
      ? a.url
      : v === "B"
        ? b.url
        : v === "A-NO-SCHEME"
          ? `127.0.0.1:${a.port}`
          : v.replace("PORT", String(port));
  return Object.fromEntries(Object.entries(template).map(([k, v]) => [k, fill(v)]));
}

function routeTaken(): Route {
  const seen = [a.log.length > 0 && "A", b.log.length > 0 && "B"].filter(Boolean);
  if (seen.length > 1) throw new Error(`both proxies saw the request: ${seen}`);
  return (seen[0] as Route | undefined) ?? "direct";
}

/** The environment codex runs with: nothing inherited that could route or authenticate. */
function codexEnv(extra: Record<string, string>, revokeUrl: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/proxy|^OPENAI_|^CODEX_|^REQUEST_METHOD$/i.test(k)) continue;
    env[k] = v;
  }
  return { ...env, CODEX_HOME: home, NO_COLOR: "1", CODEX_REVOKE_TOKEN_URL_OVERRIDE: revokeUrl, ...extra };
}

describe("proxy-routing-as-codex: the route each environment gives a request", () => {
  it.each(CASES)("%s", async (_name, template, target, expected) => {
    const env = envFor(template);
    const url = `${target}:${port}/oauth/revoke`;
    a.log.length = 0;
    b.log.length = 0;
    await revokeRefreshToken("rt_proxy_probe", { url, env });
    const ours = routeTaken();
    expect(ours).toBe(expected);
    if (!codex) return;
    a.log.length = 0;
    b.log.length = 0;
    writeFileSync(join(home, "auth.json"), JSON.stringify({ auth_mode: "chatgpt", ...fakeChatgptRecord() }));
    const logout = startChild(codex, ["logout"], codexEnv(env, url));
    expect(await logout.exit).toBe(0);
    expect(routeTaken()).toBe(ours);
  });
});
