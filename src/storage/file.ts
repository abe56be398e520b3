import {
  closeSync,
  constants as fsConstants,
  fsyncSync,
  lstatSync,
  openSync,
  readFileSync,
  readlinkSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { AuthFileReadOnlyError, StorageIoError } from "../errors.js";
import { nodeCrypto } from "../lazy-require.js";
import { type AuthRecord, parseAuthRecord, serializeAuthRecord } from "../record/auth-record.js";
import { LockedAuthStorage } from "./storage.js";
import { type AuthTransaction, authLock, ensureHome, ioError, withCommitLock } from "./transaction.js";

/**
 * `CODEX_HOME/auth.json`, written exactly as Codex 0.169 writes it so that
 * both programs serialize: outer `auth.lock` for the whole transaction,
 * inner `auth.json.lock` (non-blocking, retried ~5 s) around each commit,
 * temp file + fsync + rename, mode 0600, lock files kept. A symlinked
 * auth.json keeps pointing where it pointed: its target is replaced.
 * Reads take no lock (as Codex's `login status` does).
 */
export class FileAuthStorage extends LockedAuthStorage {
  readonly kind = "file" as const;
  readonly path: string;
  readonly unlocked: AuthTransaction = {
    load: async () => this.loadSync(),
    save: (record) =>
      this.commit((target) => {
        checkWritable(target);
        writeAtomically(target, serializeAuthRecord(record));
      }),
    delete: () =>
      this.commit(() => {
        try {
          unlinkSync(this.path);
          return true;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
          throw ioError(this.path, "remove", err);
        }
      }),
  };

  constructor(readonly codexHome: string) {
    super(authLock(codexHome));
    this.path = join(codexHome, "auth.json");
  }

  describe(): string {
    return this.path;
  }

  /** Reads auth.json without taking locks. */
  loadSync(): AuthRecord | undefined {
    const text = this.readTextSync();
    return text === undefined ? undefined : parseAuthRecord(text, this.path);
  }

  /** The raw bytes of auth.json, or undefined when it does not exist. */
  readTextSync(): string | undefined {
    try {
      return readFileSync(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw ioError(this.path, "read", err);
    }
  }

  /** Runs `write(target)` under the inner commit lock (the caller's transaction holds auth.lock). */
  private async commit<T>(write: (target: string) => T): Promise<T> {
    ensureHome(this.codexHome);
    const target = resolveSymlinkTarget(this.path);
    return withCommitLock(target, () => write(target));
  }
}

/** The file a (possibly symlinked) path finally names; the path itself when it is not a link. */
function resolveSymlinkTarget(path: string): string {
  let current = path;
  for (let hops = 0; hops < 40; hops++) {
    let isLink: boolean;
    try {
      isLink = lstatSync(current).isSymbolicLink();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return current;
      throw ioError(current, "inspect", err);
    }
    if (!isLink) return current;
    const link = readlinkSync(current);
    current = isAbsolute(link) ? link : resolve(dirname(current), link);
  }
  throw new StorageIoError(path, `${path}: too many levels of symbolic links`);
}

/** Codex refuses to replace an existing credential file that has no owner-write bit; so do we. */
function checkWritable(target: string): void {
  let mode: number;
  try {
    mode = statSync(target).mode;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw ioError(target, "inspect", err);
  }
  if ((mode & 0o200) === 0) {
    throw new AuthFileReadOnlyError(target);
  }
}

function writeAtomically(target: string, content: string): void {
  const dir = dirname(target);
  let tmp = "";
  let fd = -1;
  for (let attempt = 0; fd < 0; attempt++) {
    tmp = join(dir, `.auth-${nodeCrypto().randomBytes(6).toString("base64url").slice(0, 6)}`);
    try {
      fd = openSync(tmp, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 20) throw ioError(tmp, "create", err);
    }
  }
  try {
    try {
      writeSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // best effort: the temp file never holds the only copy of anything
    }
    throw ioError(target, "write", err);
  }
}
