import type { CredentialsStoreMode } from "../config/config.js";
import { revokeEndpoint } from "../config/endpoints.js";
import { type Env, readCodexApiKeyFromEnv } from "../config/env.js";
import { revokeRefreshToken } from "../oauth/revoke.js";
import type { AuthRecord } from "../record/auth-record.js";
import { createStorage } from "../storage/index.js";
import type { AuthStorage } from "../storage/storage.js";
import { CodexAuth } from "./codex-auth.js";

/** A storage backend, or the `cli_auth_credentials_store` mode to build one. */
export type StorageChoice = CredentialsStoreMode | AuthStorage;

async function storageFor(codexHome: string, choice: StorageChoice = "file"): Promise<AuthStorage> {
  return typeof choice === "string" ? createStorage(codexHome, choice) : choice;
}

/** Options for {@link loadAuth}. */
export interface LoadAuthOptions {
  /** Honour `CODEX_API_KEY` (Codex does for non-interactive runs). Default false. */
  enableCodexApiKeyEnv?: boolean;
  env?: Env;
}

/**
 * The credentials in effect (SPEC §2): `CODEX_API_KEY` when enabled and set
 * (storage is then not read), else the stored record, else undefined.
 *
 * @throws {CodexAuthError} when the stored record cannot be read or is invalid.
 */
export async function loadAuth(
  storage: AuthStorage,
  options: LoadAuthOptions = {},
): Promise<CodexAuth | undefined> {
  if (options.enableCodexApiKeyEnv) {
    const key = readCodexApiKeyFromEnv(options.env ?? process.env);
    if (key) return CodexAuth.fromApiKey(key);
  }
  const record = await storage.load();
  return record ? CodexAuth.fromRecord(record, storage.describe()) : undefined;
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

/** Options for {@link logout}. */
export interface LogoutOptions {
  env?: Env;
  fetch?: typeof fetch;
}

/**
 * Removes the stored credentials; true when something was removed. Managed
 * ChatGPT credentials are first revoked at the issuer, best effort (a failed
 * revoke never blocks the logout). A record that cannot be read is an error
 * and is left in place.
 */
export async function logout(
  codexHome: string,
  store?: StorageChoice,
  options: LogoutOptions = {},
): Promise<boolean> {
  const storage = await storageFor(codexHome, store);
  return storage.transaction(async (tx) => {
    const record = await tx.load();
    if (record) await revokeStored(record, options);
    return tx.delete();
  });
}

/** Best-effort revocation of a record's refresh token (managed ChatGPT credentials only). */
export async function revokeStored(record: AuthRecord, options: LogoutOptions = {}): Promise<void> {
  const tokens = record.tokens;
  const auth = authOrUndefined(record);
  if (!auth?.isManagedChatgpt || !tokens?.refresh_token) return;
  const url = revokeEndpoint(options.env ?? process.env, tokens.oauth_provenance?.issuer);
  await revokeRefreshToken(tokens.refresh_token, { url, ...(options.fetch ? { fetch: options.fetch } : {}) });
}

function authOrUndefined(record: AuthRecord): CodexAuth | undefined {
  try {
    return CodexAuth.fromRecord(record);
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
