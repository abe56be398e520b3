/**
 * Codex's credential lock protocol, in one place: the outer `auth.lock`
 * held for a whole transaction, the inner `auth.json.lock` held around each
 * file commit, an in-process mutex in front of both, and the `flock(2)`
 * calls underneath. Backends and callers never take a lock themselves: they
 * run inside {@link AuthStorage.transaction}.
 */
import { closeSync, existsSync, constants as fsConstants, mkdirSync, openSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { CodexAuthError, LockTimeoutError, StorageIoError } from "../errors.js";
import { lazyRequire } from "../lazy-require.js";
import type { AuthRecord } from "../record/auth-record.js";

/**
 * The operations of one transaction. Valid only until the function passed to
 * {@link AuthStorage.transaction} settles; afterwards every call throws.
 */
export interface AuthTransaction {
  /** The stored record, or undefined when nothing is stored. @throws {CodexAuthError} */
  load(): Promise<AuthRecord | undefined>;
  /** Replaces the stored record. @throws {CodexAuthError} */
  save(record: AuthRecord): Promise<void>;
  /** Removes the stored record; true when something was removed. @throws {CodexAuthError} */
  delete(): Promise<boolean>;
  /**
   * Checks that a `save` in this transaction would land, without writing the
   * record (e.g. before a refresh token is spent). Optional for custom
   * storage. @throws {CodexAuthError} naming why it would not.
   */
  probeSave?(): Promise<void>;
}

/** Runs `fn` while holding a lock; what a backend's transactions are built on. */
export type TransactionLock = <T>(fn: () => Promise<T>) => Promise<T>;

// ---------------------------------------------------------------------------
// In-process mutex

// Which transactions the current async context is inside of. Created on the
// first transaction: `login status` never starts one and never loads it.
let heldKeys: import("node:async_hooks").AsyncLocalStorage<ReadonlySet<string>> | undefined;
function held(): import("node:async_hooks").AsyncLocalStorage<ReadonlySet<string>> {
  heldKeys ??= new (lazyRequire("node:async_hooks") as typeof import("node:async_hooks")).AsyncLocalStorage();
  return heldKeys;
}
const queues = new Map<string, Promise<void>>();

/**
 * An in-process mutex per `key`: transactions on one key run one at a time,
 * in call order. Starting a transaction on a key from inside a transaction on
 * the same key would wait for itself forever, so it throws instead.
 */
export function inProcessLock(key: string): TransactionLock {
  return async (fn) => {
    if (held().getStore()?.has(key)) {
      throw new Error(
        `a credential transaction on ${key} was started inside another one on the same storage; use the transaction's own load/save/delete`,
      );
    }
    const previous = queues.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => {
      release = r;
    });
    const tail = previous.then(() => mine);
    queues.set(key, tail);
    await previous;
    try {
      const keys = new Set(held().getStore() ?? []);
      keys.add(key);
      return await held().run(keys, fn);
    } finally {
      release();
      if (queues.get(key) === tail) queues.delete(key);
    }
  };
}

// ---------------------------------------------------------------------------
// Codex's outer lock: CODEX_HOME/auth.lock

/**
 * The lock Codex 0.169 takes around every credential write, file or keyring:
 * `flock(LOCK_EX)` on `CODEX_HOME/auth.lock` (created 0644, never deleted),
 * behind an in-process mutex. Holding it across read → refresh → write makes
 * a concurrent Codex write wait for our result.
 */
export function authLock(codexHome: string): TransactionLock {
  const path = join(resolve(codexHome), "auth.lock");
  const mutex = inProcessLock(path);
  return (fn) =>
    mutex(async () => {
      ensureHome(codexHome);
      lib(path);
      const fd = openOrThrow(path, fsConstants.O_RDWR | fsConstants.O_CREAT, 0o644);
      try {
        await flockExclusive(fd);
      } catch (err) {
        closeSync(fd);
        throw ioError(path, "lock", err);
      }
      try {
        return await fn();
      } finally {
        unlockAndClose(fd);
      }
    });
}

/** A transaction's operations, usable only while `fn` runs. */
export async function runTransaction<T>(
  lock: TransactionLock,
  ops: AuthTransaction,
  fn: (tx: AuthTransaction) => Promise<T>,
): Promise<T> {
  return lock(async () => {
    let open = true;
    const guard =
      <A extends unknown[], R>(op: (...args: A) => Promise<R>) =>
      (...args: A): Promise<R> => {
        if (!open) return Promise.reject(new Error("the credential transaction has ended"));
        return op(...args);
      };
    const tx: AuthTransaction = {
      load: guard(() => ops.load()),
      save: guard((record: AuthRecord) => ops.save(record)),
      delete: guard(() => ops.delete()),
      probeSave: guard(async () => ops.probeSave?.()),
    };
    try {
      return await fn(tx);
    } finally {
      open = false;
    }
  });
}

// ---------------------------------------------------------------------------
// Codex's inner lock: <auth.json>.lock around each commit

/** How long to retry the non-blocking lock on `auth.json.lock` (Codex: about 5 s). */
const COMMIT_LOCK_TIMEOUT_MS = 5_000;
const COMMIT_LOCK_RETRY_MS = 25;

/**
 * Opens (creating it, as Codex does, 0600) the commit lock of `target`
 * without taking it: a lock file left by another user (`sudo codex login`)
 * fails here, before a token is spent, rather than at the save.
 *
 * @throws {StorageIoError} naming the lock file and its mode.
 */
export function probeCommitLock(target: string): void {
  closeSync(openOrThrow(`${target}.lock`, fsConstants.O_RDWR | fsConstants.O_CREAT, 0o600));
}

/**
 * Runs `write` holding Codex's inner commit lock, `<target>.lock` (created
 * 0600, kept): `LOCK_EX|LOCK_NB` retried every 25 ms for about 5 s.
 *
 * @throws {LockTimeoutError} when another process holds it longer.
 */
export async function withCommitLock<T>(target: string, write: () => T): Promise<T> {
  const lockPath = `${target}.lock`;
  lib(lockPath);
  const fd = openOrThrow(lockPath, fsConstants.O_RDWR | fsConstants.O_CREAT, 0o600);
  try {
    const deadline = Date.now() + COMMIT_LOCK_TIMEOUT_MS;
    while (!flockTryExclusive(fd)) {
      if (Date.now() >= deadline) throw new LockTimeoutError(lockPath, COMMIT_LOCK_TIMEOUT_MS);
      await new Promise((r) => setTimeout(r, COMMIT_LOCK_RETRY_MS));
    }
    return write();
  } finally {
    unlockAndClose(fd);
  }
}

// ---------------------------------------------------------------------------
// flock(2)

// The flock binding: fs-ext-extra-prebuilt, a fork of fs-ext that ships
// prebuilt binaries (Node 20-25 and Electron; Linux, macOS, Windows; x64 and
// arm64) and needs no install script or compiler. A CommonJS native addon,
// loaded on first use so that commands that never write (`login status`) do
// not pay for it.
interface FlockBinding {
  flockSync(fd: number, flags: "exnb" | "un"): number;
  lockFileExSync(
    fd: number,
    flags: number,
    offsetLow: number,
    offsetHigh: number,
    lengthLow: number,
    lengthHigh: number,
  ): number;
  unlockFileExSync(
    fd: number,
    offsetLow: number,
    offsetHigh: number,
    lengthLow: number,
    lengthHigh: number,
  ): number;
  constants: { LOCKFILE_EXCLUSIVE_LOCK: number; LOCKFILE_FAIL_IMMEDIATELY: number };
}
let binding: FlockBinding | undefined;
/**
 * The binding, loaded on first use. `lockPath` names the lock in the error
 * when no binary of the package loads here (an Electron version it ships no
 * binary for, a musl libc, an unusual architecture).
 *
 * @throws {StorageIoError} naming the platform and runtime.
 */
function lib(lockPath = "the credential lock"): FlockBinding {
  if (binding) return binding;
  try {
    binding = lazyRequire("fs-ext-extra-prebuilt") as FlockBinding;
  } catch (err) {
    const runtime = process.versions.electron
      ? `Electron ${process.versions.electron}`
      : `Node ${process.versions.node}`;
    throw new StorageIoError(
      lockPath,
      `cannot lock ${lockPath}: the file-lock binding fs-ext-extra-prebuilt has no binary that loads on ${process.platform}-${process.arch} with ${runtime} (${(err as Error).message ?? String(err)}). Credentials cannot be written safely next to Codex without it; run under a Node or Electron version the package ships a binary for.`,
      { cause: err },
    );
  }
  return binding;
}

/**
 * Windows: Codex locks with `LockFileEx` on the whole file, offset 0 and
 * length 2^64-1 (what Rust's `File::lock`/`try_lock` and the fs2 crate do). We lock the same range: Windows
 * byte-range locks exclude each other only where ranges overlap, and these
 * two are identical (the binding's own `flock` emulation covers only the
 * first 0xffff0000 bytes, which overlaps too, but the same range is the
 * unmistakable choice). Untested here: no Windows machine runs the suite.
 */
const WINDOWS = process.platform === "win32";
const WHOLE_FILE = 0xffff_ffff;

/**
 * `flock(fd, LOCK_EX)` that waits without tying up a thread: it retries
 * `LOCK_EX|LOCK_NB` with a short backoff (1 ms doubling to 50 ms).
 *
 * Why not a blocking flock on libuv's thread pool: the pool has four threads,
 * so four waiters (say, saves queued behind a Codex process holding
 * auth.lock) starve every fs, dns and crypto call of the process — a lock
 * holder in the same process that then awaits one of them deadlocks — and
 * `process.exit()` hangs joining threads stuck in flock(2).
 */
export async function flockExclusive(fd: number): Promise<void> {
  for (let delay = 1; !flockTryExclusive(fd); delay = Math.min(delay * 2, 50)) {
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/** `flock(fd, LOCK_EX|LOCK_NB)`: true when taken, false when another holder has it. */
export function flockTryExclusive(fd: number): boolean {
  const l = lib();
  try {
    if (WINDOWS) {
      const { LOCKFILE_EXCLUSIVE_LOCK, LOCKFILE_FAIL_IMMEDIATELY } = l.constants;
      l.lockFileExSync(fd, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 0, WHOLE_FILE, WHOLE_FILE);
    } else {
      l.flockSync(fd, "exnb");
    }
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EAGAIN" || code === "EWOULDBLOCK") return false;
    throw err;
  }
}

/** Releases a lock and closes its descriptor (closing alone would release it too). */
export function unlockAndClose(fd: number): void {
  try {
    if (WINDOWS) lib().unlockFileExSync(fd, 0, 0, WHOLE_FILE, WHOLE_FILE);
    else lib().flockSync(fd, "un");
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------------------
// Shared file-system helpers

/** Creates CODEX_HOME (and parents) with mode 0700 when missing. */
export function ensureHome(codexHome: string): void {
  try {
    mkdirSync(codexHome, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw ioError(codexHome, "create", err);
  }
}

export function openOrThrow(path: string, flags: number, mode: number): number {
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
        ? `permission denied on ${path}. ${permissionAdvice(path, action)}`
        : code === "EROFS"
          ? `${path} is on a read-only file system or mount, so credentials cannot be stored there. Mount it read-write, or set CODEX_HOME to a folder you can write`
          : code === "ENOTDIR"
            ? `a component of ${path} is not a directory`
            : code === "ENOSPC"
              ? `no space left on the device holding ${path}`
              : `cannot ${action} ${path}: ${(err as Error).message ?? String(err)}`;
  return new StorageIoError(path, hint, { cause: err });
}

/**
 * What to check for the file in question, with the mode Codex and we
 * create it with: the outer lock 0644, the commit lock and auth.json 0600,
 * CODEX_HOME 0700 (a temp file that cannot be created is its folder's
 * problem).
 */
function permissionAdvice(path: string, action: string): string {
  const name = basename(path);
  // A file that cannot be created: its folder is what refuses.
  if (action === "open" && !existsSync(path)) {
    return `${name} cannot be created there: check that the folder ${dirname(path)} is yours and that you can write to it (CODEX_HOME is created with mode 0700)`;
  }
  const yours = "Check that you own it (a lock file left by `sudo codex login` belongs to root)";
  if (name === "auth.lock") {
    return `${yours} and that you can write to it: Codex's lock file is created with mode 0644 (rw-r--r--), writable by its owner only, and is kept between runs`;
  }
  if (name.endsWith(".lock")) {
    return `${yours} and that it is readable and writable by you: Codex's commit lock is created with mode 0600 (rw-------) and is kept between runs`;
  }
  if (name.startsWith(".auth-") || action === "create" || action === "write to") {
    const dir = name.startsWith(".auth-") ? dirname(path) : path;
    return `Check that the folder ${dir} exists, that you own it and that you can write to it (CODEX_HOME is created with mode 0700)`;
  }
  return "Check that you own it and that it is readable and writable by you (mode 0600)";
}
