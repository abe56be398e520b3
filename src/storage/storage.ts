import type { CredentialsStoreMode } from "../config/config.js";
import type { AuthRecord } from "../record/auth-record.js";
import { type AuthTransaction, runTransaction, type TransactionLock } from "./transaction.js";

/** Names of the storage backends: the `cli_auth_credentials_store` modes. */
export type StorageKind = CredentialsStoreMode;

/**
 * Where one CODEX_HOME's credentials live. Every backend loads, saves and
 * deletes whole records; none of them ever deletes or rewrites a record it
 * failed to read.
 *
 * Anything that reads and then writes (a refresh, a sign-in replacing the
 * previous login, a logout revoking what it removes) runs inside one
 * {@link AuthStorage.transaction}: the built-in file, keyring and auto
 * backends hold Codex's `CODEX_HOME/auth.lock` for its whole length, the
 * ephemeral one an in-process mutex. A custom backend decides what its
 * transaction holds; nothing else takes a lock on its behalf.
 *
 * @example
 * await storage.transaction(async (tx) => {
 *   const previous = await tx.load();
 *   await tx.save(next);
 *   return previous;
 * });
 */
export interface AuthStorage {
  readonly kind: StorageKind;
  /** A short description for messages and `status --json` (e.g. the file path). */
  describe(): string;
  /** The stored record, read without a lock (as Codex reads). @throws {CodexAuthError} */
  load(): Promise<AuthRecord | undefined>;
  /** Replaces the stored record: a one-operation transaction. @throws {CodexAuthError} */
  save(record: AuthRecord): Promise<void>;
  /** Removes the stored record, true when something was removed: a one-operation transaction. @throws {CodexAuthError} */
  delete(): Promise<boolean>;
  /**
   * Runs `fn` with exclusive access to the stored record. The transaction
   * ends when `fn` settles; its result (or error) is returned.
   *
   * @throws whatever `fn` throws; {@link CodexAuthError} when the lock cannot be taken.
   */
  transaction<T>(fn: (tx: AuthTransaction) => Promise<T>): Promise<T>;
}

/**
 * A backend built from unlocked operations and a {@link TransactionLock}:
 * `save`, `delete` and `transaction` run the operations under the lock. The
 * base for the built-in backends and a convenient one for custom storage.
 *
 * @example
 * class MyStorage extends LockedAuthStorage {
 *   readonly kind = "ephemeral";
 *   constructor() { super(inProcessLock("my-storage")); }
 *   describe() { return "my storage"; }
 *   readonly unlocked = { load: …, save: …, delete: … };
 * }
 */
export abstract class LockedAuthStorage implements AuthStorage {
  abstract readonly kind: StorageKind;
  /** The operations without any lock; use them only inside a transaction of this storage. */
  abstract readonly unlocked: AuthTransaction;
  constructor(private readonly lock: TransactionLock) {}
  abstract describe(): string;

  load(): Promise<AuthRecord | undefined> {
    return this.unlocked.load();
  }

  save(record: AuthRecord): Promise<void> {
    return this.transaction((tx) => tx.save(record));
  }

  delete(): Promise<boolean> {
    return this.transaction((tx) => tx.delete());
  }

  transaction<T>(fn: (tx: AuthTransaction) => Promise<T>): Promise<T> {
    return runTransaction(this.lock, this.unlocked, fn);
  }
}

export type { AuthTransaction, TransactionLock };
