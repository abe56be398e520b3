/**
 * `codex-auth app-server`: the command's body, built as its own bundle and
 * loaded only by this command, so other commands never pay for it.
 */
import { loadConfig } from "../config/config.js";
import type { Env } from "../config/env.js";
import { ConfigError, describeError } from "../errors.js";
import { serveAppServer } from "./stdio.js";

/** What the command gets from `main`. */
export interface AppServerCliDeps {
  env: Env;
  fetch?: typeof fetch;
  /** Writes one line to stderr. */
  err(text: string): void;
  /** Aborted on SIGINT or SIGTERM. */
  interrupt: AbortSignal;
}

/**
 * Runs the app server on stdin/stdout until stdin ends or a signal arrives;
 * returns the exit code (0 after a clean shutdown, 1 when the configuration
 * cannot be loaded, with Codex's `Error loading configuration: …`).
 */
export async function runAppServerCli(overrides: readonly string[], deps: AppServerCliDeps): Promise<number> {
  let config: Awaited<ReturnType<typeof loadConfig>>;
  try {
    config = await loadConfig({ env: deps.env, overrides });
  } catch (err) {
    if (err instanceof ConfigError) {
      deps.err(`Error loading configuration: ${err.message}`);
      return 1;
    }
    deps.err(`Error: ${describeError(err)}`);
    return 1;
  }
  await serveAppServer({ config, env: deps.env, fetch: deps.fetch, signal: deps.interrupt });
  return 0;
}
