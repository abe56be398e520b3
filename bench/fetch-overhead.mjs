// Overhead of the authenticated fetch (issue 11): createAuthenticatedFetch
// against plain fetch with the same headers written by hand, to the same
// local HTTP endpoint, in the same run, interleaved in blocks so that load
// from other work hits both alike. Figures are per request (median of
// per-request wall-clock times); the goal is < 5 % on the median.

import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { AuthManager, createAuthenticatedFetch } from "../dist/index.js";

const enc = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
const fakeJwt = (payload) => `${enc({ alg: "none", typ: "JWT" })}.${enc(payload)}.sig`;

/**
 * @param {object} h helpers from run.mjs: { section, goal, table, note, stats, num, repo, quick }
 */
export async function fetchOverhead(h) {
  await h.section("Authenticated fetch overhead vs plain fetch (local endpoint)", async () => {
    const body = JSON.stringify({ ok: true, items: Array.from({ length: 8 }, (_, i) => ({ i })) });
    const server = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.setHeader("content-type", "application/json");
        res.end(body);
      });
    });
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${server.address().port}/backend-api/wham/usage`;
    const home = join(h.repo, ".tmp", `bench-fetch-${process.pid}`);
    mkdirSync(home, { recursive: true, mode: 0o700 });
    const exp = Math.floor(Date.now() / 1000) + 24 * 3600;
    const access = fakeJwt({ exp, "https://api.openai.com/auth": { chatgpt_account_id: "org_bench" } });
    writeFileSync(
      join(home, "auth.json"),
      JSON.stringify({
        auth_mode: "chatgpt",
        OPENAI_API_KEY: null,
        tokens: {
          id_token: fakeJwt({
            email: "bench@example.com",
            "https://api.openai.com/auth": { chatgpt_plan_type: "pro" },
          }),
          access_token: access,
          refresh_token: "rt_bench",
          account_id: "org_bench",
        },
        last_refresh: new Date().toISOString(),
      }),
      { mode: 0o600 },
    );
    try {
      const manager = await AuthManager.create({ codexHome: home, env: {} });
      const authFetch = createAuthenticatedFetch(manager);
      const headers = { authorization: `Bearer ${access}`, "chatgpt-account-id": "org_bench" };
      const post = "x".repeat(1024);
      const cases = [
        ["GET, plain fetch", () => fetch(url, { headers })],
        ["GET, authenticated fetch", () => authFetch(url)],
        ["POST 1 KiB, plain fetch", () => fetch(url, { method: "POST", headers, body: post })],
        ["POST 1 KiB, authenticated fetch", () => authFetch(url, { method: "POST", body: post })],
      ];
      const once = async (fn) => {
        const t0 = process.hrtime.bigint();
        const res = await fn();
        await res.arrayBuffer();
        return Number(process.hrtime.bigint() - t0);
      };
      const blocks = h.quick ? 4 : 40;
      const perBlock = h.quick ? 20 : 250;
      for (const [, fn] of cases) for (let i = 0; i < 200; i++) await once(fn); // warm up connections and JIT
      const samples = new Map(cases.map(([name]) => [name, []]));
      for (let b = 0; b < blocks; b++) {
        for (let k = 0; k < cases.length; k++) {
          const [name, fn] = cases[(b + k) % cases.length];
          const out = samples.get(name);
          for (let i = 0; i < perBlock; i++) out.push(await once(fn));
        }
      }
      const s = Object.fromEntries([...samples].map(([name, ns]) => [name, h.stats(ns)]));
      h.table(
        ["case", "median µs", "p90 µs", "n"],
        cases.map(([name]) => [name, h.num(s[name].median / 1e3), h.num(s[name].p90 / 1e3), s[name].n]),
      );
      const overhead = (plain, auth) => (s[auth].median / s[plain].median - 1) * 100;
      const get = overhead("GET, plain fetch", "GET, authenticated fetch");
      const postOverhead = overhead("POST 1 KiB, plain fetch", "POST 1 KiB, authenticated fetch");
      h.note(`overhead on the median: GET ${h.num(get)} %, POST 1 KiB ${h.num(postOverhead)} %`);
      h.note(
        `added per request: GET ${h.num((s["GET, authenticated fetch"].median - s["GET, plain fetch"].median) / 1e3)} µs`,
      );
      h.goal("authenticated fetch overhead (GET, median)", get, 5, "lower", " %");
    } finally {
      server.closeAllConnections();
      server.close();
      rmSync(home, { recursive: true, force: true });
    }
  });
}
