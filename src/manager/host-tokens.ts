/**
 * Host-supplied ChatGPT tokens (Codex's `chatgptAuthTokens` mode): an
 * application that manages ChatGPT access tokens itself hands one in, with
 * the workspace (account id) it belongs to. The tokens live in memory only,
 * in the process's ephemeral slot for the CODEX_HOME (where Codex keeps
 * them too), and take precedence over stored credentials for as long as
 * they are there. codex-auth never refreshes them: on a 401 the manager asks
 * the host for new ones through its {@link RefreshHostTokens} callback (as
 * Codex's app server asks its client with `account/chatgptAuthTokens/refresh`).
 */
import { JwtMalformedError, LoginRestrictedError } from "../errors.js";
import { type AuthRecord, nowRfc3339 } from "../record/auth-record.js";
import { AUTH_CLAIMS_NAMESPACE } from "../record/claims.js";
import { authFromRecord, type ChatgptAuth } from "../record/codex-auth.js";
import { decodeJwtPayload } from "../record/jwt.js";
import { EphemeralAuthStorage, holdsEphemeralRecords } from "../storage/ephemeral.js";
import { keyringAccountKey } from "../storage/keyring-key.js";

/**
 * ChatGPT tokens a host application manages itself (the fields of Codex's
 * `account/login/start` `chatgptAuthTokens` and of the answer to
 * `account/chatgptAuthTokens/refresh`).
 */
export interface HostTokens {
  /** The ChatGPT access token (a JWT), sent as `Authorization: Bearer …`. */
  accessToken: string;
  /** The workspace the token belongs to, sent as `chatgpt-account-id`. */
  chatgptAccountId: string;
  /**
   * The plan (`plus`, `pro`, `team`, …), when the host knows it. Absent or
   * null: taken from the access token's `chatgpt_plan_type` claim, else
   * `unknown`.
   */
  chatgptPlanType?: string | null;
}

/** Why the manager asks the host for new tokens: the backend answered 401 (Codex's only reason). */
export type HostTokensRefreshReason = "unauthorized";

/** What the manager tells the host when it asks for new tokens. */
export interface HostTokensRefreshRequest {
  reason: HostTokensRefreshReason;
  /**
   * The workspace the rejected tokens belonged to, so a host with several
   * accounts refreshes the right one; null when they named none.
   */
  previousAccountId: string | null;
}

/**
 * The host's refresher: returns fresh tokens, or throws. A thrown
 * `RefreshTokenError` is passed on as it is (so the host can say a failure
 * is permanent); anything else becomes a transient `ERR_REFRESH_TRANSIENT`.
 */
export type RefreshHostTokens = (request: HostTokensRefreshRequest) => Promise<HostTokens>;

/** Where the record of host tokens is described in errors and `describe()`-like text. */
export const HOST_TOKENS_SOURCE = "host-supplied tokens (memory)";

/** The in-memory slot of one CODEX_HOME's host tokens (the ephemeral store, keyed as Codex keys it). */
export function hostTokensStorage(codexHome: string): EphemeralAuthStorage {
  return new EphemeralAuthStorage(keyringAccountKey(codexHome));
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/**
 * The record kept for host tokens: `auth_mode: "chatgptAuthTokens"`, the
 * access token, no refresh token, and as `id_token` a local, unsigned
 * summary of the access token's claims with the host's account id and plan
 * written in (Codex builds the same view from the access token). That
 * `id_token` is only ever decoded in this process; it is never sent.
 *
 * @throws {JwtMalformedError} when the access token is not a JWT (Codex: `invalid ID token format`).
 */
export function hostTokensRecord(tokens: HostTokens, nowMs: number): AuthRecord {
  if (typeof tokens.accessToken !== "string" || typeof tokens.chatgptAccountId !== "string") {
    throw new JwtMalformedError("host tokens need an accessToken and a chatgptAccountId (strings)");
  }
  const claims = decodeJwtPayload(tokens.accessToken);
  const auth = claims[AUTH_CLAIMS_NAMESPACE];
  const authClaims = typeof auth === "object" && auth !== null && !Array.isArray(auth) ? auth : {};
  const plan = tokens.chatgptPlanType ?? undefined;
  const summary = {
    ...claims,
    [AUTH_CLAIMS_NAMESPACE]: {
      ...authClaims,
      chatgpt_account_id: tokens.chatgptAccountId,
      ...(plan !== undefined ? { chatgpt_plan_type: plan } : {}),
    },
  };
  return {
    auth_mode: "chatgptAuthTokens",
    OPENAI_API_KEY: null,
    tokens: {
      id_token: `${b64({ alg: "none", typ: "JWT" })}.${b64(summary)}.local`,
      access_token: tokens.accessToken,
      refresh_token: "",
      account_id: tokens.chatgptAccountId,
    },
    last_refresh: nowRfc3339(new Date(nowMs)),
  };
}

/** The snapshot of a host-tokens record. */
export function hostTokensAuth(record: AuthRecord): ChatgptAuth {
  return authFromRecord(record, HOST_TOKENS_SOURCE) as ChatgptAuth;
}

/** The host tokens held for `codexHome` in this process, if any. */
export async function loadHostTokens(codexHome: string): Promise<ChatgptAuth | undefined> {
  if (!holdsEphemeralRecords()) return undefined;
  const record = await hostTokensStorage(codexHome).load();
  return record?.auth_mode === "chatgptAuthTokens" ? hostTokensAuth(record) : undefined;
}

/**
 * Drops the host tokens held for `codexHome`, if any; true when there were
 * some. The slot is shared with `cli_auth_credentials_store = "ephemeral"`
 * (as in Codex): a managed login saved there is left alone.
 */
export async function dropHostTokens(codexHome: string): Promise<boolean> {
  return hostTokensStorage(codexHome).transaction(async (tx) => {
    const record = await tx.load();
    return record?.auth_mode === "chatgptAuthTokens" ? tx.delete() : false;
  });
}

/**
 * Checks host tokens against `forced_chatgpt_workspace_id`.
 *
 * @throws {LoginRestrictedError} naming the allowed workspaces.
 */
export function ensureHostWorkspaceAllowed(tokens: HostTokens, allowed: readonly string[] | undefined): void {
  if (!allowed?.length || allowed.includes(tokens.chatgptAccountId)) return;
  throw new LoginRestrictedError(
    `Login is restricted to workspace id(s) ${allowed.join(", ")}, but the host-supplied tokens belong to ${tokens.chatgptAccountId}.`,
  );
}
