import { describeError } from "../errors.js";
import { AuthManager } from "../manager/auth-manager.js";
import { jwtExpiry } from "../record/jwt.js";
import { type CommandContext, loadCommandConfig } from "./context.js";

/**
 * `codex-auth token [--json]`: prints the credential a script should send
 * (the API key, or the ChatGPT access token) on stdout. Login restrictions
 * are enforced first, as Codex does before using credentials.
 */
export async function runToken(options: { json: boolean }, ctx: CommandContext): Promise<number> {
  const loaded = await loadCommandConfig(ctx);
  if (typeof loaded === "number") return loaded;
  const { config, storage } = loaded;
  try {
    let refreshFailure: string | undefined;
    const manager = await AuthManager.create({
      codexHome: config.codexHome,
      storage,
      config,
      enableCodexApiKeyEnv: true,
      env: ctx.env,
      ...(ctx.fetch ? { fetch: ctx.fetch } : {}),
      log: (m) => {
        if (m.startsWith("Failed to refresh token")) refreshFailure = m;
        else ctx.io.err(m);
      },
    });
    const auth = await manager.auth();
    if (!auth) {
      ctx.io.err("Not logged in");
      return 1;
    }
    const token = auth.getToken();
    if (refreshFailure !== undefined) {
      // A token that expires within the refresh window is still usable; one already expired is not.
      const expiry = auth.accessTokenExpiryMs();
      if (!Number.isNaN(expiry) && expiry <= Date.now()) {
        ctx.io.err(`Error: the access token has expired and could not be refreshed. ${refreshFailure}`);
        return 1;
      }
      ctx.io.err(`Warning: ${refreshFailure}`);
    }
    if (!options.json) {
      ctx.io.out(token);
      return 0;
    }
    const expiresAt = auth.apiKey === undefined ? (jwtExpiry(token)?.toISOString() ?? null) : null;
    ctx.io.out(JSON.stringify({ mode: auth.mode, token, expiresAt }));
    return 0;
  } catch (err) {
    ctx.io.err(`Error: ${describeError(err)}`);
    return 1;
  }
}
