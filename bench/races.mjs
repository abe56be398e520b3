// Refresh-race benchmarks (issue 5): how many refresh requests reach the
// issuer, and how many callers fail with `refresh_token_reused`, when N
// callers in one process or P processes share one stale CODEX_HOME — for
// codex-auth and, on the same dev issuer in the same run, for real Codex
// (`codex app-server`, getAuthStatus with includeToken). Plus the added
// latency of auth() on a fresh token. Everything stays on 127.0.0.1.

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { startDevIssuer } from "../dist/dev-issuer.js";
import { AuthManager } from "../dist/index.js";

const enc = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
/** True when a JWT's `exp` is in the future (a usable access token). */
const usable = (token) => {
  try {
    return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString()).exp * 1000 > Date.now();
  } catch {
    return false;
  }
};
const expiredAccessToken = () =>
  `${enc({ alg: "none" })}.${enc({ exp: Math.floor(Date.now() / 1000) - 60 })}.sig`;

/**
 * @param {object} h helpers from run.mjs: { section, goal, table, note, stats, num, repo, cli, codex }
 */
export async function refreshRaces(h) {
  const issuer = await startDevIssuer({ port: 0, autoApprove: true, accessTtlSeconds: 3600 });
  const scratch = join(h.repo, ".tmp");
  mkdirSync(scratch, { recursive: true, mode: 0o700 });
  const homes = [];
  const env = (home) => {
    const e = {
      ...process.env,
      CODEX_HOME: home,
      CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/token`,
      CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/revoke`,
    };
    delete e.CODEX_API_KEY;
    return e;
  };

  async function staleHome() {
    const tokens = await issuer.issueTokens();
    const home = mkdtempSync(join(scratch, "bench-race-"));
    homes.push(home);
    const record = {
      auth_mode: "chatgpt",
      OPENAI_API_KEY: null,
      tokens: {
        id_token: tokens.id_token,
        access_token: expiredAccessToken(),
        refresh_token: tokens.refresh_token,
        account_id: "org_dev",
      },
      last_refresh: new Date(Date.now() - 3600_000).toISOString(),
    };
    writeFileSync(join(home, "auth.json"), JSON.stringify(record, null, 2), { mode: 0o600 });
    writeFileSync(join(home, "config.toml"), `chatgpt_base_url = "${issuer.url}/backend-api/"\n`);
    return home;
  }

  const grantsSince = (since) => {
    const g = issuer.requests
      .slice(since)
      .filter((r) => r.path === "/oauth/token" && r.grant_type === "refresh_token");
    return {
      requests: g.length,
      rotated: g.filter((r) => r.outcome === "rotated").length,
      reused: g.filter((r) => r.outcome === "reused").length,
    };
  };

  const ours = (home) =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [h.cli, "token"], {
        env: env(home),
        stdio: ["ignore", "pipe", "ignore"],
      });
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      child.once("exit", (code) => resolve(code === 0 && out.trim().length > 0));
    });

  /**
   * One `codex app-server` making `n` concurrent calls: getAuthStatus {includeToken} (counts usable, unexpired
   * tokens) or account/read {refreshToken:true} (counts answers with an account). Resolves that count.
   */
  const codexProcess = (home, n = 1, method = "getAuthStatus") =>
    new Promise((resolve) => {
      const child = spawn(h.codex, ["app-server"], { env: env(home), stdio: ["pipe", "pipe", "ignore"] });
      const lines = createInterface({ input: child.stdout });
      let got = 0;
      let answered = 0;
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      lines.on("line", (line) => {
        let msg;
        try {
          msg = JSON.parse(line);
        } catch {
          return;
        }
        if (msg.id === 0) {
          for (let i = 1; i <= n; i++) {
            const params =
              method === "getAuthStatus"
                ? { includeToken: true, refreshToken: false }
                : { refreshToken: true };
            child.stdin.write(`${JSON.stringify({ id: i, method, params })}\n`);
          }
        } else if (typeof msg.id === "number") {
          answered++;
          if (
            method === "getAuthStatus"
              ? msg.result?.authToken && usable(msg.result.authToken)
              : msg.result?.account
          )
            got++;
          if (answered === n) child.stdin.end();
        }
      });
      child.once("exit", () => {
        clearTimeout(timer);
        resolve(got);
      });
      child.stdin.write(
        `${JSON.stringify({ id: 0, method: "initialize", params: { clientInfo: { name: "bench", version: "0" } } })}\n`,
      );
    });

  try {
    await h.section("Refresh races: N concurrent stale callers in one process", async () => {
      const rows = [];
      for (const n of [1, 10, 100]) {
        const home = await staleHome();
        const since = issuer.requests.length;
        const manager = await AuthManager.create({ codexHome: home, env: env(home) });
        const results = await Promise.all(Array.from({ length: n }, () => manager.auth()));
        const fresh = results.filter(
          (a) => a?.accessTokenExpiresAtMs !== undefined && a.accessTokenExpiresAtMs > Date.now(),
        ).length;
        const g = grantsSince(since);
        const row = [`codex-auth`, n, g.requests, g.reused, n - fresh];
        if (h.codex) {
          const home2 = await staleHome();
          const since2 = issuer.requests.length;
          const got = await codexProcess(home2, n);
          const g2 = grantsSince(since2);
          rows.push(row, [`codex 0.169`, n, g2.requests, g2.reused, n - got]);
        } else rows.push(row);
        h.goal(
          `codex-auth refresh requests, ${n} callers`,
          g.requests,
          1,
          "lower",
          "",
          ` (failures ${n - fresh})`,
        );
      }
      h.table(["who", "callers", "refresh requests", "reused", "failed callers"], rows);
      if (!h.codex) h.note("codex not installed: its figures skipped");
    });

    await h.section("Refresh races: P processes sharing one stale CODEX_HOME", async () => {
      const rows = [];
      for (const p of [2, 4, 8, 16]) {
        const home = await staleHome();
        const since = issuer.requests.length;
        const ok = (await Promise.all(Array.from({ length: p }, () => ours(home)))).filter(Boolean).length;
        const g = grantsSince(since);
        rows.push(["codex-auth", p, g.requests, g.rotated, g.reused, p - ok]);
        h.goal(
          `codex-auth rotations, ${p} processes`,
          g.rotated,
          1,
          "lower",
          "",
          ` (failures ${p - ok}, reused ${g.reused})`,
        );
        if (h.codex) {
          const home2 = await staleHome();
          const since2 = issuer.requests.length;
          const got = (
            await Promise.all(Array.from({ length: p }, () => codexProcess(home2, 1, "account/read")))
          ).reduce((a, b) => a + b, 0);
          const g2 = grantsSince(since2);
          rows.push(["codex 0.169", p, g2.requests, g2.rotated, g2.reused, p - got]);
          const home3 = await staleHome();
          const since3 = issuer.requests.length;
          const half = p / 2;
          const [oursOk, codexGot] = await Promise.all([
            Promise.all(Array.from({ length: half }, () => ours(home3))).then(
              (r) => r.filter(Boolean).length,
            ),
            Promise.all(Array.from({ length: half }, () => codexProcess(home3, 1, "account/read"))).then(
              (r) => r.reduce((a, b) => a + b, 0),
            ),
          ]);
          const g3 = grantsSince(since3);
          rows.push([
            `mixed ${half}+${half}`,
            p,
            g3.requests,
            g3.rotated,
            g3.reused,
            `ours ${half - oursOk}, codex ${half - codexGot}`,
          ]);
        }
      }
      h.table(["who", "processes", "refresh requests", "rotations", "reused", "failed"], rows);
      h.note(
        "codex processes: `codex app-server`, account/read {refreshToken:true} (the issue's probe); codex-auth processes: `codex-auth token`.",
      );
      h.note(
        "failed: a codex-auth process that exited non-zero / a codex app-server whose account/read answered account:null (its refresh failed).",
      );
    });

    await h.section("auth() added latency on a fresh token", async () => {
      const tokens = await issuer.issueTokens();
      const home = mkdtempSync(join(scratch, "bench-fresh-"));
      homes.push(home);
      writeFileSync(
        join(home, "auth.json"),
        JSON.stringify({
          auth_mode: "chatgpt",
          OPENAI_API_KEY: null,
          tokens: { ...tokens, account_id: "org_dev" },
          last_refresh: new Date().toISOString(),
        }),
        { mode: 0o600 },
      );
      const manager = await AuthManager.create({ codexHome: home, env: env(home) });
      const per = async (fn, count) => {
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < count; i++) await fn();
        return Number(process.hrtime.bigint() - t0) / count;
      };
      const samplesAuth = [];
      const samplesBase = [];
      const noop = async () => manager.authCached();
      for (let i = 0; i < 15; i++) {
        samplesBase.push(await per(noop, 20_000));
        samplesAuth.push(await per(() => manager.auth(), 20_000));
      }
      const a = h.stats(samplesAuth).median;
      const b = h.stats(samplesBase).median;
      h.table(
        ["call", "median ns/call"],
        [
          ["await manager.auth() (fresh ChatGPT token)", h.num(a)],
          ["await async () => authCached() (baseline)", h.num(b)],
        ],
      );
      h.goal("auth() on a fresh token", a / 1000, 1, "lower", " µs", ` (baseline ${h.num(b)} ns)`);
    });
  } finally {
    await issuer.close();
    for (const home of homes) rmSync(home, { recursive: true, force: true });
  }
}
