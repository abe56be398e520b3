/**
 * What a keyring that stops answering may and may not do to the process
 * using it: against a bus that never says a word (a hung dbus-daemon) and a
 * bus whose Secret Service never answers (a stopped gnome-keyring), every
 * operation fails with KeyringUnavailableError at its deadline, while
 * timers keep firing, file I/O keeps flowing, and the process can exit
 * right after. No real Secret Service needed.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { build } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
import { KeyringUnavailableError } from "../../src/errors.js";
import type { AuthRecord } from "../../src/record/auth-record.js";
import { KeyringAuthStorage } from "../../src/storage/keyring.js";
import { makeCodexHome, REPO_ROOT, removeCodexHome } from "../support/env.js";
import { type FakeBus, frozenSecretServiceBus, hungBus } from "./keyring-fixtures.js";

const homes: string[] = [];
afterAll(() => {
  for (const h of homes) removeCodexHome(h);
});
function home(): string {
  const h = makeCodexHome("keyring-frozen");
  homes.push(h);
  return h;
}

const record: AuthRecord = { auth_mode: "apikey", OPENAI_API_KEY: "sk-test-1234567890ABCDEFGH" };
const fixtures: [string, (dir: string) => Promise<FakeBus>][] = [
  ["a hung bus", hungBus],
  ["a frozen Secret Service", frozenSecretServiceBus],
];

async function withBus<T>(
  make: (dir: string) => Promise<FakeBus>,
  fn: (bus: FakeBus) => Promise<T>,
): Promise<T> {
  const bus = await make(home());
  try {
    return await fn(bus);
  } finally {
    await bus.close();
  }
}

function storageOn(bus: FakeBus, keyringTimeoutMs: number): KeyringAuthStorage {
  return new KeyringAuthStorage(home(), {
    keyringTimeoutMs,
    env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: bus.address },
  });
}

describe("a keyring that stops answering", () => {
  it.each(fixtures)(
    "keyring-error-within-bound: %s gives KeyringUnavailableError at the deadline",
    async (_, make) => {
      await withBus(make, async (bus) => {
        const timeoutMs = 1_000;
        const storage = storageOn(bus, timeoutMs);
        for (const [name, op] of [
          ["load", () => storage.load()],
          ["save", () => storage.save(record)],
          ["delete", () => storage.delete()],
        ] as const) {
          const started = performance.now();
          const err = await op().catch((e: unknown) => e);
          const elapsed = performance.now() - started;
          console.log(`${_}: ${name} failed after ${Math.round(elapsed)} ms (timeout ${timeoutMs} ms)`);
          expect(err, name).toBeInstanceOf(KeyringUnavailableError);
          expect((err as Error).message).toMatch(/did not answer within 1000 ms/);
          expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 50);
          expect(elapsed).toBeLessThan(timeoutMs + 1_500);
        }
        // It really got that far, and left no connection behind.
        expect(bus.clients.length).toBeGreaterThan(0);
        await Promise.all(
          bus.clients.map((c) => (c.destroyed ? undefined : new Promise((r) => c.once("close", r)))),
        );
        if (make === frozenSecretServiceBus)
          expect(bus.swallowed).toContain("org.freedesktop.Secret.Service.OpenSession");
      });
    },
  );

  it.each(fixtures)(
    "frozen-keyring-does-not-block-event-loop: a timer keeps firing while %s hangs",
    async (_, make) => {
      await withBus(make, async (bus) => {
        const timeoutMs = 1_500;
        let ticks = 0;
        let last = performance.now();
        let longestGap = 0;
        const timer = setInterval(() => {
          const now = performance.now();
          longestGap = Math.max(longestGap, now - last);
          last = now;
          ticks++;
        }, 10);
        try {
          await expect(storageOn(bus, timeoutMs).load()).rejects.toBeInstanceOf(KeyringUnavailableError);
        } finally {
          clearInterval(timer);
        }
        console.log(
          `${_}: ${ticks} ticks of a 10 ms timer during the hang, longest gap ${Math.round(longestGap)} ms`,
        );
        expect(ticks).toBeGreaterThan(20);
        expect(longestGap).toBeLessThan(500);
      });
    },
  );

  it("frozen-keyring-does-not-starve-file-io: file reads complete while eight keyring loads hang", async () => {
    await withBus(frozenSecretServiceBus, async (bus) => {
      const file = join(home(), "some-file");
      writeFileSync(file, "x".repeat(64 * 1024));
      // More hung calls than libuv's pool has threads (4): the binding's async API would have starved it.
      let settled = 0;
      const hung = Array.from({ length: 8 }, () =>
        storageOn(bus, 3_000)
          .load()
          .then(
            () => "loaded",
            (err: unknown) => err,
          )
          .finally(() => settled++),
      );
      await new Promise((r) => setTimeout(r, 100));
      const started = performance.now();
      await Promise.all(Array.from({ length: 32 }, (_, i) => (i % 2 ? readFile(file) : stat(file))));
      const elapsed = performance.now() - started;
      console.log(`32 fs calls took ${Math.round(elapsed)} ms while ${8 - settled} keyring loads hung`);
      expect(settled).toBe(0);
      expect(elapsed).toBeLessThan(1_000);
      for (const outcome of await Promise.all(hung)) expect(outcome).toBeInstanceOf(KeyringUnavailableError);
    });
  });

  it.each(fixtures)(
    "keyring-hang-does-not-hold-the-process: a program exits on its own right after %s's error",
    async (label, make) => {
      const script = join(home(), "load-and-exit.mjs");
      await build({
        stdin: {
          contents: `import { KeyringAuthStorage } from "./src/storage/keyring.ts";
            const storage = new KeyringAuthStorage(process.argv[2], { keyringTimeoutMs: 500 });
            const started = performance.now();
            storage.load().then(() => console.log("loaded"), (err) => console.log(err.code));
            process.on("exit", () => console.log(Math.round(performance.now() - started)));`,
          resolveDir: REPO_ROOT,
          loader: "ts",
        },
        bundle: true,
        platform: "node",
        format: "esm",
        packages: "external",
        outfile: script,
        logLevel: "silent",
      });
      await withBus(make, async (bus) => {
        // No process.exit anywhere: the child ends only when nothing keeps its event loop alive.
        const child = spawn(process.execPath, [script, home()], {
          cwd: REPO_ROOT,
          env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: bus.address },
          stdio: ["ignore", "pipe", "inherit"],
        });
        let out = "";
        child.stdout.on("data", (chunk) => {
          out += chunk;
        });
        const code = await new Promise((resolve) => child.on("exit", resolve));
        const [outcome, exitedAfterMs] = out.trim().split("\n");
        console.log(
          `${label}: the program exited ${exitedAfterMs} ms after starting its load (timeout 500 ms)`,
        );
        expect(code).toBe(0);
        expect(outcome).toBe("ERR_KEYRING_UNAVAILABLE");
        // The error comes at 500 ms; exiting takes only what is left of the event loop (nothing).
        expect(Number(exitedAfterMs)).toBeLessThan(500 + 300);
      });
    },
  );
});
