import { loadAuth, logout } from "../manager/operations.js";
import { type CliDeps, loadCommandConfig, type Outcome } from "./context.js";

/**
 * `codex-auth logout`: revoke (best effort) and remove the stored
 * credentials. Like Codex 0.169: nothing stored → `Not logged in`, exit 0;
 * login restrictions do not stop a logout.
 *
 * @throws {CodexAuthError} when storage cannot be read or changed (`Error logging out: …`, mapped in `main`).
 */
export async function run(options: { overrides: string[] }, deps: CliDeps): Promise<Outcome> {
  const { config, storage } = await loadCommandConfig(options.overrides, deps);
  if (!(await loadAuth(storage))) {
    deps.io.err("Not logged in");
    return "ok";
  }
  const removed = await logout(config.codexHome, storage, deps);
  deps.io.err(removed ? "Successfully logged out" : "Not logged in");
  return "ok";
}
