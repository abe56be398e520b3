import type { AuthRecord } from "../record/auth-record.js";
import { LockedAuthStorage } from "./storage.js";
import { type AuthTransaction, inProcessLock } from "./transaction.js";

const memory = new Map<string, AuthRecord>();

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
