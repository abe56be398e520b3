import type { AuthRecord } from "../record/auth-record.js";
import type { CreateStorageOptions } from "./index.js";
import type { AuthStorage } from "./storage.js";

// Placeholder: the keyring backend is being written (see issue 3).
export class KeyringAuthStorage implements AuthStorage {
  readonly kind = "keyring" as const;
  constructor(
    readonly codexHome: string,
    readonly options: CreateStorageOptions = {},
  ) {}
  describe(): string {
    return "OS keyring";
  }
  async load(): Promise<AuthRecord | undefined> {
    throw new Error("not implemented");
  }
  async save(_record: AuthRecord): Promise<void> {
    throw new Error("not implemented");
  }
  async delete(): Promise<boolean> {
    throw new Error("not implemented");
  }
}
