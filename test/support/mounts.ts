/**
 * Real read-only mounts for tests, as containers make them: `unshare -m`
 * gives the child its own mount namespace, where a folder or a single file
 * is bind-mounted onto itself read-only. Needs root (CI runs as root);
 * `chmod` cannot simulate read-only for root.
 */
import { CLI, requireOptional } from "./env.js";
import { childEnv, type RunResult, spawnCollect } from "./run.js";

/** True when this process can make mount namespaces; otherwise prints why (or fails in CI). */
export function canMount(): boolean {
  return requireOptional(
    process.getuid?.() === 0,
    "read-only mount tests need root (unshare -m and mount --bind); CI runs them as root",
  );
}

/**
 * Runs our CLI bundle with `paths` (folders or single files) bind-mounted
 * read-only onto themselves, in a private mount namespace: only the child
 * sees them read-only, and the mounts vanish with it.
 */
export function runOursReadOnly(
  paths: string[],
  args: string[],
  o: { home: string; env?: Record<string, string | undefined>; input?: string },
): Promise<RunResult> {
  return runOursWithBindMounts(paths, "ro", args, o);
}

/**
 * Runs our CLI bundle with `paths` bind-mounted onto themselves, read-only
 * (`ro`) or read-write (`rw`: a mount point that `rename` cannot replace,
 * as a file mounted into a container), in a private mount namespace.
 */
export function runOursWithBindMounts(
  paths: string[],
  mode: "ro" | "rw",
  args: string[],
  o: { home: string; env?: Record<string, string | undefined>; input?: string },
): Promise<RunResult> {
  const remount = mode === "ro" ? ' && mount -o remount,bind,ro "$p"' : "";
  const script = `set -e
for p in ${paths.map((_, i) => `"$${i + 1}"`).join(" ")}; do mount --bind "$p" "$p"${remount}; done
shift ${paths.length}
exec "$@"`;
  return spawnCollect(
    "unshare",
    ["-m", "sh", "-c", script, "sh", ...paths, process.execPath, CLI, ...args],
    childEnv(o.home, o.env),
    o.input,
  );
}
