/**
 * Real read-only mounts for tests, as containers make them: `unshare -m`
 * gives the child its own mount namespace, where a folder or a single file
 * is bind-mounted onto itself read-only. Needs root (CI runs as root);
 * `chmod` cannot simulate read-only for root.
 */
import { spawn } from "node:child_process";
import { CLI, requireOptional } from "./env.js";
import { childEnv, type RunResult } from "./run.js";

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
  const script = `set -e
for p in ${paths.map((_, i) => `"$${i + 1}"`).join(" ")}; do mount --bind "$p" "$p"; mount -o remount,bind,ro "$p"; done
shift ${paths.length}
exec "$@"`;
  return new Promise((resolve) => {
    const child = spawn(
      "unshare",
      ["-m", "sh", "-c", script, "sh", ...paths, process.execPath, CLI, ...args],
      {
        env: childEnv(o.home, o.env),
        stdio: ["pipe", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.stdin.end(o.input ?? "");
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code: code ?? -1 });
    });
  });
}
