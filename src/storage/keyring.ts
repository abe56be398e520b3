import { FileAuthStorage } from "./file.js";
import type { CreateStorageOptions } from "./index.js";
import { KEYRING_BACKEND_NAME, type KeyringEntries, withKeyring } from "./keyring/client.js";
import { readRecord, removeRecord, writeRecord } from "./keyring/layout.js";
import { KEYRING_SERVICE, keyringAccountKey } from "./keyring-key.js";
import { LockedAuthStorage } from "./storage.js";
import { type AuthTransaction, authLock } from "./transaction.js";

export { KEYRING_BACKEND_NAME } from "./keyring/client.js";

/** Default bound on one keyring-backed load, save or delete. */
const DEFAULT_TIMEOUT_MS = 5_000;

/** Options for {@link KeyringAuthStorage} and {@link AutoAuthStorage}. */
export interface KeyringStorageOptions extends CreateStorageOptions {
  /**
   * Environment the keyring is reached through (default: this process's):
   * its DBUS_SESSION_BUS_ADDRESS on Linux, all of it for a helper process.
   * Tests use it to point at a dead or hung bus.
   */
  env?: NodeJS.ProcessEnv;
}

/**
 * Credentials in the OS keyring, in the layout Codex 0.169 writes: one entry
 * (service `Codex Auth`, account `cli|<16 hex>` of CODEX_HOME) whose secret
 * is the compact JSON record. Reads that legacy entry first, then the "v2"
 * multi-entry layout (`KEY|v2|active` → revision → `KEY|v2|REV|manifest`
 * and one entry per secret field). A save removes the fallback
 * `CODEX_HOME/auth.json` and any v2 entries (so nothing stale can shadow the
 * new record); a delete removes every entry and the file.
 *
 * Every load, save or delete is bounded by `keyringTimeoutMs` (default
 * 5000 ms) and never blocks the event loop or libuv's thread pool: the
 * binding runs on a worker thread whose D-Bus traffic this process can cut
 * off, or — once the keyring has misbehaved, and off Linux — in a helper
 * process that is killed at the deadline. A hung or locked keyring thus
 * gives a clear error where Codex 0.169 waits forever, and the process can
 * still exit right after. On Linux entries are pinned to the Secret
 * Service, as Codex's are: no silent fallback to the kernel keyring, which
 * Codex cannot read.
 *
 * @throws {KeyringUnavailableError} from every operation when the keyring
 *   cannot be reached, refuses, or does not answer in time.
 * @throws {AuthFileMalformedError} from `load` when an entry is not a valid
 *   record (the entry is left as it is).
 *
 * @example
 * const storage = new KeyringAuthStorage("/home/me/.codex", { keyringTimeoutMs: 2000 });
 * const record = await storage.load();
 */
export class KeyringAuthStorage extends LockedAuthStorage {
  readonly kind = "keyring" as const;
  private readonly file: FileAuthStorage;
  readonly unlocked: AuthTransaction = {
    load: () => this.withKeyring((keyring) => readRecord(keyring, keyringAccountKey(this.codexHome))),
    save: async (record) => {
      await this.withKeyring((keyring) => writeRecord(keyring, keyringAccountKey(this.codexHome), record));
      await this.file.unlocked.delete();
    },
    delete: async () => {
      const removedEntries = await this.withKeyring((keyring) =>
        removeRecord(keyring, keyringAccountKey(this.codexHome)),
      );
      const removedFile = await this.file.unlocked.delete();
      return removedEntries || removedFile;
    },
  };

  /**
   * Transactions hold CODEX_HOME/auth.lock: Codex 0.169 goes through it for
   * keyring writes too (the lock files appear after a keyring login), so
   * holding it orders our writes against a concurrent Codex login, logout or
   * refresh.
   */
  constructor(
    readonly codexHome: string,
    readonly options: KeyringStorageOptions = {},
  ) {
    super(authLock(codexHome));
    this.file = new FileAuthStorage(codexHome);
  }

  describe(): string {
    return `${KEYRING_BACKEND_NAME}, service "${KEYRING_SERVICE}", account "${keyringAccountKey(this.codexHome)}"`;
  }

  private withKeyring<T>(work: (keyring: KeyringEntries) => Promise<T>): Promise<T> {
    return withKeyring(
      {
        timeoutMs: this.options.keyringTimeoutMs ?? DEFAULT_TIMEOUT_MS,
        env: this.options.env ?? process.env,
        codexHome: this.codexHome,
      },
      work,
    );
  }
}
