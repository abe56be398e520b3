import type { AuthRecord } from "../record/auth-record.js";
import type { AuthStorage } from "./storage.js";

const memory = new Map<string, AuthRecord>();

/**
 * In-process memory only, keyed like the keyring (by CODEX_HOME); nothing
 * touches disk, and everything is gone when the process exits.
 */
export class EphemeralAuthStorage implements AuthStorage {
  readonly kind = "ephemeral" as const;
  constructor(readonly key: string) {}
  describe(): string {
    return "memory (ephemeral)";
  }
  async load(): Promise<AuthRecord | undefined> {
    const record = memory.get(this.key);
    return record && structuredClone(record);
  }
  async save(record: AuthRecord): Promise<void> {
    memory.set(this.key, structuredClone(record));
  }
  async delete(): Promise<boolean> {
    return memory.delete(this.key);
  }
}
