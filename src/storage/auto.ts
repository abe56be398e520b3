import { KeyringUnavailableError } from "../errors.js";
import { EncryptedAuthStorage } from "./encrypted.js";
import { FileAuthStorage } from "./file.js";
import { KEYRING_BACKEND_NAME, KeyringAuthStorage, type KeyringStorageOptions } from "./keyring.js";
import { LockedAuthStorage } from "./storage.js";
import { type AuthTransaction, authLock } from "./transaction.js";

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
 * With `secretAuthStorage` (Codex's `[features] secret_auth_storage`), the
 * keyring half is Codex's encrypted store ({@link EncryptedAuthStorage});
 * auth.json is used when the keyring holding its key is unavailable.
 *
 * A malformed keyring entry (or an encrypted store that cannot be opened) is
 * not papered over with the file: load throws so the user learns about it
 * (Codex 0.169 falls back to auth.json on any keyring error).
 *
 * @example
 * const storage = new AutoAuthStorage(codexHome, { logger: (w) => console.error(w) });
 * await storage.save(record); // keyring, or auth.json with one warning
 */
export class AutoAuthStorage extends LockedAuthStorage {
  readonly kind = "auto" as const;
  /** The keyring half: the `Codex Auth` entries, or Codex's encrypted store. */
  readonly keyring: KeyringAuthStorage | EncryptedAuthStorage;
  private readonly file: FileAuthStorage;
  readonly unlocked: AuthTransaction = {
    load: async () => {
      const fromKeyring = await this.keyringOr("load", () => this.keyring.unlocked.load(), undefined);
      return fromKeyring ?? this.file.unlocked.load();
    },
    save: async (record) => {
      const saved = await this.keyringOr(
        "save",
        () => this.keyring.unlocked.save(record).then(() => true),
        false,
      );
      if (!saved) await this.file.unlocked.save(record);
    },
    delete: async () => {
      // The keyring's delete removes auth.json too once the keyring answered.
      const removed = await this.keyringOr("delete", () => this.keyring.unlocked.delete(), undefined);
      return removed ?? this.file.unlocked.delete();
    },
  };

  /** Transactions hold CODEX_HOME/auth.lock, whichever of the two stores they end up using. */
  constructor(
    readonly codexHome: string,
    readonly options: AutoStorageOptions = {},
  ) {
    super(authLock(codexHome));
    this.keyring = options.secretAuthStorage
      ? new EncryptedAuthStorage(codexHome, options)
      : new KeyringAuthStorage(codexHome, options);
    this.file = new FileAuthStorage(codexHome);
  }

  describe(): string {
    const keyring =
      this.keyring instanceof EncryptedAuthStorage ? this.keyring.describe() : KEYRING_BACKEND_NAME;
    return `${keyring}, falling back to ${this.file.path}`;
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
