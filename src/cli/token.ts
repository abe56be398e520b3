import { ApiKeyMissingError, type RefreshTokenError } from "../errors.js";
import { AuthManager } from "../manager/auth-manager.js";
import { bearerToken, type CodexAuth } from "../record/codex-auth.js";
import { type CliDeps, ExpiredTokenError, loadCommandConfig, type Outcome } from "./context.js";

/**
 * `codex-auth token [--json]`: prints the credential a script should send
 * (the API key, or the ChatGPT access token) on stdout. Login restrictions
 * are enforced first, as Codex does before using credentials. A failed
 * refresh of a token that is still valid is a warning; of an expired one,
 * an {@link ExpiredTokenError}. Stored credentials that cannot be read are
 * one error (the reason), not "Not logged in"; an empty stored API key is
 * refused rather than printed as an empty line.
 *
 * @throws {ExpiredTokenError}, {@link LoginRestrictedError}, {@link ApiKeyMissingError} (`ERR_API_KEY_MISSING`: the stored key is empty), the load error of unreadable credentials, and other {@link CodexAuthError}s (mapped in `main`).
 */
export async function run(options: { overrides: string[]; json: boolean }, deps: CliDeps): Promise<Outcome> {
  const { config, storage } = await loadCommandConfig(options.overrides, deps);
  let refreshError: RefreshTokenError | undefined;
  // The manager reports a failed load as a log line and carries on logged
  // out; here the reason itself is the answer, so lines are held back.
  const held: string[] = [];
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
    log: (message) => held.push(message),
    onRefreshFailed: (err) => {
      refreshError = err;
    },
  });
  const auth = await manager.auth();
  if (!auth) {
    // Nothing usable: when the credentials could not be read, the reason is the one error.
    if (manager.loadError !== undefined) throw manager.loadError;
    deps.io.err("Not logged in");
    return "not-logged-in";
  }
  for (const message of held) deps.io.err(message);
  if (auth.mode === "apikey" && auth.apiKey === "") {
    throw new ApiKeyMissingError(
      `the stored API key in ${config.codexHome} is empty; sign in again with \`codex-auth login --with-api-key\``,
    );
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
