import type { RefreshTokenError } from "../errors.js";
import { AuthManager } from "../manager/auth-manager.js";
import { bearerToken, type CodexAuth } from "../record/codex-auth.js";
import { type CliDeps, ExpiredTokenError, loadCommandConfig, type Outcome } from "./context.js";

/**
 * `codex-auth token [--json]`: prints the credential a script should send
 * (the API key, or the ChatGPT access token) on stdout. Login restrictions
 * are enforced first, as Codex does before using credentials. A failed
 * refresh of a token that is still valid is a warning; of an expired one,
 * an {@link ExpiredTokenError}.
 *
 * @throws {ExpiredTokenError}, {@link LoginRestrictedError} and other {@link CodexAuthError}s (mapped in `main`).
 */
export async function run(options: { overrides: string[]; json: boolean }, deps: CliDeps): Promise<Outcome> {
  const { config, storage } = await loadCommandConfig(options.overrides, deps);
  let refreshError: RefreshTokenError | undefined;
  const manager = await AuthManager.create({
    codexHome: config.codexHome,
    storage,
    config,
    enableCodexApiKeyEnv: true,
    fetch: deps.fetch,
    now: deps.now,
    sleep: deps.sleep,
    random: deps.random,
    env: deps.env,
    log: (message) => deps.io.err(message),
    onRefreshFailed: (err) => {
      refreshError = err;
    },
  });
  const auth = await manager.auth();
  if (!auth) {
    deps.io.err("Not logged in");
    return "not-logged-in";
  }
  const token = bearerToken(auth);
  const expiresAtMs = expiryOf(auth);
  if (refreshError !== undefined) {
    // A token that expires within the refresh window is still usable; one already expired is not.
    if (expiresAtMs !== undefined && expiresAtMs <= deps.now()) throw new ExpiredTokenError(refreshError);
    deps.io.err(`Warning: ${refreshError.message}`);
  }
  if (!options.json) {
    deps.io.out(token);
    return "ok";
  }
  const expiresAt = expiresAtMs === undefined ? null : new Date(expiresAtMs).toISOString();
  deps.io.out(JSON.stringify({ mode: auth.mode, token, expiresAt }));
  return "ok";
}

function expiryOf(auth: CodexAuth): number | undefined {
  return auth.mode === "chatgpt" || auth.mode === "chatgptAuthTokens"
    ? auth.tokens && auth.accessTokenExpiresAtMs
    : undefined;
}
