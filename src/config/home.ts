import { statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { ConfigError } from "../errors.js";
import type { Env } from "./env.js";

/**
 * The CODEX_HOME folder: `$CODEX_HOME` when set (it must exist, as in Codex),
 * else `~/.codex` (created 0700 on first write).
 *
 * @throws {ConfigError} when `$CODEX_HOME` points to a missing path.
 */
export function findCodexHome(env: Env = process.env): string {
  const explicit = env.CODEX_HOME?.trim();
  if (explicit) {
    const path = resolve(explicit);
    let isDir = false;
    try {
      isDir = statSync(path).isDirectory();
    } catch {
      throw new ConfigError(
        `CODEX_HOME points to "${path}", but that path does not exist. Create it (mkdir -m 700 "${path}") or unset CODEX_HOME.`,
      );
    }
    if (!isDir) throw new ConfigError(`CODEX_HOME points to "${path}", but that path is not a directory.`);
    return path;
  }
  return join(env.HOME?.trim() || homedir(), ".codex");
}
