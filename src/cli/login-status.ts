import { loadAuth } from "../manager/operations.js";
import { loginRestrictionViolation } from "../manager/restrictions.js";
import { type CliDeps, loadCommandConfig, type Outcome } from "./context.js";
import { maskApiKey } from "./io.js";

/**
 * `codex-auth login status`: Codex 0.169's words, stream (stderr) and exit
 * codes. Never refreshes, never takes locks, never writes; credentials that
 * break the login restrictions are reported as `Not logged in`.
 *
 * @throws {ConfigError} and storage errors (`Error checking login status: …`, mapped in `main`).
 */
export async function run(options: { overrides: string[] }, deps: CliDeps): Promise<Outcome> {
  const { config, storage } = await loadCommandConfig(options.overrides, deps);
  const { io } = deps;
  const auth = await loadAuth(storage);
  if (!auth || loginRestrictionViolation(auth, config) !== undefined) {
    io.err("Not logged in");
    return "not-logged-in";
  }
  switch (auth.mode) {
    case "apikey":
      io.err(`API key configured - ${maskApiKey(auth.apiKey)}`);
      io.err("Authentication is checked when you send a request.");
      return "ok";
    case "chatgpt":
    case "chatgptAuthTokens":
      io.err("Logged in using ChatGPT");
      return "ok";
    case "agentIdentity":
      io.err("Logged in using access token");
      return "ok";
    default:
      io.err(`Logged in using ${auth.mode} credentials (codex-auth reads them but does not manage them)`);
      return "ok";
  }
}
