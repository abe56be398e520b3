/**
 * Shared test helpers: throwaway CODEX_HOMEs, the real codex binary, and the
 * rule that an optional component may be missing locally (print why and skip)
 * but never in CI (CI=1 or CODEX_AUTH_CI=1: fail instead).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

export const REPO_ROOT = resolve(import.meta.dirname, "../..");
export const CLI = join(REPO_ROOT, "bin/codex-auth.cjs");
export const IN_CI = process.env.CI === "1" || process.env.CI === "true" || process.env.CODEX_AUTH_CI === "1";

/** Pinned Codex version for interop tests. */
export const CODEX_VERSION = "0.169.0";
/** Where .ci/run (and developers) install the pinned Codex: outside the repo, cached. */
export const CODEX_CACHE = process.env.CODEX_AUTH_CODEX_CACHE ?? join(homedir(), ".cache/codex-auth-codex");

/** Path of the real codex binary, or undefined (with the reason printed) when it is not installed. */
export function findCodexBinary(): string | undefined {
  const candidates = [
    process.env.CODEX_BIN,
    join(CODEX_CACHE, "node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex"),
  ].filter((p): p is string => !!p);
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    requireOptional(
      false,
      `real codex ${CODEX_VERSION} not found (looked in ${candidates.join(", ")}); install it with: ` +
        `mkdir -p ${CODEX_CACHE} && cd ${CODEX_CACHE} && npm install @openai/codex@${CODEX_VERSION}`,
    );
  }
  return found;
}

/**
 * For optional components: when `available` is false, print why the tests
 * that need it are skipped — or, in CI, throw so nothing skips silently.
 */
export function requireOptional(available: boolean, why: string): boolean {
  if (available) return true;
  if (IN_CI) throw new Error(`required in CI but missing: ${why}`);
  console.warn(`[skip] ${why}`);
  return false;
}

/**
 * True inside scripts/with-secret-service.sh (a throwaway gnome-keyring):
 * keyring tests never write into a developer's real keyring. Otherwise
 * prints why (locally) or fails (CI).
 */
export function throwawaySecretService(): boolean {
  return requireOptional(
    process.env.CODEX_AUTH_SECRET_SERVICE === "scratch" && !!process.env.DBUS_SESSION_BUS_ADDRESS,
    "keyring tests need a throwaway Secret Service; run them as: scripts/with-secret-service.sh npx vitest run",
  );
}

/**
 * Scratch root for test CODEX_HOMEs: outside $TMPDIR (Codex refuses to make
 * helper links under the temp dir and warns), inside the repo's ignored .tmp.
 */
const SCRATCH = join(REPO_ROOT, ".tmp");

/** A fresh, empty CODEX_HOME (0700) and a cleanup function. */
export function makeCodexHome(prefix = "home"): string {
  mkdirSync(SCRATCH, { recursive: true, mode: 0o700 });
  return mkdtempSync(join(SCRATCH, `${prefix}-`));
}

export function removeCodexHome(path: string): void {
  rmSync(path, { recursive: true, force: true });
}
