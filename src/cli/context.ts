import { type AuthConfig, loadConfig } from "../config/config.js";
import type { Env } from "../config/env.js";
import { describeError } from "../errors.js";
import { type AuthStorage, createStorage } from "../storage/index.js";
import type { Io } from "./io.js";

/** What every command gets: parsed global options and the environment. */
export interface CommandContext {
  io: Io;
  env: Env;
  /** `-c key=value` overrides, in order. */
  overrides: string[];
  fetch?: typeof fetch;
}

/** Loaded config and storage, or an exit code after printing Codex's `Error loading configuration: …`. */
export async function loadCommandConfig(
  ctx: CommandContext,
): Promise<{ config: AuthConfig; storage: AuthStorage } | number> {
  try {
    const config = await loadConfig({ env: ctx.env, overrides: ctx.overrides });
    const storage = await createStorage(config.codexHome, config.credentialsStore);
    return { config, storage };
  } catch (err) {
    ctx.io.err(`Error loading configuration: ${describeError(err)}`);
    return 1;
  }
}
