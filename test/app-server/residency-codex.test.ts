/**
 * `enforce_residency = "us"` in the administrator's requirements.toml: the
 * real `codex app-server` 0.169 then sends `x-openai-internal-codex-residency: us`
 * on refresh and revoke (with `originator` and `user-agent`), and not on
 * the ChatGPT backend's accounts/check or usage requests; its CLI `logout`
 * does not send it at all. Ours, run the same way, sends the same.
 */

import { writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevIssuer } from "../../src/dev-issuer/index.js";
import { findCodexBinary, makeCodexHome, removeCodexHome } from "../support/env.js";
import { fakeChatgptRecord } from "../support/jwt.js";
import { canMount } from "../support/mounts.js";
import {
  makeSystemConfigDir,
  removeSystemConfigDir,
  runCodexWithEtcCodex,
  runOursWithSystemConfigDir,
} from "../support/system-config.js";
import { serverEnv } from "./support/differential.js";
import { RpcProcess, type ServerKind } from "./support/rpc-process.js";

const codex = findCodexBinary();
const mountable = canMount();
const RESIDENCY = "x-openai-internal-codex-residency";

/** Every request seen: path and headers. Answers `{}` (the refresh then fails; only headers matter). */
let seen: Array<{ path: string; headers: IncomingHttpHeaders }> = [];
let server: Server;
let base: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ path: new URL(req.url ?? "/", "http://x").pathname, headers: req.headers });
    req.resume();
    req.on("end", () => {
      res.writeHead(req.url?.startsWith("/oauth/token") ? 400 : 200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
});

function seeded(): string {
  const home = makeCodexHome("residency");
  writeFileSync(join(home, "auth.json"), JSON.stringify(fakeChatgptRecord(), null, 2), { mode: 0o600 });
  writeFileSync(join(home, "config.toml"), `chatgpt_base_url = "${base}/backend-api/"\n`);
  return home;
}

/** The residency header per endpoint path, as one app server sent it (refresh, then logout). */
async function appServer(
  kind: ServerKind,
  requirements: string,
): Promise<Record<string, string | undefined>> {
  const home = seeded();
  const etcCodex = makeSystemConfigDir({ "requirements.toml": requirements });
  seen = [];
  try {
    const env = serverEnv(home, { url: base } as DevIssuer, {
      CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${base}/oauth/token`,
      CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${base}/oauth/revoke`,
    });
    const proc = new RpcProcess({ kind, codex: codex!, env, etcCodex });
    const call = async (id: number, method: string, params: unknown) => {
      proc.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
      await proc.waitFor((m) => m.id === id && m.method === undefined, `the answer to ${method}`);
    };
    await call(1, "initialize", { clientInfo: { name: "residency_test", title: null, version: "1" } });
    await call(2, "getAuthStatus", { includeToken: true, refreshToken: true });
    await call(3, "account/logout", {});
    await proc.close();
    return headersByPath();
  } finally {
    removeCodexHome(home);
    removeSystemConfigDir(etcCodex);
  }
}

function headersByPath(): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const { path, headers } of seen) {
    if (path.includes("/plugins/")) continue; // Codex's own features, not sign-in
    out[path] ??= headers[RESIDENCY] as string | undefined;
  }
  return out;
}

describe.runIf(codex && mountable)("enforce_residency matches codex 0.169", () => {
  it("residency-header-on-app-server-refresh-and-revoke", async () => {
    const theirs = await appServer("codex", 'enforce_residency = "us"\n');
    const ours = await appServer("ours", 'enforce_residency = "us"\n');
    expect(theirs["/oauth/token"]).toBe("us");
    expect(theirs["/oauth/revoke"]).toBe("us");
    expect({ token: ours["/oauth/token"], revoke: ours["/oauth/revoke"] }).toEqual({
      token: theirs["/oauth/token"],
      revoke: theirs["/oauth/revoke"],
    });
    // Never on the ChatGPT backend's account requests.
    for (const [path, value] of Object.entries(ours)) {
      if (path.startsWith("/backend-api/")) expect(value, path).toBeUndefined();
    }
  });

  it("no residency header without the requirement", async () => {
    const theirs = await appServer("codex", "");
    const ours = await appServer("ours", "");
    expect(theirs["/oauth/token"]).toBeUndefined();
    expect(ours["/oauth/token"]).toBeUndefined();
    expect(ours["/oauth/revoke"]).toBeUndefined();
  });

  it("the CLI's logout does not send it, as Codex's CLI", async () => {
    const revokeHeader = async (kind: ServerKind) => {
      const home = seeded();
      const etcCodex = makeSystemConfigDir({ "requirements.toml": 'enforce_residency = "us"\n' });
      seen = [];
      try {
        const o = { home, env: { CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${base}/oauth/revoke` } };
        const r =
          kind === "codex"
            ? await runCodexWithEtcCodex(codex!, etcCodex, ["logout"], o)
            : await runOursWithSystemConfigDir(etcCodex, ["logout"], o);
        expect(r.code).toBe(0);
        const revoke = seen.find((s) => s.path === "/oauth/revoke");
        expect(revoke).toBeDefined();
        return revoke!.headers[RESIDENCY];
      } finally {
        removeCodexHome(home);
        removeSystemConfigDir(etcCodex);
      }
    };
    expect(await revokeHeader("codex")).toBeUndefined();
    expect(await revokeHeader("ours")).toBeUndefined();
  });
});
