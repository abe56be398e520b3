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
import { LoginRestrictedError, UnsupportedAuthModeError } from "../errors.js";
import { requestPersonalAccessTokenMetadata } from "../oauth/whoami.js";
import {
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
  /** `forced_login_method` and `forced_chatgpt_workspace_id` to apply. */
  config?: Pick<AuthConfig, "forcedLoginMethod" | "forcedChatgptWorkspaceIds">;
}

/**
 * Signs in with a personal access token as `codex login --with-access-token`
 * does: confirms it with OpenAI, applies the workspace restriction, then
 * replaces whatever was stored with `{"OPENAI_API_KEY": null,
 * "personal_access_token": "at-…"}`. The existing record is read first: an
 * unreadable or invalid one is an error and is left as it was (Codex
 * overwrites it; we never silently replace what we cannot read). Nothing is
 * revoked. Returns the checked snapshot.
 *
 * @throws {LoginRestrictedError} `ERR_LOGIN_RESTRICTED`: `forced_login_method = "api"`
 *   (`Access token login is disabled. Use API key login instead.`) or another workspace.
 * @throws {UnsupportedAuthModeError} `ERR_UNSUPPORTED_AUTH_MODE` for a token that is not `at-…`
 *   (an Agent Identity JWT: codex-auth cannot sign in with one).
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
): Promise<PersonalAccessTokenAuth> {
  if (options.config?.forcedLoginMethod === "api") {
    throw new LoginRestrictedError("Access token login is disabled. Use API key login instead.");
  }
  const candidate = authFromAccessToken(accessToken, "storage");
  if (candidate.mode !== "personalAccessToken") {
    throw new UnsupportedAuthModeError(
      "codex-auth signs in with personal access tokens (at-…) only; for an Agent Identity JWT use `codex login --with-access-token`.",
    );
  }
  const checked = await checkPersonalAccessToken(candidate, options);
  ensureWorkspaceAllowed(options.config?.forcedChatgptWorkspaceIds, checked.metadata!.chatgptAccountId);
  const storage: AuthStorage = typeof store === "string" ? await createStorage(codexHome, store) : store;
  const record = { OPENAI_API_KEY: null, personal_access_token: accessToken };
  await storage.transaction(async (tx) => {
    await tx.load();
    await tx.save(record);
  });
  return withPersonalAccessTokenMetadata({ ...checked, record }, checked.metadata!);
}
