import { loadAuth, logout, type RevokedToken } from "../manager/operations.js";
import { type CliDeps, loadCommandConfig, type Outcome } from "./context.js";

/**
 * `codex-auth logout`: remove the stored credentials, then revoke them
 * (best effort; a failed revoke is a warning, the logout stands). Like Codex 0.169: nothing stored → `Not logged in`, exit 0;
 * login restrictions do not stop a logout.
 *
 * @throws {CodexAuthError} when storage cannot be read or changed (`Error logging out: …`, mapped in `main`).
 */
export async function run(options: { overrides: string[] }, deps: CliDeps): Promise<Outcome> {
  const { config, storage } = await loadCommandConfig(options.overrides, deps);
  // Only what is stored: CODEX_ACCESS_TOKEN is not a login that logout can remove.
  if (!(await loadAuth(storage, { codexAccessTokenEnv: false }))) {
    // Codex still takes config.toml off Amazon Bedrock, and then says it logged out.
    const { clearBedrockProvider } = await import("../config/bedrock-provider.js");
    deps.io.err((await clearBedrockProvider(config.codexHome)) ? "Successfully logged out" : "Not logged in");
    return "ok";
  }
  let revokeFailed: RevokedToken | undefined;
  const removed = await logout(config.codexHome, storage, {
    env: deps.env,
    fetch: deps.fetch,
    sleep: deps.sleep,
    onRevokeFailed: (token) => {
      revokeFailed = token;
    },
  });
  deps.io.err(removed ? "Successfully logged out" : "Not logged in");
  // Codex is silent here; the user should know the old token still works until it expires.
  if (revokeFailed) {
    deps.io.err(
      `Warning: the issuer did not confirm that the ${revokeFailed === "access_token" ? "access" : "refresh"} token was revoked; it stays valid until it expires.`,
    );
  }
  return "ok";
}
