import {
  closeSync,
  constants as fsConstants,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readlinkSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { CodexAuthError, StorageIoError } from "../errors.js";
import { nodeCrypto } from "../lazy-require.js";
import { type AuthRecord, parseAuthRecord, serializeAuthRecord } from "../record/auth-record.js";
import { flockExclusive, flockTryExclusive, unlockAndClose } from "./flock.js";
import type { AuthStorage, WriteOptions } from "./storage.js";

/** How long to retry the non-blocking lock on `auth.json.lock` (Codex: about 5 s). */
const COMMIT_LOCK_TIMEOUT_MS = 5_000;
const COMMIT_LOCK_RETRY_MS = 25;

/** A held `CODEX_HOME/auth.lock`. */
export interface AuthLock {
  release(): void;
}

/**
 * Takes Codex's outer credential lock: a blocking `flock(LOCK_EX)` on
 * `CODEX_HOME/auth.lock` (created 0644 and never deleted). Codex 0.169 takes
 * the same lock around every write, so holding it across read → refresh →
 * write makes a concurrent Codex write wait for our result.
 */
export async function acquireAuthLock(codexHome: string): Promise<AuthLock> {
  ensureHome(codexHome);
  const path = join(codexHome, "auth.lock");
  const fd = openOrThrow(path, fsConstants.O_RDWR | fsConstants.O_CREAT, 0o644);
  try {
    await flockExclusive(fd);
  } catch (err) {
    closeSync(fd);
    throw ioError(path, "lock", err);
  }
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      unlockAndClose(fd);
    },
  };
}

/** Creates CODEX_HOME (and parents) with mode 0700 when missing. */
export function ensureHome(codexHome: string): void {
  try {
    mkdirSync(codexHome, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw ioError(codexHome, "create", err);
  }
}

/**
 * `CODEX_HOME/auth.json`, written exactly as Codex 0.169 writes it so that
 * both programs serialize: outer `auth.lock` (blocking), inner
 * `auth.json.lock` (non-blocking, retried ~5 s), temp file + fsync + rename,
 * mode 0600, lock files kept. A symlinked auth.json keeps pointing where it
 * pointed: its target is replaced.
 */
export class FileAuthStorage implements AuthStorage {
  readonly kind = "file" as const;
  readonly path: string;

  constructor(readonly codexHome: string) {
    this.path = join(codexHome, "auth.json");
  }

  describe(): string {
    return this.path;
  }

  /** Reads auth.json without taking locks (as Codex's `login status` does). */
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

  async load(): Promise<AuthRecord | undefined> {
    return this.loadSync();
  }

  async save(record: AuthRecord, options: WriteOptions = {}): Promise<void> {
    await this.commit(options, (target) => {
      checkWritable(target);
      writeAtomically(target, serializeAuthRecord(record));
      return true;
    });
  }

  async delete(options: WriteOptions = {}): Promise<boolean> {
    return this.commit(options, () => {
      try {
        unlinkSync(this.path);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
        throw ioError(this.path, "remove", err);
      }
    });
  }

  /** Runs `write(target)` under both of Codex's locks. */
  private async commit<T>(options: WriteOptions, write: (target: string) => T): Promise<T> {
    ensureHome(this.codexHome);
    const outer = options.authLockHeld ? undefined : await acquireAuthLock(this.codexHome);
    try {
      const target = resolveSymlinkTarget(this.path);
      const lockPath = `${target}.lock`;
      const fd = openOrThrow(lockPath, fsConstants.O_RDWR | fsConstants.O_CREAT, 0o600);
      try {
        await takeCommitLock(fd, lockPath);
        return write(target);
      } finally {
        unlockAndClose(fd);
      }
    } finally {
      outer?.release();
    }
  }
}

async function takeCommitLock(fd: number, lockPath: string): Promise<void> {
  const deadline = Date.now() + COMMIT_LOCK_TIMEOUT_MS;
  for (;;) {
    if (flockTryExclusive(fd)) return;
    if (Date.now() >= deadline) {
      throw new CodexAuthError(
        "ERR_LOCK_TIMEOUT",
        `credential commit lock timed out: another process held ${lockPath} for more than ${COMMIT_LOCK_TIMEOUT_MS / 1000} s. Try again; if it persists, look for a stuck codex or codex-auth process.`,
      );
    }
    await new Promise((r) => setTimeout(r, COMMIT_LOCK_RETRY_MS));
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
    throw new CodexAuthError(
      "ERR_AUTH_FILE_READ_ONLY",
      `credential file is read-only: ${target} has no owner-write permission, so it was left unchanged. Run \`chmod 600 ${target}\` to allow sign-in to replace it.`,
    );
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

function openOrThrow(path: string, flags: number, mode: number): number {
  try {
    return openSync(path, flags, mode);
  } catch (err) {
    throw ioError(path, "open", err);
  }
}

/** Turns an OS error into a message that names the file and what to do. */
export function ioError(path: string, action: string, err: unknown): CodexAuthError {
  if (err instanceof CodexAuthError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  const hint =
    code === "EISDIR"
      ? `${path} is a directory, not a file. Move it out of the way, then sign in again`
      : code === "EACCES" || code === "EPERM"
        ? `permission denied on ${path}. Check that you own it and that it is readable and writable by you (mode 0600)`
        : code === "ENOTDIR"
          ? `a component of ${path} is not a directory`
          : code === "ENOSPC"
            ? `no space left on the device holding ${path}`
            : `cannot ${action} ${path}: ${(err as Error).message ?? String(err)}`;
  return new StorageIoError(path, hint, { cause: err });
}
