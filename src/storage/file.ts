import {
  accessSync,
  closeSync,
  constants as fsConstants,
  fsyncSync,
  ftruncateSync,
  lstatSync,
  openSync,
  readFileSync,
  readlinkSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { AuthFileReadOnlyError, StorageIoError } from "../errors.js";
import { nodeCrypto } from "../lazy-require.js";
import { type AuthRecord, parseAuthRecord, serializeAuthRecord } from "../record/auth-record.js";
import { LockedAuthStorage } from "./storage.js";
import {
  type AuthTransaction,
  authLock,
  ensureHome,
  ioError,
  probeCommitLock,
  withCommitLock,
} from "./transaction.js";

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
    probeSave: async () => probeWritable(this.codexHome, this.path),
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

  /**
   * Reads auth.json without taking locks. When it is torn by a crash during
   * an in-place write (see {@link probeWritable}), the journal written before
   * the write is read instead.
   */
  loadSync(): AuthRecord | undefined {
    const text = this.readTextSync();
    if (text === undefined) return undefined;
    try {
      return parseAuthRecord(text, this.path);
    } catch (err) {
      const journal = this.readJournal();
      if (journal === undefined) throw err;
      return journal;
    }
  }

  private readJournal(): AuthRecord | undefined {
    let text: string;
    try {
      text = readFileSync(pendingPath(resolveSymlinkTarget(this.path)), "utf8");
    } catch {
      return undefined;
    }
    try {
      return parseAuthRecord(text, this.path);
    } catch {
      return undefined;
    }
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
export function resolveSymlinkTarget(path: string): string {
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

/**
 * The journal of an in-place write: the complete new record, written and
 * synced before auth.json is overwritten in place, removed after. A load
 * that finds auth.json torn (a crash mid-write) reads it instead.
 */
function pendingPath(target: string): string {
  return join(dirname(target), `.${basename(target)}.pending`);
}

/**
 * Replaces `target` with `content` crash-safely: temp file + fsync + rename,
 * as Codex does. When the rename cannot replace the file because auth.json
 * is a mount point (a file bind-mounted into a container: EBUSY), the file is
 * overwritten in place instead, journaled through {@link pendingPath}: the
 * synced temp file is renamed to the journal first, then auth.json is
 * rewritten, synced and the journal removed.
 */
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
    try {
      renameSync(tmp, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EBUSY") throw err;
      renameSync(tmp, pendingPath(target));
      writeInPlace(target, content);
      unlinkSync(pendingPath(target));
    }
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // best effort: the temp file never holds the only copy of anything
    }
    throw ioError(target, "write", err);
  }
}

function writeInPlace(target: string, content: string): void {
  const fd = openSync(target, fsConstants.O_WRONLY);
  try {
    const bytes = Buffer.from(content, "utf8");
    writeSync(fd, bytes, 0, bytes.length, 0);
    ftruncateSync(fd, bytes.length);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Checks, before a refresh token is spent, that a save will be able to land:
 * CODEX_HOME can take a temp file, the commit lock `auth.json.lock` can be
 * opened (not left by another user), and an existing auth.json has its
 * owner-write bit and can be opened for writing (a read-only bind mount or
 * file system fails here, with EROFS, not after the rotation).
 */
export function probeWritable(codexHome: string, path: string): void {
  ensureHome(codexHome);
  const target = resolveSymlinkTarget(path);
  checkWritable(target);
  const dir = dirname(target);
  try {
    accessSync(dir, fsConstants.W_OK);
  } catch (err) {
    throw ioError(dir, "write to", err);
  }
  probeCommitLock(target);
  let fd: number;
  try {
    fd = openSync(target, fsConstants.O_WRONLY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw ioError(target, "open for writing", err);
  }
  closeSync(fd);
}
