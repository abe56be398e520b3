import type { AuthRecord } from "../record/auth-record.js";
import { LockedAuthStorage } from "./storage.js";
import { type AuthTransaction, inProcessLock } from "./transaction.js";

const memory = new Map<string, AuthRecord>();

/**
 * Whether this process holds any in-memory record (any CODEX_HOME). Lets a
 * load that finds none skip deriving the key (a realpath and a SHA-256, and
 * node:crypto's loading at start-up).
 */
export function holdsEphemeralRecords(): boolean {
  return memory.size > 0;
}

/**
 * In-process memory only, keyed like the keyring (by CODEX_HOME); nothing
 * touches disk, and everything is gone when the process exits. Transactions
 * hold an in-process mutex per key.
 */
export class EphemeralAuthStorage extends LockedAuthStorage {
  readonly kind = "ephemeral" as const;
  readonly unlocked: AuthTransaction = {
    load: async () => {
      const record = memory.get(this.key);
      return record && structuredClone(record);
    },
    save: async (record) => {
      memory.set(this.key, structuredClone(record));
    },
    delete: async () => memory.delete(this.key),
  };

  constructor(readonly key: string) {
    super(inProcessLock(`ephemeral:${key}`));
  }

  describe(): string {
    return "memory (ephemeral)";
  }
}
