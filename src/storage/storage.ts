import type { AuthRecord } from "../record/auth-record.js";

/** Names of the storage backends (`cli_auth_credentials_store`). */
export type StorageKind = "file" | "keyring" | "auto" | "ephemeral";

/** Options for writes that happen inside a caller-held `auth.lock` (see {@link acquireAuthLock}). */
export interface WriteOptions {
  /** The caller already holds `CODEX_HOME/auth.lock`; do not take it again (that would self-deadlock). */
  authLockHeld?: boolean;
}

/**
 * Where one CODEX_HOME's credentials live. Every backend loads, saves and
 * deletes whole records; none of them ever deletes or rewrites a record it
 * failed to read.
 */
export interface AuthStorage {
  readonly kind: StorageKind;
  /** The stored record, or undefined when nothing is stored. @throws {CodexAuthError} */
  load(): Promise<AuthRecord | undefined>;
  /** Replaces the stored record. @throws {CodexAuthError} */
  save(record: AuthRecord, options?: WriteOptions): Promise<void>;
  /** Removes the stored record; true when something was removed. @throws {CodexAuthError} */
  delete(options?: WriteOptions): Promise<boolean>;
  /** A short description for messages and `status --json` (e.g. the file path). */
  describe(): string;
}
