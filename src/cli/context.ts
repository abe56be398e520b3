import { type AuthConfig, loadConfig } from "../config/config.js";
import type { Deps } from "../deps.js";
import type { RefreshTokenError } from "../errors.js";
import type { BrowserOpener } from "../login/open-browser.js";
import { type AuthStorage, createStorage } from "../storage/index.js";
import type { Io } from "./io.js";

/** What every command gets, built once in `main`: the injected {@link Deps}, the terminal and the browser. */
export interface CliDeps extends Deps {
  io: Io;
  openBrowser: BrowserOpener;
}

/**
 * How a command ended when it did not throw. `main` turns it into an exit
 * code; failures are thrown as typed errors and mapped there too.
 * - `ok`: exit 0;
 * - `not-logged-in`: the command's answer is "no credentials" (exit 1, as Codex);
 * - `reported`: the command already reported a failure in its own output format (`status --json`), exit 1.
 */
export type Outcome = "ok" | "not-logged-in" | "reported";

/**
 * A command refused to start, with the words to print as they are (Codex's
 * refusals, e.g. `No API key provided via stdin.`). Exit 1.
 */
export class CommandRefusedError extends Error {
  override readonly name = "CommandRefusedError";
}

/**
 * `codex-auth token`: a proactive refresh failed and the access token has
 * already expired, so there is nothing usable to print. The refresh failure
 * is the `cause`.
 */
export class ExpiredTokenError extends Error {
  override readonly name = "ExpiredTokenError";
  constructor(readonly refreshError: RefreshTokenError) {
    super(`the access token has expired and could not be refreshed. ${refreshError.message}`, {
      cause: refreshError,
    });
  }
}

/**
 * config.toml with `-c` overrides, and the storage it selects.
 *
 * @throws {ConfigError} printed by `main` as Codex's `Error loading configuration: …`.
 */
export async function loadCommandConfig(
  overrides: readonly string[],
  deps: Pick<Deps, "env">,
): Promise<{ config: AuthConfig; storage: AuthStorage }> {
  const config = await loadConfig({ env: deps.env, overrides });
  const storage = await createStorage(config.codexHome, config.credentialsStore, {
    secretAuthStorage: config.secretAuthStorage,
  });
  return { config, storage };
}
