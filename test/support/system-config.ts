/**
 * The administrator's folder (`/etc/codex`: requirements.toml,
 * managed_config.toml, config.toml) for tests, never touching the real one.
 *
 * - Ours reads any folder through `CODEX_AUTH_SYSTEM_CONFIG_DIR` (or the
 *   `systemConfigDir` option).
 * - Codex 0.169 reads only `/etc/codex` and honours no variable, so the real
 *   binary runs in a private mount namespace (`unshare -m`) where `/etc` is
 *   an overlay with an empty upper layer, `/etc/codex` is created in that
 *   layer and the test's folder is bind-mounted onto it. Only the child sees
 *   it; everything vanishes with the child. Needs root (CI runs as root).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { CLI, makeCodexHome } from "./env.js";
import { childEnv, type RunOptions, type RunResult, spawnCollect } from "./run.js";

/** The files of a test's `/etc/codex`, by name (`requirements.toml`, `managed_config.toml`, `config.toml`). */
export type SystemFiles = Partial<
  Record<"requirements.toml" | "managed_config.toml" | "config.toml", string>
>;

/**
 * A fresh folder holding `files` (inside a scratch folder that also takes
 * the mount helpers' overlay layers); remove both with {@link removeSystemConfigDir}.
 */
export function makeSystemConfigDir(files: SystemFiles): string {
  const dir = join(makeCodexHome("etc-codex"), "codex");
  mkdirSync(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text!);
  return dir;
}

export function removeSystemConfigDir(dir: string): void {
  rmSync(dirname(dir), { recursive: true, force: true });
}

/**
 * The shell script that gives the command (`"$@"` after the folder) a
 * private `/etc/codex` holding exactly the folder `$1`.
 */
const PRIVATE_ETC_CODEX = `set -e
scratch=$2
mkdir "$scratch/upper" "$scratch/work"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$scratch/upper,workdir=$scratch/work" /etc
mkdir -p /etc/codex
mount --bind "$1" /etc/codex
shift 2
exec "$@"`;

/**
 * The command line that runs `cmd args` with `dir` as its `/etc/codex`, for
 * callers that spawn the child themselves (the overlay's scratch folder is
 * made next to `dir`, and goes away with it).
 */
export function withEtcCodex(dir: string, cmd: string, args: string[]): [string, string[]] {
  const scratch = mkdtempSync(join(dirname(dir), "ns-"));
  return ["unshare", ["-m", "sh", "-c", PRIVATE_ETC_CODEX, "sh", dir, scratch, cmd, ...args]];
}

/** Runs `cmd args` with `dir` mounted as its `/etc/codex` (private mount namespace; root only). */
export function spawnWithEtcCodex(
  dir: string,
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  input?: string,
): Promise<RunResult> {
  const [unshare, argv] = withEtcCodex(dir, cmd, args);
  return spawnCollect(unshare, argv, env, input);
}

/** The real `codex ARGS` with `dir` as its `/etc/codex`. */
export function runCodexWithEtcCodex(
  codex: string,
  dir: string,
  args: string[],
  o: RunOptions,
): Promise<RunResult> {
  return spawnWithEtcCodex(dir, codex, args, childEnv(o.home, o.env), o.input);
}

/** Our `codex-auth ARGS` with `dir` as its real `/etc/codex` (no variable: the default path is read). */
export function runOursWithEtcCodex(dir: string, args: string[], o: RunOptions): Promise<RunResult> {
  return spawnWithEtcCodex(dir, process.execPath, [CLI, ...args], childEnv(o.home, o.env), o.input);
}

/** Our `codex-auth ARGS` reading `dir` through `CODEX_AUTH_SYSTEM_CONFIG_DIR`. */
export function runOursWithSystemConfigDir(dir: string, args: string[], o: RunOptions): Promise<RunResult> {
  return spawnCollect(
    process.execPath,
    [CLI, ...args],
    childEnv(o.home, { ...o.env, CODEX_AUTH_SYSTEM_CONFIG_DIR: dir }),
    o.input,
  );
}
