import { KeyringUnavailableError } from "../errors.js";
import type { AuthRecord } from "../record/auth-record.js";
import { FileAuthStorage } from "./file.js";
import { KEYRING_BACKEND_NAME, KeyringAuthStorage, type KeyringStorageOptions } from "./keyring.js";
import type { AuthStorage, WriteOptions } from "./storage.js";

/** Options for {@link AutoAuthStorage}. */
export interface AutoStorageOptions extends KeyringStorageOptions {
  /**
   * Receives a one-line warning whenever the keyring is unavailable and
   * auth.json is used instead (default: silent). Never given a secret.
   */
  logger?: (warning: string) => void;
}

/**
 * `cli_auth_credentials_store = "auto"`: the OS keyring when it works, else
 * `CODEX_HOME/auth.json`.
 *
 * - load: the keyring's record; when the keyring is unavailable or holds
 *   nothing, auth.json's.
 * - save: into the keyring (which removes auth.json); when the keyring is
 *   unavailable, into auth.json.
 * - delete: the keyring entries and auth.json. Unlike Codex 0.169, whose
 *   logout fails and leaves auth.json in place when the keyring is
 *   unavailable, auth.json is still removed then: a logout must not leave
 *   credentials behind. Only a failure to remove the file is thrown.
 *
 * A malformed keyring entry is not papered over with the file: load throws
 * `AuthFileMalformedError` so the user learns about it.
 *
 * @example
 * const storage = new AutoAuthStorage(codexHome, { logger: (w) => console.error(w) });
 * await storage.save(record); // keyring, or auth.json with one warning
 */
export class AutoAuthStorage implements AuthStorage {
  readonly kind = "auto" as const;
  private readonly keyring: KeyringAuthStorage;
  private readonly file: FileAuthStorage;

  constructor(
    readonly codexHome: string,
    readonly options: AutoStorageOptions = {},
  ) {
    this.keyring = new KeyringAuthStorage(codexHome, options);
    this.file = new FileAuthStorage(codexHome);
  }

  describe(): string {
    return `${KEYRING_BACKEND_NAME}, falling back to ${this.file.path}`;
  }

  async load(): Promise<AuthRecord | undefined> {
    const fromKeyring = await this.keyringOr("load", () => this.keyring.load(), undefined);
    return fromKeyring ?? this.file.load();
  }

  async save(record: AuthRecord, options: WriteOptions = {}): Promise<void> {
    const saved = await this.keyringOr(
      "save",
      () => this.keyring.save(record, options).then(() => true),
      false,
    );
    if (!saved) await this.file.save(record, options);
  }

  async delete(options: WriteOptions = {}): Promise<boolean> {
    // KeyringAuthStorage.delete removes auth.json too once the keyring answered.
    const removed = await this.keyringOr("delete", () => this.keyring.delete(options), undefined);
    return removed ?? this.file.delete(options);
  }

  /** Runs a keyring operation; on KeyringUnavailableError warns once and returns `fallback`. */
  private async keyringOr<T, F>(operation: string, run: () => Promise<T>, fallback: F): Promise<T | F> {
    try {
      return await run();
    } catch (err) {
      if (!(err instanceof KeyringUnavailableError)) throw err;
      this.options.logger?.(`warning: keyring ${operation} fell back to ${this.file.path}: ${err.message}`);
      return fallback;
    }
  }
}
