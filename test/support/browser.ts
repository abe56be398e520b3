/**
 * A real browser for the sign-in tests: Debian's Chromium driven through
 * playwright-core (never a downloaded browser), headless, with nothing that
 * phones home, in a fresh profile. And a lock for the fixed callback port
 * 1455 that Codex (and our CLI) bind, so test files running in parallel take
 * turns instead of cancelling each other's sign-ins.
 */
import { closeSync, existsSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { flockExclusive, unlockAndClose } from "../../src/storage/transaction.js";
import { requireOptional } from "./env.js";

/** Debian's Chromium (`apt-get install chromium`). */
export const CHROMIUM = "/usr/bin/chromium";

const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Whether the browser tests can run: true when Chromium is installed;
 * otherwise prints why (locally) or throws (in CI, where it must be there).
 */
export function chromiumAvailable(): boolean {
  return requireOptional(
    existsSync(CHROMIUM),
    `${CHROMIUM} not found; install Debian's Chromium with: apt-get install chromium`,
  );
}

export interface HeadlessChromium {
  context: BrowserContext;
  /** A new tab. */
  newPage(): Promise<Page>;
  /** Closes the browser and deletes its profile. */
  close(): Promise<void>;
}

/** Launches headless Chromium with a fresh, throwaway profile. */
export async function launchChromium(): Promise<HeadlessChromium> {
  const { chromium } = await import("playwright-core");
  const profile = mkdtempSync(join(tmpdir(), "codex-auth-chromium-"));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 30_000,
    });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  return {
    context,
    newPage: () => context.newPage(),
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Codex's callback port and its fallback. */
export const CALLBACK_PORTS = [1455, 1457] as const;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

/**
 * Takes the cross-process lock on the callback ports (a `flock` on
 * `$TMPDIR/codex-auth-callback-port-1455.lock`), then waits until 1455 and 1457 are free:
 * a sign-in the holder starts then cannot `/cancel` another test's.
 * Resolves with the release function.
 *
 * @throws {Error} when the ports stay taken by something outside the tests for 30 s.
 */
export async function holdCallbackPorts(): Promise<() => void> {
  // In the temp dir, not the checkout: two checkouts (worktrees) running
  // browser tests at once must share it too.
  const fd = openSync(join(tmpdir(), "codex-auth-callback-port-1455.lock"), "a");
  try {
    await flockExclusive(fd);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  const release = () => unlockAndClose(fd);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const free = await Promise.all(CALLBACK_PORTS.map(portFree));
    if (free.every(Boolean)) return release;
    if (Date.now() > deadline) {
      release();
      throw new Error(`127.0.0.1:${CALLBACK_PORTS.join("/")} stayed in use by another program for 30 s`);
    }
    // Held by something that does not take the lock (a sign-in outside the tests): look again shortly.
    await new Promise((r) => setTimeout(r, 100));
  }
}
