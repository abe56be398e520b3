import { describeError } from "../errors.js";
import { loadAuth, logout } from "../manager/operations.js";
import { type CommandContext, loadCommandConfig } from "./context.js";

/**
 * `codex-auth logout`: revoke (best effort) and remove the stored
 * credentials. Like Codex 0.169: nothing stored → `Not logged in`, exit 0;
 * login restrictions do not stop a logout.
 */
export async function runLogout(ctx: CommandContext): Promise<number> {
  const loaded = await loadCommandConfig(ctx);
  if (typeof loaded === "number") return loaded;
  const { config, storage } = loaded;
  try {
    const auth = await loadAuth(storage);
    if (!auth) {
      ctx.io.err("Not logged in");
      return 0;
    }
    const removed = await logout(config.codexHome, storage, {
      env: ctx.env,
      ...(ctx.fetch ? { fetch: ctx.fetch } : {}),
    });
    ctx.io.err(removed ? "Successfully logged out" : "Not logged in");
    return 0;
  } catch (err) {
    ctx.io.err(`Error logging out: ${describeError(err)}`);
    return 1;
  }
}
