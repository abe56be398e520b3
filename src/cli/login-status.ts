import { describeError } from "../errors.js";
import { loadAuth } from "../manager/operations.js";
import { loginRestrictionViolation } from "../manager/restrictions.js";
import { type CommandContext, loadCommandConfig } from "./context.js";
import { maskApiKey } from "./io.js";

/**
 * `codex-auth login status`: Codex 0.169's words, stream (stderr) and exit
 * codes. Never refreshes, never takes locks, never writes; credentials that
 * break the login restrictions are reported as `Not logged in`.
 */
export async function runLoginStatus(ctx: CommandContext): Promise<number> {
  const loaded = await loadCommandConfig(ctx);
  if (typeof loaded === "number") return loaded;
  const { config, storage } = loaded;
  let auth: Awaited<ReturnType<typeof loadAuth>>;
  try {
    auth = await loadAuth(storage);
  } catch (err) {
    ctx.io.err(`Error checking login status: ${describeError(err)}`);
    return 1;
  }
  if (!auth || loginRestrictionViolation(auth, config) !== undefined) {
    ctx.io.err("Not logged in");
    return 1;
  }
  switch (auth.mode) {
    case "apikey":
      ctx.io.err(`API key configured - ${maskApiKey(auth.apiKey ?? "")}`);
      ctx.io.err("Authentication is checked when you send a request.");
      return 0;
    case "chatgpt":
    case "chatgptAuthTokens":
      ctx.io.err("Logged in using ChatGPT");
      return 0;
    case "agentIdentity":
      ctx.io.err("Logged in using access token");
      return 0;
    default:
      ctx.io.err(`Logged in using ${auth.mode} credentials (codex-auth reads them but does not manage them)`);
      return 0;
  }
}
