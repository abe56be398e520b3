// Benchmarks for codex-auth: prints figures and ratios against baselines
// measured in the same run. Nothing is asserted; every goal gets a one-line
// "met / not met" at the end. Run with `npm run bench` (builds dist/ first).
//
// Layout: small helpers (stats, table, section, goal), a shared fixture (two
// throwaway CODEX_HOMEs), then one `section(...)` per benchmark. Add new
// benchmarks (e.g. refresh races) as further sections before `summary()`.
//
// CODEX_HOMEs live under <repo>/.tmp/bench-*: the real codex warns about
// homes inside $TMPDIR or /tmp. They are removed at the end.

import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, homedir, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { AuthManager, FileAuthStorage, loadAuth } from "../dist/index.js";
import { parseAuthRecord } from "../dist/oauth.js";
import { appServerBench } from "./app-server.mjs";
import { accountChanges } from "./changes.mjs";
import { fetchOverhead } from "./fetch-overhead.mjs";
import { installTime } from "./install.mjs";
import { keyringBenchmarks } from "./keyring.mjs";
import { refreshRaces } from "./races.mjs";

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
const CLI = join(REPO, "bin", "codex-auth.cjs");
const NODE = process.execPath;
/** `BENCH_QUICK=1` shrinks every iteration count (a smoke run of the script itself). */
const QUICK = process.env.BENCH_QUICK === "1";

// ─── helpers ────────────────────────────────────────────────────────────────

const now = () => process.hrtime.bigint();
const nsSince = (t0) => Number(process.hrtime.bigint() - t0);

/** Median, p90, p99, min, mean of numeric samples (any unit). */
function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
  return {
    n: s.length,
    median: s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2,
    p90: at(0.9),
    p99: at(0.99),
    min: s[0],
    mean: s.reduce((a, b) => a + b, 0) / s.length,
  };
}

/** Formats a number with a sensible number of significant digits. */
function num(x, digits = 3) {
  if (x === undefined || Number.isNaN(x)) return "-";
  if (x === 0) return "0";
  const abs = Math.abs(x);
  if (abs >= 10 ** digits) return Math.round(x).toLocaleString("en-US");
  return x.toPrecision(digits);
}
const ratio = (x) => (x === undefined || Number.isNaN(x) ? "-" : `${x.toFixed(2)}×`);

/** Prints rows (arrays of cells) under headers; numeric-looking cells are right-aligned. */
function table(headers, rows) {
  const cells = [headers, ...rows].map((r) => r.map((c) => String(c ?? "")));
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i]?.length ?? 0)));
  const isNum = (c) => /^[-+]?[\d.,]+(?:e[-+]?\d+)?\s*[×%]?$|^-$/.test(c);
  const line = (r) =>
    r
      .map((c, i) => (i > 0 && isNum(c) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  console.log(`  ${line(cells[0])}`);
  console.log(`  ${widths.map((w) => "─".repeat(w)).join("  ")}`);
  for (const r of cells.slice(1)) console.log(`  ${line(r)}`);
}

const note = (text) => console.log(`  ${text}`);
const signed = (x) => (x >= 0 ? `+${num(x)}` : num(x));

/**
 * Warns when other work was competing for the CPUs (1-minute load average
 * above half the CPU count): wall-clock medians of short processes are then
 * unreliable, the CPU column much less so. Returns true when busy.
 */
function busyNote() {
  const cpus = availableParallelism();
  const load1 = loadavg()[0];
  if (load1 <= cpus / 2) return false;
  note(
    `note: machine busy (load average ${load1.toFixed(2)} on ${cpus} CPUs): wall-clock figures are unreliable, prefer the CPU column / min.`,
  );
  return true;
}

const sectionTimes = [];
/** Runs one benchmark section under a heading; an exception is reported and the run goes on. */
async function section(name, fn) {
  // BENCH_ONLY=<words> runs only the sections whose name contains them (e.g. BENCH_ONLY="app server").
  const only = process.env.BENCH_ONLY?.toLowerCase();
  if (only && !name.toLowerCase().includes(only)) return;
  console.log(`\n## ${name}\n`);
  const t0 = now();
  try {
    await fn();
  } catch (err) {
    console.log(`  section failed: ${err?.stack ?? err}`);
  }
  sectionTimes.push([name, nsSince(t0) / 1e9]);
}

const goals = [];
/**
 * Records a goal for the summary. `better` is "lower" or "higher"; `figure`
 * undefined means it could not be measured.
 */
function goal(name, figure, target, better, unit, extra = "") {
  goals.push({ name, figure, target, better, unit, extra });
}

function summary() {
  console.log("\n## Summary\n");
  for (const g of goals) {
    const met =
      g.figure === undefined
        ? "not measured"
        : (g.better === "lower" ? g.figure <= g.target : g.figure >= g.target)
          ? "met"
          : "NOT MET";
    const op = g.better === "lower" ? "≤" : "≥";
    const figure = g.unit === "×" ? g.figure?.toFixed(3) : num(g.figure);
    console.log(`  ${g.name}: ${figure}${g.unit}${g.extra} (goal ${op} ${num(g.target)}${g.unit}) — ${met}`);
  }
  console.log(
    `\n  section times: ${sectionTimes.map(([n, s]) => `${n.split(":")[0]} ${s.toFixed(1)} s`).join(", ")}`,
  );
}

/**
 * CPU time (user + sys, ms) of this process's reaped children, from
 * /proc/self/stat (10 ms ticks: meaningful as a sum over many runs). Unlike
 * wall clock it barely moves when other work shares the machine.
 */
function childrenCpuMs() {
  try {
    const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ");
    return ((Number(fields[13]) + Number(fields[14])) * 1000) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}
const CLOCK_TICKS = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout?.trim()) || 100;

/** Spawns a command once; returns wall-clock ns (spawn to exit), child CPU ms and the result. */
function timeSpawn(cmd, args, env) {
  const cpu0 = childrenCpuMs();
  const t0 = now();
  const r = spawnSync(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  const ns = nsSince(t0);
  return { ns, cpuMs: childrenCpuMs() - cpu0, r };
}

/** Times a synchronous function per call, in blocks; returns per-call ns samples. */
function sampleSync(fn, iterations) {
  const out = new Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const t0 = now();
    fn();
    out[i] = nsSince(t0);
  }
  return out;
}

async function sampleAsync(fn, iterations) {
  const out = new Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const t0 = now();
    await fn();
    out[i] = nsSince(t0);
  }
  return out;
}

/** Runs `cases` ({name, run(iterations) → ns[]}) in rotating order, `blocks` times; collects samples per case. */
async function interleave(cases, blocks, perBlock) {
  const samples = new Map(cases.map((c) => [c.name, []]));
  for (let b = 0; b < blocks; b++) {
    for (let k = 0; k < cases.length; k++) {
      const c = cases[(b + k) % cases.length];
      samples.get(c.name).push(...(await c.run(perBlock)));
    }
  }
  return samples;
}

// ─── fixture ────────────────────────────────────────────────────────────────

const ROOT = join(REPO, ".tmp", `bench-${process.pid}-${randomBytes(3).toString("hex")}`);
const HOME_APIKEY = join(ROOT, "home-apikey");
const HOME_CHATGPT = join(ROOT, "home-chatgpt");
const BARE_READ = join(ROOT, "bare-read.mjs");
const MODULE_DUMP = join(ROOT, "module-dump.mjs");
const API_KEY = "sk-bench-1234567890ABCDEFGH";

function cleanup() {
  rmSync(ROOT, { recursive: true, force: true });
}
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}

/** A fake unsigned JWT (alg none), as Codex's own tests build them. */
function fakeJwt(payload) {
  const enc = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
  return `${enc({ alg: "none" })}.${enc(payload)}.sig`;
}

function chatgptRecord() {
  const iat = Math.floor(Date.now() / 1000);
  const auth = {
    chatgpt_plan_type: "pro",
    chatgpt_account_id: "org_bench",
    chatgpt_user_id: "user-bench",
  };
  return {
    OPENAI_API_KEY: null,
    tokens: {
      id_token: fakeJwt({
        iss: "https://auth.openai.com",
        sub: "auth0|bench",
        iat,
        exp: iat + 3600,
        email: "bench@example.com",
        "https://api.openai.com/auth": auth,
      }),
      access_token: fakeJwt({
        iss: "https://auth.openai.com",
        iat,
        exp: iat + 3600,
        "https://api.openai.com/auth": { chatgpt_account_id: auth.chatgpt_account_id },
      }),
      refresh_token: "rt_bench_refresh_token",
      account_id: auth.chatgpt_account_id,
    },
    last_refresh: new Date().toISOString(),
  };
}

/** The environment children run in: this one minus anything that would change which credentials are used. */
function childEnv(codexHome) {
  const env = { ...process.env, CODEX_HOME: codexHome };
  for (const k of ["CODEX_API_KEY", "OPENAI_API_KEY", "NODE_OPTIONS", "CODEX_REFRESH_TOKEN_URL_OVERRIDE"])
    delete env[k];
  return env;
}

function setUp() {
  mkdirSync(HOME_APIKEY, { recursive: true, mode: 0o700 });
  mkdirSync(HOME_CHATGPT, { recursive: true, mode: 0o700 });
  // The API-key home is written by our own CLI, as a user would.
  const login = spawnSync(NODE, [CLI, "login", "--with-api-key"], {
    env: childEnv(HOME_APIKEY),
    input: API_KEY,
    encoding: "utf8",
  });
  if (login.status !== 0)
    throw new Error(`codex-auth login --with-api-key failed (${login.status}): ${login.stderr}`);
  writeFileSync(join(HOME_CHATGPT, "auth.json"), `${JSON.stringify(chatgptRecord(), null, 2)}\n`, {
    mode: 0o600,
  });
  writeFileSync(MODULE_DUMP, MODULE_DUMP_SOURCE);
  writeFileSync(
    BARE_READ,
    'import { readFileSync } from "node:fs";\n' +
      'JSON.parse(readFileSync(process.env.CODEX_HOME + "/auth.json", "utf8"));\n',
  );
}

function findCodex() {
  const candidate =
    process.env.CODEX_BIN ||
    join(
      homedir(),
      ".cache/codex-auth-codex/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex",
    );
  return existsSync(candidate) ? candidate : undefined;
}

// ─── sections ───────────────────────────────────────────────────────────────

async function coldStart() {
  const runs = QUICK ? 5 : 30;
  const warmup = QUICK ? 1 : 3;
  const codex = findCodex();
  const homes = [
    ["API key", HOME_APIKEY, /API key configured/],
    ["ChatGPT", HOME_CHATGPT, /Logged in using ChatGPT/],
  ];
  const cases = [{ name: "node -e 0", cmd: NODE, args: ["-e", "0"], env: childEnv(HOME_APIKEY) }];
  for (const [label, home, expect] of homes) {
    const env = childEnv(home);
    cases.push({ name: `bare ESM read+parse (${label})`, cmd: NODE, args: [BARE_READ], env });
    cases.push({
      name: `codex-auth login status (${label})`,
      cmd: NODE,
      args: [CLI, "login", "status"],
      env,
      expect,
      ours: label,
    });
    if (codex)
      cases.push({
        name: `codex login status (${label})`,
        cmd: codex,
        args: ["login", "status"],
        env,
        expect,
      });
  }
  if (!codex) note("codex not installed: skipped (set CODEX_BIN or install it for the e2e tests)");

  // Check each command once: a benchmark of an error path would be meaningless.
  for (const c of cases) {
    const { r } = timeSpawn(c.cmd, c.args, c.env);
    const ok = r.status === 0 && (!c.expect || c.expect.test(`${r.stdout}${r.stderr}`));
    if (!ok) note(`warning: ${c.name} exited ${r.status}: ${(r.stderr || r.stdout).trim().split("\n")[0]}`);
  }

  const samples = new Map(cases.map((c) => [c.name, []]));
  const cpu = new Map(cases.map((c) => [c.name, 0]));
  for (let round = 0; round < warmup + runs; round++) {
    for (let k = 0; k < cases.length; k++) {
      const c = cases[(round + k) % cases.length];
      const { ns, cpuMs } = timeSpawn(c.cmd, c.args, c.env);
      if (round < warmup) continue;
      samples.get(c.name).push(ns / 1e6);
      cpu.set(c.name, cpu.get(c.name) + cpuMs);
    }
  }
  const base = stats(samples.get("node -e 0"));
  const baseCpu = cpu.get("node -e 0") / runs;
  const rows = cases.map((c) => {
    const s = stats(samples.get(c.name));
    const cpuPerRun = cpu.get(c.name) / runs;
    return [
      c.name,
      num(s.median),
      num(s.p90),
      num(s.min),
      num(s.median - base.median),
      ratio(s.median / base.median),
      num(cpuPerRun),
      ratio(cpuPerRun / baseCpu),
    ];
  });
  const busy = busyNote();
  note(
    `${runs} runs each, interleaved (rotating order), after ${warmup} warm-up rounds; wall clock spawn → exit;`,
  );
  note("CPU = user + sys of the child, mean per run (steadier than wall clock on a busy machine).");
  table(
    ["command", "median ms", "p90 ms", "min ms", "Δ median ms", "× node -e 0", "CPU ms", "CPU × node -e 0"],
    rows,
  );
  for (const c of cases.filter((c) => c.ours)) {
    goal(
      `cold start, login status (${c.ours}), median × node -e 0`,
      stats(samples.get(c.name)).median / base.median,
      1.2,
      "lower",
      "×",
      ` (min ${ratio(stats(samples.get(c.name)).min / base.min)}, CPU ${ratio(cpu.get(c.name) / runs / baseCpu)}, ` +
        `${signed(stats(samples.get(c.name)).median - base.median)} ms)${busy ? " [machine busy: see note above]" : ""}`,
    );
  }
}

const MODULE_DUMP_SOURCE = `
import { writeFileSync } from "node:fs";
process.on("exit", () => writeFileSync(process.env.BENCH_DUMP_OUT, JSON.stringify(process.moduleLoadList)));
`;

/** Builtin modules (from process.moduleLoadList) a command loads, using --import to record them at exit. */
function loadedBuiltins(args, env) {
  const out = join(ROOT, "module-list.json");
  rmSync(out, { force: true });
  spawnSync(NODE, ["--import", MODULE_DUMP, ...args], {
    env: { ...env, BENCH_DUMP_OUT: out },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Set(JSON.parse(readFileSync(out, "utf8")));
}

/** "internal/crypto/keys", "internal/crypto/hash" … → "internal/crypto/* ×2". */
function groupModules(names) {
  const groups = new Map();
  for (const n of names) {
    const key = n.startsWith("internal/") ? `${n.split("/").slice(0, 2).join("/")}/*` : n;
    groups.set(key, (groups.get(key) ?? 0) + 1);
  }
  const single = new Map(
    names.map((n) => [n.startsWith("internal/") ? `${n.split("/").slice(0, 2).join("/")}/*` : n, n]),
  );
  return [...groups]
    .sort((a, b) => b[1] - a[1])
    .map(([k, c]) => (c > 1 ? `${k} ×${c}` : single.get(k)))
    .join(", ");
}

async function coldStartBreakdown() {
  const env = childEnv(HOME_APIKEY);
  const kb = (name) => num(readFileSync(join(REPO, "dist", name)).length / 1024);
  note(
    `\`login status\` loads its own CommonJS bundle (${kb("cli-status.cjs")} KB, without the other commands); ` +
      `every other command the full one (${kb("cli.cjs")} KB), initialised lazily inside; node:crypto and node:readline are required on first use.`,
  );
  const ours = loadedBuiltins([CLI, "login", "status"], env);
  const bare = loadedBuiltins([BARE_READ], env);
  const extra = [...ours]
    .filter((m) => !bare.has(m) && m.startsWith("NativeModule "))
    .map((m) => m.slice("NativeModule ".length));
  const bindings = [...ours].filter((m) => !bare.has(m) && m.startsWith("Internal Binding ")).length;
  console.log();
  note(
    `builtin modules loaded by \`login status\` but not by the bare ESM script: ${extra.length} (+${bindings} bindings)`,
  );
  note(`  ${groupModules(extra) || "none"}`);
}

// The loops live at module level, one function each, so each keeps its own
// type feedback. Results are compared and counted, and the count is checked
// by the caller, so the JIT cannot drop the calls.
function emptyLoop(count) {
  let sink = 0;
  for (let i = 0; i < count; i++) sink = (sink + i) | 0;
  return sink;
}
function propertyRead(holder, expected, count) {
  let hits = 0;
  for (let i = 0; i < count; i++) if (holder.current === expected) hits++;
  return hits;
}
function cachedCalls(manager, expected, count) {
  let hits = 0;
  for (let i = 0; i < count; i++) if (manager.authCached() === expected) hits++;
  return hits;
}

async function authCachedRate() {
  const n = QUICK ? 2_000_000 : 20_000_000;
  const rounds = QUICK ? 3 : 9;
  for (const [label, home] of [
    ["API key", HOME_APIKEY],
    ["ChatGPT", HOME_CHATGPT],
  ]) {
    const m = await AuthManager.create({ codexHome: home });
    const expected = m.authCached();
    if (!expected) throw new Error(`AuthManager found no credentials in ${home}`);
    const holder = { current: expected };
    const loops = [
      ["empty loop (baseline)", () => emptyLoop(n), false],
      ["plain property read (baseline)", () => propertyRead(holder, expected, n), true],
      ["manager.authCached()", () => cachedCalls(m, expected, n), true],
    ];
    const perSecond = new Map(loops.map(([name]) => [name, []]));
    for (let round = -1; round < rounds; round++) {
      for (let k = 0; k < loops.length; k++) {
        const [name, fn, counts] = loops[(round + 1 + k) % loops.length];
        const t0 = now();
        const result = fn();
        const ns = nsSince(t0);
        if (counts && result !== n)
          throw new Error(`${name}: ${result} of ${n} calls returned the expected snapshot`);
        if (round >= 0) perSecond.get(name).push(n / (ns / 1e9));
      }
    }
    const base = stats(perSecond.get("plain property read (baseline)")).median;
    console.log(
      `  ${label} credentials: ${num(n / 1e6)} M calls per round, ${rounds} rounds (+1 warm-up), interleaved`,
    );
    table(
      ["loop", "median M/s", "slowest round M/s", "ns/call", "rate × property read"],
      loops.map(([name]) => {
        const s = stats(perSecond.get(name));
        return [name, num(s.median / 1e6), num(s.min / 1e6), num(1e9 / s.median), ratio(s.median / base)];
      }),
    );
    console.log();
    goal(
      `authCached() (${label}) calls/s`,
      stats(perSecond.get("manager.authCached()")).median,
      5e6,
      "higher",
      "/s",
    );
  }
}

async function loadParse() {
  const blocks = QUICK ? 4 : 20;
  const perBlock = QUICK ? 100 : 500; // 20 × 500 = 10k timed calls per case
  for (const [label, home] of [
    ["API key", HOME_APIKEY],
    ["ChatGPT", HOME_CHATGPT],
  ]) {
    const path = join(home, "auth.json");
    const storage = new FileAuthStorage(home);
    const text = readFileSync(path, "utf8");
    let sink;
    const cases = [
      { name: "readFileSync only", run: (k) => sampleSync(() => (sink = readFileSync(path, "utf8")), k) },
      {
        name: "JSON.parse(readFileSync) (baseline)",
        run: (k) => sampleSync(() => (sink = JSON.parse(readFileSync(path, "utf8"))), k),
      },
      {
        name: "parseAuthRecord(text) only",
        run: (k) => sampleSync(() => (sink = parseAuthRecord(text, path)), k),
      },
      { name: "FileAuthStorage.loadSync()", run: (k) => sampleSync(() => (sink = storage.loadSync()), k) },
      {
        name: "new FileAuthStorage(home).loadSync()",
        run: (k) => sampleSync(() => (sink = new FileAuthStorage(home).loadSync()), k),
      },
      {
        name: "await loadAuth(storage)",
        run: (k) => sampleAsync(async () => (sink = await loadAuth(storage)), k),
      },
    ];
    await interleave(cases, 1, perBlock); // warm-up
    const samples = await interleave(cases, blocks, perBlock);
    if (sink === undefined) throw new Error("nothing loaded");
    const base = stats(samples.get("JSON.parse(readFileSync) (baseline)")).median;
    console.log(
      `  ${label} auth.json (${Buffer.byteLength(text)} bytes): ${blocks * perBlock} timed calls per case, interleaved in blocks of ${perBlock}`,
    );
    table(
      ["operation", "median µs", "p90 µs", "min µs", "× baseline"],
      cases.map((c) => {
        const s = stats(samples.get(c.name));
        return [c.name, num(s.median / 1e3), num(s.p90 / 1e3), num(s.min / 1e3), ratio(s.median / base)];
      }),
    );
    console.log();
    goal(
      `new FileAuthStorage(home).loadSync() (${label}) median`,
      stats(samples.get("new FileAuthStorage(home).loadSync()")).median / 1e3,
      50,
      "lower",
      " µs",
    );
  }
}

// ─── main ───────────────────────────────────────────────────────────────────

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
console.log(
  `codex-auth benchmarks — node ${process.version}, ${process.platform}-${process.arch}, load average ${load()}${QUICK ? " (BENCH_QUICK)" : ""}`,
);
const started = now();
try {
  setUp();
  await section("Cold start: `login status` vs node -e 0", coldStart);
  await section("Cold start breakdown: where `login status` spends its time", coldStartBreakdown);
  await keyringBenchmarks({
    section,
    goal,
    table,
    note,
    stats,
    num,
    ratio,
    busyNote,
    timeSpawn,
    childEnv,
    quick: QUICK,
    root: ROOT,
    repo: REPO,
    cli: CLI,
    node: NODE,
    codex: findCodex(),
    homes: { apiKey: HOME_APIKEY, chatgpt: HOME_CHATGPT },
  });
  await section("authCached() throughput", authCachedRate);
  await section("auth.json load + parse", loadParse);
  await refreshRaces({ section, goal, table, note, stats, num, repo: REPO, cli: CLI, codex: findCodex() });
  await fetchOverhead({ section, goal, table, note, stats, num, repo: REPO, quick: QUICK });
  await accountChanges({ section, goal, table, note, stats, num, repo: REPO, quick: QUICK });
  await installTime({ section, goal, table, note, stats, num, repo: REPO, quick: QUICK });
  await appServerBench({ section, goal, table, note, stats, num, repo: REPO, cli: CLI, codex: findCodex() });
  summary();
} finally {
  cleanup();
}
console.log(`\n  total ${(nsSince(started) / 1e9).toFixed(1)} s, load average now ${load()}`);
