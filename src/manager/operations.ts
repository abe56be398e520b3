import type { CredentialsStoreMode, ForcedLoginMethod } from "../config/config.js";
import { revokeEndpoint } from "../config/endpoints.js";
import { type Env, processEnv, readCodexAccessTokenFromEnv, readCodexApiKeyFromEnv } from "../config/env.js";
import type { ResidencyRequirement } from "../config/requirements.js";
import { type Deps, realSleep } from "../deps.js";
import { revokeAccessToken, revokeRefreshToken } from "../oauth/revoke.js";
import type { AuthRecord } from "../record/auth-record.js";
import {
  authFromAccessToken,
  authFromApiKey,
  authFromRecord,
  type CodexAuth,
  isManagedChatgpt,
} from "../record/codex-auth.js";
import { createStorage } from "../storage/index.js";
import type { AuthStorage } from "../storage/storage.js";

/** A storage backend, or the `cli_auth_credentials_store` mode to build one. */
export type StorageChoice = CredentialsStoreMode | AuthStorage;

async function storageFor(codexHome: string, choice: StorageChoice = "file"): Promise<AuthStorage> {
  return typeof choice === "string" ? createStorage(codexHome, choice) : choice;
}

/** Options for {@link loadAuth}. */
export interface LoadAuthOptions extends Partial<Pick<Deps, "fetch">> {
  /** Honour `CODEX_API_KEY` (Codex does for non-interactive runs). Default false. */
  enableCodexApiKeyEnv?: boolean;
  /**
   * Honour `CODEX_ACCESS_TOKEN` (Codex always does, ahead of storage).
   * Default true; skipped when `forcedLoginMethod` is `"api"`, as Codex
   * skips it then.
   */
  codexAccessTokenEnv?: boolean;
  /** `forced_login_method`: with `"api"`, `CODEX_ACCESS_TOKEN` is not used. */
  forcedLoginMethod?: ForcedLoginMethod;
  /**
   * Confirm a personal access token with OpenAI (`whoami`) before returning
   * it, as Codex does on every load: the snapshot then carries `metadata`.
   * Default false (no network: the snapshot has no `metadata`).
   */
  checkAccessTokens?: boolean;
  /** `originator` header of the `whoami` request. */
  originator?: string;
  env?: Env;
}

/**
 * The credentials in effect, in Codex 0.169's order: `CODEX_API_KEY` when
 * enabled and set; else `CODEX_ACCESS_TOKEN` (unless disabled or the login
 * method is forced to `api`); else the stored record; else undefined.
 * Storage is not read when an environment credential wins.
 *
 * @throws {CodexAuthError} when the stored record cannot be read or is invalid.
 * @throws {PersonalAccessTokenError} with `checkAccessTokens`, when OpenAI does not confirm a personal access token.
 */
export async function loadAuth(
  storage: AuthStorage,
  options: LoadAuthOptions = {},
): Promise<CodexAuth | undefined> {
  const env = options.env ?? processEnv();
  if (options.enableCodexApiKeyEnv) {
    const key = readCodexApiKeyFromEnv(env);
    if (key) return authFromApiKey(key);
  }
  let auth: CodexAuth | undefined;
  const accessToken =
    options.codexAccessTokenEnv !== false && options.forcedLoginMethod !== "api"
      ? readCodexAccessTokenFromEnv(env)
      : undefined;
  if (accessToken !== undefined) {
    auth = authFromAccessToken(accessToken);
  } else {
    const record = await storage.load();
    auth = record ? authFromRecord(record, storage.describe()) : undefined;
  }
  if (options.checkAccessTokens && auth?.mode === "personalAccessToken") {
    const { checkPersonalAccessToken } = await import("./access-token.js");
    auth = await checkPersonalAccessToken(auth, {
      env,
      fetch: options.fetch,
      originator: options.originator,
    });
  }
  return auth;
}

/**
 * Replaces whatever was stored with an API-key-only record. The existing
 * record is read first: an unreadable or invalid one is an error and is left
 * as it was (never silently overwritten).
 *
 * @example
 * await loginWithApiKey(home, "sk-…", "file");
 */
export async function loginWithApiKey(
  codexHome: string,
  apiKey: string,
  store?: StorageChoice,
): Promise<void> {
  const storage = await storageFor(codexHome, store);
  await storage.transaction(async (tx) => {
    await tx.load();
    await tx.save({ auth_mode: "apikey", OPENAI_API_KEY: apiKey });
  });
}

/** Options for {@link logout}: the environment (revoke endpoint overrides) and `fetch` of {@link Deps}. */
export interface LogoutOptions extends Partial<Pick<Deps, "env" | "fetch" | "sleep">> {
  /** The `originator` header of the revoke request (default `codex_cli_rs`). */
  originator?: string;
  /** `enforce_residency`, sent with the revoke request (see {@link HttpDeps.residency}). Default: not sent. */
  residency?: ResidencyRequirement;
  /**
   * Called when the local logout succeeded but the issuer did not confirm
   * the revocation of the removed refresh token (it stays valid until it
   * expires). Default: silent.
   */
  onRevokeFailed?: (token: RevokedToken) => void;
  /**
   * Also undo an Amazon Bedrock sign-in's config.toml (when `model_provider`
   * is `"amazon-bedrock"`: remove `model`, `model_provider` and
   * `[model_providers.amazon-bedrock.aws]`), as Codex 0.169's logout does.
   * Default true.
   */
  clearBedrockProvider?: boolean;
}

/**
 * Removes the stored credentials; true when something was removed. Local
 * removal comes first: managed ChatGPT credentials are revoked at the issuer
 * only once they are gone from storage, so a logout that cannot remove them
 * (read-only CODEX_HOME, keyring refusing) never revokes a login that stays
 * in place. A failed revoke never undoes the logout (`onRevokeFailed`). A
 * record that cannot be read is an error and is left in place. Then, as
 * Codex 0.169, config.toml is taken off the Amazon Bedrock provider when it
 * points there (which alone counts as something removed).
 *
 * @throws {CodexAuthError} when storage cannot be read or the record cannot be removed; nothing was revoked.
 * @throws {ConfigError} when config.toml points at Amazon Bedrock but cannot be updated (the credentials are gone).
 */
export async function logout(
  codexHome: string,
  store?: StorageChoice,
  options: LogoutOptions = {},
): Promise<boolean> {
  const storage = await storageFor(codexHome, store);
  const removed = await storage.transaction(async (tx) => {
    const record = await tx.load();
    const removed = await tx.delete();
    if (record && !(await revokeStored(record, options))) options.onRevokeFailed?.(revokedTokenOf(record));
    return removed;
  });
  // Codex's logout also takes config.toml off the Amazon Bedrock provider (and counts that as a logout).
  if (options.clearBedrockProvider === false) return removed;
  const { clearBedrockProvider } = await import("../config/bedrock-provider.js");
  return (await clearBedrockProvider(codexHome)) || removed;
}

/** Which token a logout revokes: Codex sends the refresh token, or the access token when there is none. */
export type RevokedToken = "refresh_token" | "access_token";

function revokedTokenOf(record: AuthRecord): RevokedToken {
  return record.tokens?.refresh_token === "" ? "access_token" : "refresh_token";
}

/** Tries of a revoke that meets a refused connection, 429 or 5xx. */
const REVOKE_ATTEMPTS = 3;

/**
 * Best-effort revocation of a record's tokens (managed ChatGPT credentials
 * only), choosing the token as Codex 0.169 does: the refresh token when it
 * is not empty, else the access token (`token_type_hint: "access_token"`,
 * no `client_id`). True when revoked or when there was nothing to revoke;
 * false when the issuer did not confirm.
 */
export async function revokeStored(
  record: AuthRecord,
  options: Partial<Pick<Deps, "env" | "fetch" | "sleep">> & {
    originator?: string;
    residency?: ResidencyRequirement;
  } = {},
): Promise<boolean> {
  const tokens = record.tokens;
  if (!tokens || !isManagedChatgpt(authOrUndefined(record))) return true;
  const env = options.env ?? processEnv();
  const revokeOptions = {
    url: revokeEndpoint(env, tokens.oauth_provenance?.issuer),
    env,
    fetch: options.fetch,
    originator: options.originator,
    ...(options.residency ? { residency: options.residency } : {}),
    retry: { attempts: REVOKE_ATTEMPTS, sleep: options.sleep ?? realSleep },
  };
  // Codex tests emptiness without trimming: a refresh token of spaces is still sent.
  if (tokens.refresh_token !== "") return revokeRefreshToken(tokens.refresh_token, revokeOptions);
  if (tokens.access_token !== "") return revokeAccessToken(tokens.access_token, revokeOptions);
  return true;
}

function authOrUndefined(record: AuthRecord): CodexAuth | undefined {
  try {
    return authFromRecord(record);
  } catch {
    return undefined;
  }
}

/** Saves a record through the chosen backend (for tests and tools; programs use {@link AuthManager}). */
export async function saveAuth(codexHome: string, record: AuthRecord, store?: StorageChoice): Promise<void> {
  await (await storageFor(codexHome, store)).save(record);
}

/** Loads the stored record (for tests and tools; programs use {@link AuthManager}). */
export async function loadAuthRecord(
  codexHome: string,
  store?: StorageChoice,
): Promise<AuthRecord | undefined> {
  return (await storageFor(codexHome, store)).load();
}
