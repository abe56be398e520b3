// App-server benchmarks (issue 12): `codex-auth app-server` against the real
// `codex app-server` 0.169 in the same run, same machine, same kind of
// CODEX_HOME (an API-key login, so answers need no network):
//   - start-up: spawn → the answer to `initialize`;
//   - `account/read` round trip over stdio, one request at a time (median, p99);
//   - requests per second with 10 `account/read` in flight.
// The two servers alternate in blocks so a busy machine slows both alike.

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const QUICK = process.env.BENCH_QUICK === "1";
const INIT = JSON.stringify({
  id: 0,
  method: "initialize",
  params: { clientInfo: { name: "bench", version: "1" } },
});

/** p-quantile of numbers. */
function quantile(samples, q) {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

/** A server process with a line reader: `request(line)` resolves with the answer's arrival time. */
class Server {
  constructor(cmd, args, env) {
    this.child = spawn(cmd, args, { env, stdio: ["pipe", "pipe", "ignore"] });
    this.buffer = "";
    this.waiting = new Map();
    this.nextId = 1;
    this.child.stdout.setEncoding("utf8");
    this.child.stdout.on("data", (chunk) => {
      this.buffer += chunk;
      for (;;) {
        const nl = this.buffer.indexOf("\n");
        if (nl < 0) break;
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        const m = /^\{"id":(\d+),/.exec(line);
        const resolve = m && this.waiting.get(Number(m[1]));
        if (resolve) {
          this.waiting.delete(Number(m[1]));
          resolve(process.hrtime.bigint());
        }
      }
    });
  }

  /** Sends `method` and resolves when its answer arrives. */
  call(method, params) {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.child.stdin.write(`${JSON.stringify({ id, method, params })}\n`);
    });
  }

  async init() {
    await new Promise((resolve) => {
      this.waiting.set(0, resolve);
      this.child.stdin.write(`${INIT}\n`);
    });
  }

  close() {
    return new Promise((resolve) => {
      this.child.once("exit", resolve);
      this.child.stdin.end();
      setTimeout(() => this.child.kill("SIGKILL"), 10_000).unref();
    });
  }
}

/**
 * @param {object} h helpers from run.mjs: { section, goal, table, note, stats, num, repo, cli, codex }
 */
export async function appServerBench(h) {
  const scratch = join(h.repo, ".tmp");
  mkdirSync(scratch, { recursive: true, mode: 0o700 });
  const home = mkdtempSync(join(scratch, "bench-appserver-"));
  writeFileSync(
    join(home, "auth.json"),
    '{\n  "auth_mode": "apikey",\n  "OPENAI_API_KEY": "sk-bench-1234567890ABCDEF"\n}',
    { mode: 0o600 },
  );
  const env = { ...process.env, CODEX_HOME: home, TERM: "xterm" };
  for (const k of Object.keys(env)) if (/^OPENAI_|^CODEX_API_KEY$|proxy/i.test(k)) delete env[k];
  const servers = [["codex-auth app-server", h.cli ? [process.execPath, [h.cli, "app-server"]] : undefined]];
  if (h.codex) servers.push(["codex app-server 0.169", [h.codex, ["app-server"]]]);
  else h.note("  real codex not installed: only codex-auth is measured");
  const start = (name) => {
    const [cmd, args] = servers.find(([n]) => n === name)[1];
    return new Server(cmd, args, env);
  };

  // Node's own floor: a script that answers the first line it reads (no codex-auth code at all).
  const FLOOR = "node answering one line (floor)";
  const floorScript =
    'process.stdin.once("data",()=>process.stdout.write(\'{"id":0,"result":{}}\\n\'));process.stdin.on("end",()=>process.exit(0))';
  try {
    await h.section("App server start-up: spawn → initialize answer", async () => {
      const runs = QUICK ? 5 : 30;
      const startable = [...servers, [FLOOR, [process.execPath, ["-e", floorScript]]]];
      const samples = new Map(startable.map(([n]) => [n, []]));
      const startAny = (name) => {
        const [cmd, args] = startable.find(([n]) => n === name)[1];
        return new Server(cmd, args, env);
      };
      for (let i = -1; i < runs; i++) {
        for (const [name] of i % 2 ? startable : [...startable].reverse()) {
          const t0 = process.hrtime.bigint();
          const s = startAny(name);
          await s.init();
          const ms = Number(process.hrtime.bigint() - t0) / 1e6;
          await s.close();
          if (i >= 0) samples.get(name).push(ms);
        }
      }
      h.table(
        ["server", "median ms", "p90 ms", "min ms"],
        startable.map(([n]) => {
          const x = samples.get(n);
          return [n, h.num(quantile(x, 0.5)), h.num(quantile(x, 0.9)), h.num(Math.min(...x))];
        }),
      );
      if (h.codex) {
        const ours = quantile(samples.get(servers[0][0]), 0.5);
        const theirs = quantile(samples.get(servers[1][0]), 0.5);
        h.goal("app-server start-up median, ours / codex", ours / theirs, 1, "lower", "×");
      }
    });

    await h.section("App server: account/read round trip over stdio (one at a time)", async () => {
      const blocks = QUICK ? 4 : 12;
      const perBlock = QUICK ? 50 : 100; // 12 × 100 = 1,200 timed requests per server
      const running = new Map(servers.map(([n]) => [n, start(n)]));
      await Promise.all([...running.values()].map((s) => s.init()));
      const samples = new Map(servers.map(([n]) => [n, []]));
      for (let b = -1; b < blocks; b++) {
        for (const [name] of b % 2 ? servers : [...servers].reverse()) {
          const s = running.get(name);
          for (let i = 0; i < perBlock; i++) {
            const t0 = process.hrtime.bigint();
            const t1 = await s.call("account/read", {});
            if (b >= 0) samples.get(name).push(Number(t1 - t0) / 1e3);
          }
        }
      }
      await Promise.all([...running.values()].map((s) => s.close()));
      h.table(
        ["server", "requests", "median µs", "p99 µs", "min µs"],
        servers.map(([n]) => {
          const x = samples.get(n);
          return [n, x.length, h.num(quantile(x, 0.5)), h.num(quantile(x, 0.99)), h.num(Math.min(...x))];
        }),
      );
      if (h.codex) {
        const [ours, theirs] = servers.map(([n]) => samples.get(n));
        h.goal(
          "account/read median, ours / codex",
          quantile(ours, 0.5) / quantile(theirs, 0.5),
          1,
          "lower",
          "×",
        );
        h.goal(
          "account/read p99, ours / codex",
          quantile(ours, 0.99) / quantile(theirs, 0.99),
          1,
          "lower",
          "×",
        );
      }
    });

    await h.section("App server: account/read requests per second, 10 in flight", async () => {
      const total = QUICK ? 500 : 3000;
      const rounds = QUICK ? 2 : 5;
      const rates = new Map(servers.map(([n]) => [n, []]));
      for (let r = -1; r < rounds; r++) {
        for (const [name] of r % 2 ? servers : [...servers].reverse()) {
          const s = start(name);
          await s.init();
          let sent = 0;
          const t0 = process.hrtime.bigint();
          const lane = async () => {
            while (sent < total) {
              sent++;
              await s.call("account/read", {});
            }
          };
          await Promise.all(Array.from({ length: 10 }, lane));
          const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
          await s.close();
          if (r >= 0) rates.get(name).push(total / seconds);
        }
      }
      h.table(
        ["server", "requests per round", "median req/s", "slowest round req/s"],
        servers.map(([n]) => {
          const x = rates.get(n);
          return [n, total, h.num(quantile(x, 0.5)), h.num(Math.min(...x))];
        }),
      );
      if (h.codex) {
        const [ours, theirs] = servers.map(([n]) => quantile(rates.get(n), 0.5));
        h.goal("account/read req/s with 10 in flight, ours / codex", ours / theirs, 1, "higher", "×");
      }
    });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
