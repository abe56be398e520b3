import type { CredentialsStoreMode } from "../config/config.js";
import { EphemeralAuthStorage } from "./ephemeral.js";
import { FileAuthStorage } from "./file.js";
import { keyringAccountKey } from "./keyring-key.js";
import type { AuthStorage } from "./storage.js";

export {
  ENCRYPTED_AUTH_FILE_NAME,
  ENCRYPTED_AUTH_SECRET_KEY,
  EncryptedAuthStorage,
  type EncryptedStorageOptions,
} from "./encrypted.js";
export { EphemeralAuthStorage } from "./ephemeral.js";
export { FileAuthStorage } from "./file.js";
export { keyringAccountKey, secretsKeyringAccount } from "./keyring-key.js";
export { type AuthStorage, LockedAuthStorage, type StorageKind } from "./storage.js";
export { type AuthTransaction, inProcessLock, type TransactionLock } from "./transaction.js";

/** Options for {@link createStorage}. */
export interface CreateStorageOptions {
  /** Longest wait for one keyring operation before it counts as unavailable (default 5000 ms). */
  keyringTimeoutMs?: number;
  /**
   * Codex's `[features] secret_auth_storage` (`AuthConfig.secretAuthStorage`):
   * with `keyring` and `auto`, credentials live in Codex's encrypted store
   * (`CODEX_HOME/secrets/codex_auth.age`, see {@link EncryptedAuthStorage})
   * instead of the `Codex Auth` keyring entry. No effect on `file` and
   * `ephemeral`, as in Codex 0.169. Default false.
   */
  secretAuthStorage?: boolean;
}

/**
 * The storage backend for a CODEX_HOME and `cli_auth_credentials_store` mode.
 * The keyring binding is loaded only for `keyring` and `auto`; with
 * `secretAuthStorage` those two use Codex's encrypted store.
 *
 * @example
 * const config = await loadConfig();
 * const storage = await createStorage(config.codexHome, config.credentialsStore, {
 *   secretAuthStorage: config.secretAuthStorage,
 * });
 */
export async function createStorage(
  codexHome: string,
  mode: CredentialsStoreMode,
  options: CreateStorageOptions = {},
): Promise<AuthStorage> {
  switch (mode) {
    case "file":
      return new FileAuthStorage(codexHome);
    case "ephemeral":
      return new EphemeralAuthStorage(keyringAccountKey(codexHome));
    case "keyring": {
      if (options.secretAuthStorage) {
        const { EncryptedAuthStorage } = await import("./encrypted.js");
        return new EncryptedAuthStorage(codexHome, options);
      }
      const { KeyringAuthStorage } = await import("./keyring.js");
      return new KeyringAuthStorage(codexHome, options);
    }
    case "auto": {
      const { AutoAuthStorage } = await import("./auto.js");
      return new AutoAuthStorage(codexHome, options);
    }
  }
}
