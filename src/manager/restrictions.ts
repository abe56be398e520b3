import type { AuthConfig, ForcedLoginMethod } from "../config/config.js";
import { describeError, LoginRestrictedError } from "../errors.js";
import type { AuthMode } from "../record/auth-record.js";
import { type CodexAuth, workspaceIdOf } from "../record/codex-auth.js";

/** Which rule credentials break. */
export type RestrictionKind =
  /** `forced_login_method = "api"`, but the credentials are not an API (or Amazon Bedrock) key. */
  | "api-key-required"
  /** `forced_login_method = "chatgpt"`, but the credentials are an API (or Amazon Bedrock) key. */
  | "chatgpt-required"
  /** `forced_chatgpt_workspace_id`, but the credentials belong to another workspace. */
  | "workspace-mismatch"
  /** `forced_chatgpt_workspace_id`, but the tokens name no workspace. */
  | "workspace-missing"
  /**
   * `forced_chatgpt_workspace_id`, but the workspace cannot be read: a
   * ChatGPT record holds no tokens, or a personal access token was not
   * checked with OpenAI yet.
   */
  | "workspace-unreadable";

/** A broken login restriction: its kind, and Codex's words for it (without the `Logging out.` that enforcement adds). */
export interface RestrictionViolation {
  kind: RestrictionKind;
  message: string;
}

/**
 * The login restriction `auth` breaks, or undefined when it is allowed.
 * Pure; {@link enforceLoginRestrictions} adds the logout.
 */
export function loginRestrictionViolation(
  auth: CodexAuth,
  config: Pick<AuthConfig, "forcedLoginMethod" | "forcedChatgptWorkspaceIds">,
): RestrictionViolation | undefined {
  const method = loginMethodOf(auth.mode);
  if (config.forcedLoginMethod === "api" && method !== "api") {
    return {
      kind: "api-key-required",
      message: "API key login is required, but ChatGPT is currently being used.",
    };
  }
  if (config.forcedLoginMethod === "chatgpt" && method !== "chatgpt") {
    return {
      kind: "chatgpt-required",
      message: "ChatGPT login is required, but an API key is currently being used.",
    };
  }
  const allowed = config.forcedChatgptWorkspaceIds;
  if (!allowed) return undefined;
  const list = allowed.join(", ");
  switch (auth.mode) {
    case "chatgpt":
    case "chatgptAuthTokens": {
      if (auth.tokens === undefined) {
        return {
          kind: "workspace-unreadable",
          message:
            "Failed to load ChatGPT credentials while enforcing workspace restrictions: Token data is not available..",
        };
      }
      const accountId = auth.idToken.chatgptAccountId;
      // "workspace(s)": the 0.169 binary's format pieces (`Login is restricted to workspace(s) `,
      // `, but current credentials belong to `, `, but current credentials lack a workspace
      // identifier. Logging out.`); no command shows them without calling a model.
      if (accountId === undefined) {
        return {
          kind: "workspace-missing",
          message: `Login is restricted to workspace(s) ${list}, but current credentials lack a workspace identifier.`,
        };
      }
      if (!allowed.includes(accountId)) {
        return {
          kind: "workspace-mismatch",
          message: `Login is restricted to workspace(s) ${list}, but current credentials belong to ${accountId}.`,
        };
      }
      return undefined;
    }
    case "personalAccessToken":
    case "agentIdentity": {
      // Codex checks these when it loads them (ensure_workspace_account_allowed), in other words.
      const accountId = workspaceIdOf(auth);
      if (accountId === undefined) {
        return {
          kind: "workspace-unreadable",
          message: `Login is restricted to workspace id(s) ${list}, but the workspace of these credentials was not checked.`,
        };
      }
      if (!allowed.includes(accountId)) {
        return { kind: "workspace-mismatch", message: `Login is restricted to workspace id(s) ${list}.` };
      }
      return undefined;
    }
    default:
      // API keys and Amazon Bedrock keys belong to no ChatGPT workspace.
      return undefined;
  }
}

/**
 * Which `forced_login_method` a mode counts as, as Codex 0.169 decides
 * (`AuthMode::uses_codex_backend`): API keys and Amazon Bedrock keys are
 * `api`; ChatGPT tokens, personal access tokens, Agent Identities and
 * host-supplied headers are `chatgpt`.
 */
export function loginMethodOf(mode: AuthMode): ForcedLoginMethod {
  return mode === "apikey" || mode === "bedrockApiKey" || mode === "bedrockAccessKeys" ? "api" : "chatgpt";
}

/**
 * Enforces `forced_login_method` and `forced_chatgpt_workspace_id` as Codex
 * does before handing credentials to a caller: on a violation by the stored
 * credentials, log out and throw. Credentials from the environment
 * (`CODEX_API_KEY`) that violate the policy are refused without touching
 * storage: a variable the user may not know about never revokes or deletes
 * a login (Codex logs out here; we deliberately differ, SPEC §4). Does
 * nothing when `auth` is undefined (not logged in).
 *
 * @param logout removes the stored credentials (e.g. `() => logout(home, storage)`).
 * @throws {LoginRestrictedError} with Codex's message (`… Logging out.`); when the logout itself
 * fails, `. Failed to remove auth.json: <err>` is appended. For an environment credential, a
 * message naming the variable and saying to unset it.
 */
export async function enforceLoginRestrictions(
  auth: CodexAuth | undefined,
  config: Pick<AuthConfig, "forcedLoginMethod" | "forcedChatgptWorkspaceIds">,
  logout: () => Promise<unknown>,
): Promise<void> {
  if (!auth) return;
  const violation = loginRestrictionViolation(auth, config);
  if (violation === undefined) return;
  if (auth.source !== "storage") throw new LoginRestrictedError(envCredentialRefusal(auth.source, violation));
  const message = `${violation.message} Logging out.`;
  try {
    await logout();
  } catch (err) {
    throw new LoginRestrictedError(`${message}. Failed to remove auth.json: ${describeError(err)}`, {
      cause: err,
    });
  }
  throw new LoginRestrictedError(message);
}

/**
 * Why a credential from the environment is refused: the variable, the rule,
 * what to do, and that nothing stored was changed.
 */
export function envCredentialRefusal(
  source: Exclude<CodexAuth["source"], "storage">,
  violation: RestrictionViolation,
): string {
  const variable = source.slice("env:".length);
  return `${variable} is set in the environment, but this login is not allowed: ${violation.message} Unset ${variable} to use your stored login; nothing stored was changed.`;
}
