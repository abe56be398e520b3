import type { AuthConfig } from "../config/config.js";
import { describeError, LoginRestrictedError } from "../errors.js";
import type { CodexAuth } from "./codex-auth.js";

function workspaceList(ids: readonly string[]): string {
  return ids.join(", ");
}

/**
 * The violation message when `auth` breaks the config's login restrictions,
 * or undefined when it is allowed. Pure; {@link enforceLoginRestrictions}
 * adds the logout.
 */
export function loginRestrictionViolation(
  auth: CodexAuth,
  config: Pick<AuthConfig, "forcedLoginMethod" | "forcedChatgptWorkspaceIds">,
): string | undefined {
  const isApiKey = auth.mode === "apikey";
  if (config.forcedLoginMethod === "api" && !isApiKey) {
    return "API key login is required, but ChatGPT is currently being used. Logging out.";
  }
  if (config.forcedLoginMethod === "chatgpt" && isApiKey) {
    return "ChatGPT login is required, but an API key is currently being used. Logging out.";
  }
  const allowed = config.forcedChatgptWorkspaceIds;
  if (allowed && auth.usesChatgptTokens) {
    let accountId: string | undefined;
    try {
      accountId = auth.getTokenData().idTokenInfo.chatgptAccountId;
    } catch (err) {
      return `Failed to load ChatGPT credentials while enforcing workspace restrictions: ${describeError(err)}. Logging out.`;
    }
    if (accountId === undefined) {
      return `Login is restricted to workspace ${workspaceList(allowed)}, but current credentials lack a workspace identifier. Logging out.`;
    }
    if (!allowed.includes(accountId)) {
      return `Login is restricted to workspace ${workspaceList(allowed)}, but current credentials belong to ${accountId}. Logging out.`;
    }
  }
  return undefined;
}

/**
 * Enforces `forced_login_method` and `forced_chatgpt_workspace_id` as Codex
 * does before handing credentials to a caller: on a violation, log out and
 * throw. Does nothing when `auth` is undefined (not logged in).
 *
 * @param logout removes the stored credentials (e.g. `() => logout(home, storage)`).
 * @throws {LoginRestrictedError} with Codex's message; when the logout itself
 * fails, `. Failed to remove auth.json: <err>` is appended.
 */
export async function enforceLoginRestrictions(
  auth: CodexAuth | undefined,
  config: Pick<AuthConfig, "forcedLoginMethod" | "forcedChatgptWorkspaceIds">,
  logout: () => Promise<unknown>,
): Promise<void> {
  if (!auth) return;
  const message = loginRestrictionViolation(auth, config);
  if (message === undefined) return;
  try {
    await logout();
  } catch (err) {
    throw new LoginRestrictedError(`${message}. Failed to remove auth.json: ${describeError(err)}`, {
      cause: err,
    });
  }
  throw new LoginRestrictedError(message);
}
