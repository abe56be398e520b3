import { LoginRestrictedError } from "../errors.js";
import { loadAuth } from "../manager/operations.js";
import { loginRestrictionViolation } from "../manager/restrictions.js";
import type { CodexAuth } from "../record/codex-auth.js";
import { type CliDeps, loadCommandConfig, type Outcome } from "./context.js";
import { maskApiKey } from "./io.js";

/**
 * `codex-auth login status`: Codex 0.169's words, stream (stderr) and exit
 * codes for every auth mode. Never refreshes, never takes locks, never
 * writes. Credentials come in Codex's order (`CODEX_ACCESS_TOKEN`, then
 * storage; `CODEX_API_KEY` is not a login here); a personal access token is
 * confirmed with OpenAI first, as Codex does. Credentials whose login method
 * is not allowed are reported as `Not logged in`; a personal access token or
 * Agent Identity of another workspace is an error, as in Codex.
 *
 * @throws {ConfigError}, storage errors, {@link PersonalAccessTokenError} and
 *   {@link LoginRestrictedError} (`Error checking login status: …`, mapped in `main`).
 */
export async function run(options: { overrides: string[] }, deps: CliDeps): Promise<Outcome> {
  const { config, storage } = await loadCommandConfig(options.overrides, deps);
  const { io } = deps;
  const auth = await loadAuth(storage, {
    env: deps.env,
    fetch: deps.fetch,
    forcedLoginMethod: config.forcedLoginMethod,
    checkAccessTokens: true,
  });
  const violation = auth && loginRestrictionViolation(auth, config);
  if (auth?.mode === "agentIdentity" && violation === undefined) {
    // Codex verifies the identity (JWKS, key, task registration) while loading it; failures are errors.
    const { checkAgentIdentity } = await import("../manager/agent-identity.js");
    await checkAgentIdentity(auth, {
      env: deps.env,
      fetch: deps.fetch,
      now: deps.now,
      ...(config.chatgptBaseUrl ? { chatgptBaseUrl: config.chatgptBaseUrl } : {}),
    });
  }
  if (violation?.kind === "workspace-mismatch" && workspaceCheckedOnLoad(auth)) {
    // Codex checks these workspaces while loading, and fails instead of reporting "Not logged in".
    throw new LoginRestrictedError(violation.message);
  }
  if (!auth || violation !== undefined) {
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
    case "personalAccessToken":
      io.err("Logged in using personal access token");
      return "ok";
    case "bedrockApiKey":
      io.err("Logged in using Amazon Bedrock API key");
      return "ok";
    case "bedrockAccessKeys":
      io.err("Logged in using Amazon Bedrock AWS access keys");
      return "ok";
  }
}

function workspaceCheckedOnLoad(auth: CodexAuth | undefined): boolean {
  return auth?.mode === "personalAccessToken" || auth?.mode === "agentIdentity";
}
