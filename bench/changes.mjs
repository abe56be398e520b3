// Account-change latency (issue 11): the time from another process's save
// to the change event of a watching AuthManager. File mode (auth.json
// watched through the OS) always; keyring mode (polled) when a throwaway
// Secret Service is present (run under scripts/with-secret-service.sh).
//
// The writer is a separate Node process saving through codex-auth's storage
// (Codex's locks, temp file + fsync + rename). It stamps the monotonic clock
// (CLOCK_MONOTONIC, shared by every process on the machine) just before
// save() and just after it returns; the watcher stamps the event. Each save
// waits for its event before the next one: no save is coalesced with
// another, and no timer paces the loop.

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { AuthManager, createStorage } from "../dist/index.js";

const WRITER_SOURCE = `
import { createInterface } from "node:readline";
const { createStorage } = await import(process.env.DIST);
const storage = await createStorage(process.env.CODEX_HOME, process.env.STORE);
for await (const line of createInterface({ input: process.stdin })) {
  const key = line.trim();
  const before = process.hrtime.bigint();
  await storage.save({ auth_mode: "apikey", OPENAI_API_KEY: key });
  const after = process.hrtime.bigint();
  process.stdout.write(key + " " + before + " " + after + "\\n");
}
`;

/**
 * @param {object} h helpers from run.mjs: { section, goal, table, note, stats, num, repo, quick }
 */
export async function accountChanges(h) {
  const scratch = join(h.repo, ".tmp");
  mkdirSync(scratch, { recursive: true, mode: 0o700 });
  const secretService = process.env.CODEX_AUTH_SECRET_SERVICE === "scratch";

  await h.section("Account changes: another process's save → change event", async () => {
    const rows = [];
    const runs = [
      { store: "file", samples: h.quick ? 20 : 200, watch: true },
      ...(secretService
        ? [{ store: "keyring", samples: h.quick ? 3 : 12, watch: { pollIntervalMs: 1_000 } }]
        : []),
    ];
    if (!secretService)
      h.note("keyring mode skipped: run under scripts/with-secret-service.sh for a throwaway Secret Service");
    for (const run of runs) {
      const r = await measure(run);
      const fromStart = h.stats(r.fromStart);
      const fromReturn = h.stats(r.fromReturn);
      rows.push([
        `${run.store}${run.store === "keyring" ? " (polled every 1000 ms)" : " (OS watch)"}`,
        r.fromStart.length,
        h.num(fromStart.median),
        h.num(fromStart.p99),
        h.num(fromReturn.median),
        h.num(fromReturn.p99),
        h.num(h.stats(r.saveMs).median),
      ]);
      if (run.store === "file") {
        h.goal(
          "change event after another process's save (file mode), median",
          fromStart.median,
          100,
          "lower",
          " ms",
        );
        h.goal(
          "change event after another process's save (file mode), p99",
          fromStart.p99,
          100,
          "lower",
          " ms",
        );
      }
      if (run.store === "keyring") {
        h.note(
          `keyring polling cost: ${h.num(r.pollCpuMs)} ms CPU per poll (the keyring read runs in a helper process), ` +
            `${h.num((r.pollCpuMs / 5_000) * 100)} % of a core at the default 5 s interval`,
        );
      }
    }
    h.table(
      [
        "storage",
        "saves",
        "save start → event median ms",
        "p99 ms",
        "save returned → event median ms",
        "p99 ms",
        "save() itself median ms",
      ],
      rows,
    );
    h.note('Negative "save returned → event" figures: the event arrived before the writer got control back.');
  });

  async function measure({ store, samples, watch }) {
    const home = mkdtempSync(join(scratch, `bench-changes-${store}-`));
    if (store !== "file")
      writeFileSync(join(home, "config.toml"), `cli_auth_credentials_store = "${store}"\n`, { mode: 0o600 });
    const manager = await AuthManager.create({ codexHome: home, credentialsStore: store, watch });
    let waiting;
    manager.onChange((event) => {
      const at = process.hrtime.bigint();
      if (event.auth?.mode === "apikey" && waiting?.key === event.auth.apiKey) waiting.resolve(at);
    });
    const env = {
      ...process.env,
      CODEX_HOME: home,
      STORE: store,
      DIST: new URL("../dist/index.js", import.meta.url).href,
    };
    delete env.NODE_OPTIONS;
    const writer = spawn(process.execPath, ["--input-type=module", "-e", WRITER_SOURCE], {
      env,
      stdio: ["pipe", "pipe", "inherit"],
    });
    const lines = createInterface({ input: writer.stdout })[Symbol.asyncIterator]();
    const fromStart = [];
    const fromReturn = [];
    const saveMs = [];
    let pollCpuMs = 0;
    try {
      for (let i = 0; i < samples + 1; i++) {
        const key = `sk-bench-change-${i}-1234567890`;
        const event = new Promise((resolve) => {
          waiting = { key, resolve };
        });
        // Polled storage: save at a random moment of the poll cycle (else every save would
        // follow a poll by the same delay and the figure would be the full interval).
        if (typeof watch === "object")
          await new Promise((r) => setTimeout(r, Math.random() * watch.pollIntervalMs));
        writer.stdin.write(`${key}\n`);
        const [line, eventAt] = await Promise.all([lines.next(), event]);
        const [, before, after] = line.value.split(" ").map((v, k) => (k === 0 ? v : BigInt(v)));
        if (i === 0) continue; // warm-up: the writer's first save creates the lock files
        fromStart.push(Number(eventAt - before) / 1e6);
        fromReturn.push(Number(eventAt - after) / 1e6);
        saveMs.push(Number(after - before) / 1e6);
      }
      if (store !== "file") pollCpuMs = await readCpuMs(home, store);
    } finally {
      writer.stdin.end();
      await manager.close();
      rmSync(home, { recursive: true, force: true });
    }
    return { fromStart, fromReturn, saveMs, pollCpuMs };
  }
}

/** CPU (ms, this process and its children) of one storage read: what each poll costs. */
async function readCpuMs(home, store) {
  const storage = await createStorage(home, store);
  const children = () => {
    const f = readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ");
    return (Number(f[13]) + Number(f[14])) * 10;
  };
  const n = 10;
  const c0 = children();
  const s0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await storage.load().catch(() => undefined);
  const self = process.cpuUsage(s0);
  return (children() - c0 + (self.user + self.system) / 1000) / n;
}
