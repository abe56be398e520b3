/**
 * Amazon Bedrock credentials as Codex 0.169's app server saves them
 * (`account/login/start` with `amazonBedrock` / `amazonBedrockAccessKeys`):
 * the record replaces whatever was stored, and config.toml is pointed at the
 * `amazon-bedrock` provider. codex-auth never calls Bedrock; it keeps these
 * credentials so `codex` finds them, and reports them.
 */

import { BEDROCK_REGIONS, setBedrockProvider } from "../config/bedrock-provider.js";
import type { AuthConfig } from "../config/config.js";
import { InvalidCredentialError, LoginRestrictedError } from "../errors.js";
import type { AuthRecord } from "../record/auth-record.js";
import { createStorage } from "../storage/index.js";
import type { AuthStorage } from "../storage/storage.js";
import type { StorageChoice } from "./operations.js";

/** An Amazon Bedrock API key and its AWS region (e.g. `us-east-1`). */
export interface BedrockApiKeyLogin {
  apiKey: string;
  region: string;
}

/** AWS access keys for Amazon Bedrock and the region. */
export interface BedrockAccessKeysLogin {
  accessKeyId: string;
  secretAccessKey: string;
  /** Omitted when blank, as Codex. */
  sessionToken?: string | undefined;
  region: string;
}

/** Options of the Bedrock sign-ins. */
export interface BedrockLoginOptions {
  /**
   * `forced_login_method`: with `"chatgpt"`, Bedrock sign-in is refused (as
   * Codex); `secretAuthStorage`: a `store` given as a mode name uses Codex's
   * encrypted store for `keyring` and `auto`.
   */
  config?: Pick<AuthConfig, "forcedLoginMethod"> & Partial<Pick<AuthConfig, "secretAuthStorage">>;
}

function checkRegion(region: string): string {
  const trimmed = region.trim();
  if (!BEDROCK_REGIONS.includes(trimmed)) {
    const shown = /^[A-Za-z0-9-]{0,40}$/.test(trimmed) ? trimmed : "(not a region name)";
    throw new InvalidCredentialError(`Amazon Bedrock does not support region \`${shown}\``);
  }
  return trimmed;
}

function checkAllowed(options: BedrockLoginOptions): void {
  if (options.config?.forcedLoginMethod === "chatgpt") {
    throw new LoginRestrictedError("Amazon Bedrock login is disabled. Use ChatGPT login instead.");
  }
}

async function save(
  codexHome: string,
  store: StorageChoice,
  options: BedrockLoginOptions,
  record: AuthRecord,
  region?: string,
) {
  const storage: AuthStorage =
    typeof store === "string"
      ? await createStorage(codexHome, store, {
          secretAuthStorage: options.config?.secretAuthStorage ?? false,
        })
      : store;
  await storage.transaction(async (tx) => {
    // An unreadable record is never replaced (as every sign-in here).
    await tx.load();
    // config.toml is changed only when the record can be saved too.
    await tx.probeSave?.();
    await setBedrockProvider(codexHome, region);
    await tx.save(record);
  });
}

/**
 * Saves an Amazon Bedrock API key as Codex 0.169 does: `{"auth_mode":
 * "bedrockApiKey", "OPENAI_API_KEY": null, "bedrock_api_key": {"api_key",
 * "region"}}` (both trimmed), replacing what was stored, and
 * `model_provider = "amazon-bedrock"` in config.toml. Returns the record.
 *
 * @throws {InvalidCredentialError} `Amazon Bedrock API key must not be empty.` / `Amazon Bedrock does not support region `…``.
 * @throws {LoginRestrictedError} with `forced_login_method = "chatgpt"`.
 * @throws {ConfigError} when config.toml cannot be updated (nothing saved).
 * @throws {CodexAuthError} when storage cannot be read or written.
 */
export async function loginWithBedrockApiKey(
  codexHome: string,
  login: BedrockApiKeyLogin,
  store: StorageChoice = "file",
  options: BedrockLoginOptions = {},
): Promise<AuthRecord> {
  checkAllowed(options);
  const apiKey = login.apiKey.trim();
  if (!apiKey) throw new InvalidCredentialError("Amazon Bedrock API key must not be empty.");
  const region = checkRegion(login.region);
  const record: AuthRecord = {
    auth_mode: "bedrockApiKey",
    OPENAI_API_KEY: null,
    bedrock_api_key: { api_key: apiKey, region },
  };
  await save(codexHome, store, options, record);
  return record;
}

/**
 * Saves AWS access keys for Amazon Bedrock as Codex 0.169 does:
 * `{"auth_mode": "bedrockAccessKeys", "OPENAI_API_KEY": null,
 * "bedrock_access_keys": {"access_key_id", "secret_access_key",
 * "session_token"?}}` (trimmed; a blank session token is left out), and in
 * config.toml `model_provider = "amazon-bedrock"` and
 * `[model_providers.amazon-bedrock.aws] region = "…"`. Returns the record.
 *
 * @throws {InvalidCredentialError} `AWS access key ID and secret access key must not be empty.` / an unsupported region.
 * @throws {LoginRestrictedError} with `forced_login_method = "chatgpt"`.
 * @throws {ConfigError} when config.toml cannot be updated (nothing saved).
 * @throws {CodexAuthError} when storage cannot be read or written.
 */
export async function loginWithBedrockAccessKeys(
  codexHome: string,
  login: BedrockAccessKeysLogin,
  store: StorageChoice = "file",
  options: BedrockLoginOptions = {},
): Promise<AuthRecord> {
  checkAllowed(options);
  const accessKeyId = login.accessKeyId.trim();
  const secretAccessKey = login.secretAccessKey.trim();
  if (!accessKeyId || !secretAccessKey) {
    throw new InvalidCredentialError("AWS access key ID and secret access key must not be empty.");
  }
  const region = checkRegion(login.region);
  const sessionToken = login.sessionToken?.trim();
  const record: AuthRecord = {
    auth_mode: "bedrockAccessKeys",
    OPENAI_API_KEY: null,
    bedrock_access_keys: {
      access_key_id: accessKeyId,
      secret_access_key: secretAccessKey,
      ...(sessionToken ? { session_token: sessionToken } : {}),
    },
  };
  await save(codexHome, store, options, record, region);
  return record;
}
