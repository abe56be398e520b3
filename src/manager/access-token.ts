/**
 * Personal access tokens (`at-…`) as Codex 0.169 handles them: checked with
 * OpenAI's `whoami` whenever they are loaded (which also says which ChatGPT
 * workspace they act for), and saved by `login --with-access-token` as
 * `{"OPENAI_API_KEY": null, "personal_access_token": "at-…"}` without an
 * `auth_mode`, so that older Codex builds can still read the file.
 */
import type { AuthConfig } from "../config/config.js";
import { whoamiEndpoint } from "../config/endpoints.js";
import { type Env, processEnv } from "../config/env.js";
import type { Deps } from "../deps.js";
import { LoginRestrictedError } from "../errors.js";
import { requestPersonalAccessTokenMetadata } from "../oauth/whoami.js";
import {
  type AgentIdentityAuth,
  authFromAccessToken,
  type PersonalAccessTokenAuth,
  withPersonalAccessTokenMetadata,
} from "../record/codex-auth.js";
import { createStorage } from "../storage/index.js";
import type { AuthStorage } from "../storage/storage.js";
import type { StorageChoice } from "./operations.js";

/** What checking a personal access token needs: the environment (endpoint override, proxies, CAs) and `fetch`. */
export interface AccessTokenCheckOptions extends Partial<Pick<Deps, "env" | "fetch">> {
  /** The `originator` header (default `codex_cli_rs`; `CODEX_INTERNAL_ORIGINATOR_OVERRIDE` still wins). */
  originator?: string;
  signal?: AbortSignal;
}

/**
 * Confirms a personal access token with OpenAI (`GET
 * {CODEX_AUTHAPI_BASE_URL or https://auth.openai.com/api/accounts}/v1/user-auth-credential/whoami`)
 * and returns the snapshot with the account it acts for (`metadata`), as
 * Codex does each time it loads one.
 *
 * @throws {PersonalAccessTokenError} `ERR_PERSONAL_ACCESS_TOKEN` when OpenAI does not confirm it (Codex's words).
 * @throws {CaCertificateError} when a configured custom CA bundle is unusable.
 */
export async function checkPersonalAccessToken(
  auth: PersonalAccessTokenAuth,
  options: AccessTokenCheckOptions = {},
): Promise<PersonalAccessTokenAuth> {
  const env: Env = options.env ?? processEnv();
  const metadata = await requestPersonalAccessTokenMetadata(auth.accessToken, {
    url: whoamiEndpoint(env),
    env,
    fetch: options.fetch,
    originator: options.originator,
    signal: options.signal,
  });
  return withPersonalAccessTokenMetadata(auth, metadata);
}

/**
 * Codex's workspace check for credentials whose workspace is known without
 * an ID token (personal access tokens, Agent Identities).
 *
 * @throws {LoginRestrictedError} `Login is restricted to workspace id(s) <ids>.` (Codex 0.169's words).
 */
export function ensureWorkspaceAllowed(allowed: readonly string[] | undefined, actual: string): void {
  if (allowed === undefined || allowed.includes(actual)) return;
  throw new LoginRestrictedError(`Login is restricted to workspace id(s) ${allowed.join(", ")}.`);
}

/** Options for {@link loginWithAccessToken}. */
export interface AccessTokenLoginOptions extends AccessTokenCheckOptions {
  /**
   * `forced_login_method` and `forced_chatgpt_workspace_id` to apply; `chatgpt_base_url` (Agent Identity JWKS);
   * `secretAuthStorage`: a `store` given as a mode name uses Codex's encrypted store for `keyring` and `auto`.
   */
  config?: Partial<
    Pick<
      AuthConfig,
      "forcedLoginMethod" | "forcedChatgptWorkspaceIds" | "chatgptBaseUrl" | "secretAuthStorage"
    >
  >;
}

/**
 * `--with-access-token` with an Agent Identity JWT, as Codex 0.169: decode
 * its claims, apply the workspace restriction, verify it against the JWKS,
 * then save `{"auth_mode": "agentIdentity", "OPENAI_API_KEY": null,
 * "agent_identity": "<jwt>"}` (no task is registered at sign-in).
 */
async function loginWithAgentIdentityJwt(
  codexHome: string,
  jwt: string,
  store: StorageChoice,
  options: AccessTokenLoginOptions,
): Promise<void> {
  const { decodeAgentIdentityJwt } = await import("../record/agent-identity.js");
  const { checkAgentIdentity } = await import("./agent-identity.js");
  const claims = decodeAgentIdentityJwt(jwt);
  ensureWorkspaceAllowed(options.config?.forcedChatgptWorkspaceIds, claims.record.account_id);
  await checkAgentIdentity(
    { mode: "agentIdentity", source: "storage", identity: jwt, record: undefined },
    {
      env: options.env,
      fetch: options.fetch,
      registerTask: false,
      ...(options.config?.chatgptBaseUrl ? { chatgptBaseUrl: options.config.chatgptBaseUrl } : {}),
    },
  );
  const storage: AuthStorage =
    typeof store === "string"
      ? await createStorage(codexHome, store, {
          secretAuthStorage: options.config?.secretAuthStorage ?? false,
        })
      : store;
  await storage.transaction(async (tx) => {
    await tx.load();
    await tx.save({ auth_mode: "agentIdentity", OPENAI_API_KEY: null, agent_identity: jwt });
  });
}

/**
 * Signs in as `codex login --with-access-token` does. A personal access
 * token (`at-…`) is confirmed with OpenAI, the workspace restriction
 * applied, then whatever was stored is replaced with `{"OPENAI_API_KEY":
 * null, "personal_access_token": "at-…"}`; anything else is an Agent
 * Identity JWT, verified against the JWKS and saved as `{"auth_mode":
 * "agentIdentity", "OPENAI_API_KEY": null, "agent_identity": "<jwt>"}`. The existing record is read first: an
 * unreadable or invalid one is an error and is left as it was (Codex
 * overwrites it; we never silently replace what we cannot read). Nothing is
 * revoked. Returns the checked snapshot.
 *
 * @throws {LoginRestrictedError} `ERR_LOGIN_RESTRICTED`: `forced_login_method = "api"`
 *   (`Access token login is disabled. Use API key login instead.`) or another workspace.
 * @throws {AgentIdentityError} `ERR_UNSUPPORTED_AUTH_MODE` when an Agent Identity JWT does not decode or verify
 *   (Codex's words, e.g. `failed to decode agent identity JWT: invalid agent identity JWT format`).
 * @throws {PersonalAccessTokenError} when OpenAI does not confirm the token; nothing is saved.
 * @throws {CodexAuthError} when storage cannot be read or written.
 * @example
 * await loginWithAccessToken(home, "at-…", "file");
 */
export async function loginWithAccessToken(
  codexHome: string,
  accessToken: string,
  store: StorageChoice = "file",
  options: AccessTokenLoginOptions = {},
): Promise<PersonalAccessTokenAuth | AgentIdentityAuth> {
  if (options.config?.forcedLoginMethod === "api") {
    throw new LoginRestrictedError("Access token login is disabled. Use API key login instead.");
  }
  const candidate = authFromAccessToken(accessToken, "storage");
  if (candidate.mode === "agentIdentity") {
    await loginWithAgentIdentityJwt(codexHome, accessToken, store, options);
    return candidate;
  }
  const checked = await checkPersonalAccessToken(candidate, options);
  ensureWorkspaceAllowed(options.config?.forcedChatgptWorkspaceIds, checked.metadata!.chatgptAccountId);
  const storage: AuthStorage =
    typeof store === "string"
      ? await createStorage(codexHome, store, {
          secretAuthStorage: options.config?.secretAuthStorage ?? false,
        })
      : store;
  const record = { OPENAI_API_KEY: null, personal_access_token: accessToken };
  await storage.transaction(async (tx) => {
    await tx.load();
    await tx.save(record);
  });
  return withPersonalAccessTokenMetadata({ ...checked, record }, checked.metadata!);
}
