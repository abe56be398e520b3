import {
  closeSync,
  existsSync,
  constants as fsConstants,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { SecretsKeyMissingError } from "../errors.js";
import { nodeCrypto } from "../lazy-require.js";
import { parseAuthRecord, serializeAuthRecordCompact } from "../record/auth-record.js";
import { FileAuthStorage, probeWritable } from "./file.js";
import { KEYRING_BACKEND_NAME, type KeyringEntries, withKeyring } from "./keyring/client.js";
import { KeyringAuthStorage, type KeyringStorageOptions } from "./keyring.js";
import { SECRETS_KEYRING_SERVICE, secretsKeyringAccount } from "./keyring-key.js";
import {
  DEFAULT_SCRYPT_WORK_FACTOR,
  generatePassphrase,
  MAX_SCRYPT_WORK_FACTOR,
  openSecretsFile,
  type SecretsFileContents,
  sealSecretsFile,
} from "./secrets-file.js";
import { LockedAuthStorage } from "./storage.js";
import { type AuthTransaction, authLock, ensureHome, ioError, withCommitLock } from "./transaction.js";

/** The file of Codex 0.169's CLI-auth namespace, under `CODEX_HOME/secrets/`. */
export const ENCRYPTED_AUTH_FILE_NAME = "codex_auth.age";
/** The entry holding the record: scope `global`, secret name `CODEX_AUTH`. */
export const ENCRYPTED_AUTH_SECRET_KEY = "global/CODEX_AUTH";

const DEFAULT_TIMEOUT_MS = 5_000;

/** Options for {@link EncryptedAuthStorage}. */
export interface EncryptedStorageOptions extends KeyringStorageOptions {
  /**
   * scrypt work factor (log2 N, 1–22) for a file this storage creates;
   * a file being replaced keeps the one it was written with (Codex's is
   * calibrated to about a second, 2^19 on a typical machine). Default 18,
   * age's default. The key is 256 random bits, so a lower factor costs no
   * real security, only less time for each program that opens the file.
   */
  scryptWorkFactor?: number;
}

/** What one process remembers of a decrypted file, keyed on the file's identity. */
interface CachedFile {
  identity: string;
  contents: SecretsFileContents;
  /** sha256 of the passphrase that opened it: a save with the same key need not decrypt again. */
  keyDigest: string;
}

/**
 * Codex's encrypted credential store (`[features] secret_auth_storage =
 * true` with `cli_auth_credentials_store = "keyring"`, and the keyring half
 * of `"auto"`), mirroring `codex-rs/secrets` and Codex 0.169's
 * `SecretsKeyringAuthStorage`:
 *
 * - the record, as compact JSON, is the entry `global/CODEX_AUTH` of
 *   `CODEX_HOME/secrets/codex_auth.age`, an age file whose one scrypt
 *   recipient's passphrase is in the OS keyring under service `codex`,
 *   account `secrets|<16 hex of sha256(CODEX_HOME)>` (base64 of 32 random
 *   bytes); the decrypted file is `{"version":1,"secrets":{…}}`;
 * - load reads only that entry (neither auth.json nor the `Codex Auth`
 *   keyring entry, as Codex);
 * - save rewrites the file (other entries kept) through a temp file
 *   `.codex_auth.age.tmp-<pid>-<nanos>` + fsync + rename, then removes
 *   auth.json; the key is made on the first save, when there is no file;
 * - delete removes the entry (the file stays, as Codex leaves it), auth.json
 *   and the `Codex Auth` keyring entries; the key is kept (other Codex
 *   secrets share it).
 *
 * Deliberate differences: the file is 0600 and the folder 0700 (Codex:
 * 0644 and 0755 under the usual umask); when the file exists but its key is
 * missing, nothing is written anywhere (Codex makes a new key on a mere
 * read, so the old file can never be opened again even if the item is
 * restored): {@link SecretsKeyMissingError}. Transactions hold Codex's
 * `auth.lock`, writes also `auth.json.lock`, as Codex's do.
 *
 * Each object remembers the file it last decrypted or wrote against the
 * file's identity (device, inode, size, mtime, ctime), so a load of an
 * unchanged file costs a `stat`: no keyring call, no scrypt.
 *
 * @throws {SecretsKeyMissingError} the file exists, its key does not.
 * @throws {SecretsFileUnreadableError} not age, the wrong key, or not Codex's JSON (left unchanged).
 * @throws {SecretsFileVersionError} written by a newer version (left unchanged).
 * @throws {KeyringUnavailableError} the keyring cannot be reached in time.
 * @throws {AuthFileMalformedError} the entry is not a valid record (left unchanged).
 *
 * @example
 * const storage = new EncryptedAuthStorage("/home/me/.codex");
 * const record = await storage.load();
 */
export class EncryptedAuthStorage extends LockedAuthStorage {
  readonly kind = "keyring" as const;
  /** Always true: tells this backend apart from {@link KeyringAuthStorage} (same `kind`). */
  readonly encrypted = true as const;
  /** `CODEX_HOME/secrets/codex_auth.age`. */
  readonly path: string;
  private readonly file: FileAuthStorage;
  private readonly direct: KeyringAuthStorage;
  /**
   * The file as last decrypted or written by this object. Decrypting costs an
   * scrypt run (about 1.6 s at Codex's work factor 2^19), a stat ~10 µs.
   * Per object, not per process: another object (another keyring, another
   * environment) checks the key itself.
   */
  private cached: CachedFile | undefined;
  readonly unlocked: AuthTransaction = {
    load: async () => {
      const value = (await this.readFile())?.contents.secrets.get(ENCRYPTED_AUTH_SECRET_KEY);
      return value === undefined ? undefined : parseAuthRecord(value, this.entrySource());
    },
    save: async (record) => {
      await this.writeEntry(serializeAuthRecordCompact(record));
      await this.file.unlocked.delete();
    },
    // Before a token is spent: the secrets folder (or CODEX_HOME, which will
    // hold it) takes the file, and an auth.json that a save removes can go.
    probeSave: async () => {
      const secrets = dirname(this.path);
      probeWritable(this.codexHome, existsSync(secrets) ? this.path : secrets);
      await this.file.unlocked.probeSave?.();
    },
    delete: async () => {
      const removedEntry = await this.writeEntry(undefined);
      // The direct keyring storage's delete removes auth.json too.
      const removedOther = await this.direct.unlocked.delete();
      return removedEntry || removedOther;
    },
  };

  constructor(
    readonly codexHome: string,
    readonly options: EncryptedStorageOptions = {},
  ) {
    super(authLock(codexHome));
    const factor = options.scryptWorkFactor;
    if (
      factor !== undefined &&
      !(Number.isInteger(factor) && factor >= 1 && factor <= MAX_SCRYPT_WORK_FACTOR)
    ) {
      throw new RangeError(`scryptWorkFactor must be an integer from 1 to ${MAX_SCRYPT_WORK_FACTOR}`);
    }
    this.path = join(codexHome, "secrets", ENCRYPTED_AUTH_FILE_NAME);
    this.file = new FileAuthStorage(codexHome);
    this.direct = new KeyringAuthStorage(codexHome, options);
  }

  describe(): string {
    return `${this.path}, encrypted with a key in ${KEYRING_BACKEND_NAME}, service "${SECRETS_KEYRING_SERVICE}", account "${secretsKeyringAccount(this.codexHome)}"`;
  }

  /** Where a bad record is reported from. */
  private entrySource(): string {
    return `${this.path} (entry ${ENCRYPTED_AUTH_SECRET_KEY})`;
  }

  private keyringItem(): string {
    return `service "${SECRETS_KEYRING_SERVICE}", account "${secretsKeyringAccount(this.codexHome)}"`;
  }

  /**
   * The decrypted file, or undefined when there is none. Uses the process's
   * copy when the file has not changed since it was decrypted.
   */
  private async readFile(): Promise<CachedFile | undefined> {
    const identity = this.identityNow();
    if (identity === undefined) return undefined;
    if (this.cached?.identity === identity) return this.cached;
    let fd: number;
    try {
      fd = openSync(this.path, fsConstants.O_RDONLY);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw ioError(this.path, "read", err);
    }
    let bytes: Buffer;
    let readIdentity: string;
    try {
      readIdentity = identityOf(fstatSync(fd, { bigint: true }));
      bytes = readFileSync(fd);
    } catch (err) {
      throw ioError(this.path, "read", err);
    } finally {
      closeSync(fd);
    }
    const passphrase = await this.keyring((k) => k.get(secretsKeyringAccount(this.codexHome)));
    if (passphrase === null) throw new SecretsKeyMissingError(this.path, this.keyringItem());
    const key = Buffer.from(passphrase).toString("utf8");
    const contents = await openSecretsFile(this.path, bytes, key);
    const entry: CachedFile = { identity: readIdentity, contents, keyDigest: digest(key) };
    this.cached = entry;
    return entry;
  }

  /**
   * Sets (`value`) or removes (undefined) the record's entry, rewriting the
   * file; true when the file changed. Nothing is written when the file
   * cannot be read, or exists without its key.
   */
  private async writeEntry(value: string | undefined): Promise<boolean> {
    let current = await this.readFile();
    if (value === undefined && !current?.contents.secrets.has(ENCRYPTED_AUTH_SECRET_KEY)) return false;
    const account = secretsKeyringAccount(this.codexHome);
    let key: string;
    const stored = await this.keyring((k) => k.get(account));
    if (stored !== null) {
      key = Buffer.from(stored).toString("utf8");
      // A key other than the one that opened the file must open it too
      // before the file is replaced (else its other entries would be lost).
      if (current && digest(key) !== current.keyDigest) {
        this.cached = undefined;
        current = await this.readFile();
      }
    } else {
      if (current || this.identityNow() !== undefined)
        throw new SecretsKeyMissingError(this.path, this.keyringItem());
      // First save: make the key as Codex does, before the file exists.
      key = generatePassphrase();
      await this.keyring((k) => k.set(account, key));
    }
    const secrets = new Map(current?.contents.secrets);
    if (value === undefined) secrets.delete(ENCRYPTED_AUTH_SECRET_KEY);
    else secrets.set(ENCRYPTED_AUTH_SECRET_KEY, value);
    const workFactor =
      current?.contents.workFactor ?? this.options.scryptWorkFactor ?? DEFAULT_SCRYPT_WORK_FACTOR;
    const ciphertext = await sealSecretsFile(secrets, key, workFactor);
    const identity = await withCommitLock(join(this.codexHome, "auth.json"), () => {
      ensureHome(this.codexHome);
      return writeAtomically(this.path, ciphertext);
    });
    this.cached = { identity, contents: { secrets, workFactor }, keyDigest: digest(key) };
    return true;
  }

  /** The file's identity now, or undefined when it does not exist. */
  private identityNow(): string | undefined {
    try {
      return identityOf(statSync(this.path, { bigint: true }));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw ioError(this.path, "read", err);
    }
  }

  private keyring<T>(work: (keyring: KeyringEntries) => Promise<T>): Promise<T> {
    return withKeyring(
      {
        timeoutMs: this.options.keyringTimeoutMs ?? DEFAULT_TIMEOUT_MS,
        env: this.options.env ?? process.env,
        codexHome: this.codexHome,
        service: SECRETS_KEYRING_SERVICE,
      },
      work,
    );
  }
}

function identityOf(stats: import("node:fs").BigIntStats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
}

function digest(key: string): string {
  return nodeCrypto().createHash("sha256").update(key).digest("hex");
}

/**
 * Codex's `write_file_atomically`: `.codex_auth.age.tmp-<pid>-<nanos>` in the
 * same folder, created exclusively (here 0600), written, fsynced, renamed
 * over the file. Returns the new file's identity.
 */
function writeAtomically(path: string, contents: Uint8Array): string {
  const dir = join(path, "..");
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw ioError(dir, "create", err);
  }
  const nanos = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
  const tmp = join(dir, `.${ENCRYPTED_AUTH_FILE_NAME}.tmp-${process.pid}-${nanos}`);
  let fd: number;
  try {
    fd = openSync(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
  } catch (err) {
    throw ioError(tmp, "create", err);
  }
  try {
    try {
      writeSync(fd, contents);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // best effort: the temp file is encrypted and never the only copy
    }
    throw ioError(path, "write", err);
  }
  return identityOf(statSync(path, { bigint: true }));
}
