import type { CredentialsStoreMode } from "../config/config.js";
import { EphemeralAuthStorage } from "./ephemeral.js";
import { FileAuthStorage } from "./file.js";
import { keyringAccountKey } from "./keyring-key.js";
import type { AuthStorage } from "./storage.js";

export { EphemeralAuthStorage } from "./ephemeral.js";
export { FileAuthStorage } from "./file.js";
export { keyringAccountKey } from "./keyring-key.js";
export { type AuthStorage, LockedAuthStorage, type StorageKind } from "./storage.js";
export { type AuthTransaction, inProcessLock, type TransactionLock } from "./transaction.js";

/** Options for {@link createStorage}. */
export interface CreateStorageOptions {
  /** Longest wait for one keyring operation before it counts as unavailable (default 5000 ms). */
  keyringTimeoutMs?: number;
}

/**
 * The storage backend for a CODEX_HOME and `cli_auth_credentials_store` mode.
 * The keyring binding is loaded only for `keyring` and `auto`.
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
      const { KeyringAuthStorage } = await import("./keyring.js");
      return new KeyringAuthStorage(codexHome, options);
    }
    case "auto": {
      const { AutoAuthStorage } = await import("./auto.js");
      return new AutoAuthStorage(codexHome, options);
    }
  }
}
