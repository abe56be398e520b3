/**
 * Personal access tokens (`at-…`) and OpenAI's account API call that
 * describes them, `GET /api/accounts/v1/user-auth-credential/whoami`
 * (reached by Codex through `CODEX_AUTHAPI_BASE_URL=<issuer>/api/accounts`).
 * Tokens are minted by {@link PersonalAccessTokenStore.issue} (library) or
 * listed per user in a users file (`personalAccessTokens`).
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { RequestNote } from "./context.js";
import { sendJson } from "./http.js";
import type { ResolvedUser, ResolvedWorkspace, UserDirectory } from "./users.js";

/** Where Codex asks about a personal access token, under the issuer. */
export const WHOAMI_PATH = "/api/accounts/v1/user-auth-credential/whoami";

interface Holder {
  user: ResolvedUser;
  workspace: ResolvedWorkspace;
}

/** The personal access tokens one issuer knows, in memory. */
export class PersonalAccessTokenStore {
  private readonly tokens = new Map<string, Holder>();

  constructor(users: UserDirectory) {
    for (const user of users.users) {
      for (const token of user.personalAccessTokens)
        this.tokens.set(token, { user, workspace: user.workspaces[0]! });
    }
  }

  /** A new `at-…` token for `user` in `workspace`. */
  issue(user: ResolvedUser, workspace: ResolvedWorkspace): string {
    const token = `at-${randomBytes(24).toString("base64url")}`;
    this.tokens.set(token, { user, workspace });
    return token;
  }

  /** Forgets a token; true when it was known. `whoami` then answers 401 for it. */
  revoke(token: string): boolean {
    return this.tokens.delete(token);
  }

  lookup(token: string): Holder | undefined {
    return this.tokens.get(token);
  }
}

/**
 * `GET …/whoami` with `Authorization: Bearer at-…`: 200 with the token's
 * account (`email`, `chatgpt_user_id`, `chatgpt_account_id`,
 * `chatgpt_plan_type`, `chatgpt_account_is_fedramp`), or 401 for a missing,
 * unknown or revoked token.
 */
export function handleWhoami(
  store: PersonalAccessTokenStore,
  req: IncomingMessage,
  res: ServerResponse,
  note: RequestNote,
): void {
  const header = req.headers.authorization ?? "";
  const token = header.toLowerCase().startsWith("bearer ") ? header.slice(7).trim() : "";
  const holder = token ? store.lookup(token) : undefined;
  if (!holder) {
    note.outcome = token ? "unauthorized_invalid" : "unauthorized_missing";
    sendJson(res, 401, {
      error: {
        code: "invalid_token",
        message: "The personal access token is missing, unknown or revoked.",
      },
    });
    return;
  }
  note.outcome = "ok";
  sendJson(res, 200, {
    email: holder.user.email,
    chatgpt_user_id: holder.user.userId,
    chatgpt_account_id: holder.workspace.id,
    chatgpt_plan_type: holder.workspace.plan,
    chatgpt_account_is_fedramp: false,
  });
}
