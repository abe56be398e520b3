/**
 * Noticing that another process changed a credential file: an OS watch
 * (`fs.watch`: inotify, FSEvents, ReadDirectoryChangesW) on the folders that
 * hold it, so a change is seen within milliseconds and nothing is polled.
 *
 * Why folders, not the file: every writer (Codex, codex-auth) replaces
 * auth.json by renaming a temp file over it, which gives auth.json a new
 * inode; a watch on the old inode would go quiet after the first save. A
 * watch on the folder sees every rename, create, delete and in-place write
 * of the name. A symlinked auth.json is followed: the folder of each link in
 * the chain and of the final target is watched, and the set is recomputed
 * after every event (the link may now point elsewhere). A folder that does
 * not exist yet (or was removed or replaced) is waited for through a watch
 * on its nearest existing ancestor, without creating anything.
 *
 * Where the OS cannot watch (inotify limits, a file system without change
 * notification), the file's `stat` is polled instead.
 */
import { type FSWatcher, lstatSync, readlinkSync, type Stats, statSync, watch } from "node:fs";
import { basename, dirname, isAbsolute, resolve } from "node:path";

/** A running watch; `close()` stops it for good (idempotent). */
export interface StorageWatch {
  close(): void;
}

/** Options for {@link watchCredentialFile}. */
export interface CredentialFileWatchOptions {
  /**
   * Keep the process alive while watching (default true, as `fs.watch`).
   * False: the watch never holds the event loop open by itself.
   */
  persistent?: boolean;
  /** Interval of the `stat` poll used where the OS cannot watch, in ms (default 1000). */
  fallbackPollMs?: number;
  /** Receives a one-line note when the OS watch fails and polling takes over (default: silent). */
  log?: (message: string) => void;
}

const DEFAULT_FALLBACK_POLL_MS = 1_000;
const MAX_SYMLINK_HOPS = 40;
/** Bound on re-syncing while folders keep appearing (each round watches at least one deeper folder). */
const MAX_SYNC_ROUNDS = 64;

/** One watched folder: the names in it that matter, and the folder's identity when the watch began. */
interface FolderWatch {
  readonly watcher: FSWatcher;
  readonly ino: number;
  readonly dev: number;
  names: Set<string>;
}

/**
 * Calls `onChange` (synchronously, from an fs event) whenever the file at
 * `path` may have changed: replaced, written, created, deleted, or its
 * symlink re-pointed. A call means "look again", not "it changed": the
 * caller compares contents. Several calls may follow one change.
 *
 * @param path the credential file (e.g. `CODEX_HOME/auth.json`), absolute or relative to the cwd.
 * @returns the watch; never throws (a failing OS watch falls back to polling).
 *
 * @example
 * const watch = watchCredentialFile(join(home, "auth.json"), () => void reload());
 * // …
 * watch.close();
 */
export function watchCredentialFile(
  path: string,
  onChange: () => void,
  options: CredentialFileWatchOptions = {},
): StorageWatch {
  return new CredentialFileWatch(resolve(path), onChange, options);
}

class CredentialFileWatch implements StorageWatch {
  private readonly folders = new Map<string, FolderWatch>();
  private poll: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly onChange: () => void,
    private readonly options: CredentialFileWatchOptions,
  ) {
    this.sync();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const folder of this.folders.values()) folder.watcher.close();
    this.folders.clear();
    if (this.poll) clearInterval(this.poll);
  }

  /**
   * Makes the set of folder watches match what the path currently resolves
   * through. Repeated until it stops changing: a missing folder created
   * between the look and the watch on its ancestor would otherwise go unseen.
   */
  private sync(): void {
    let wanted = this.wanted();
    for (let round = 0; round < MAX_SYNC_ROUNDS; round++) {
      if (this.closed || this.poll) return;
      this.apply(wanted);
      const again = this.wanted();
      if (sameKeys(again, wanted)) return;
      wanted = again;
    }
  }

  /** Folder → names in it to watch for. */
  private wanted(): Map<string, Set<string>> {
    const wanted = new Map<string, Set<string>>();
    for (const file of symlinkChain(this.path)) {
      const { folder, name } = nearestExisting(file);
      const names = wanted.get(folder) ?? new Set<string>();
      names.add(name);
      wanted.set(folder, names);
    }
    return wanted;
  }

  private apply(wanted: Map<string, Set<string>>): void {
    for (const [folder, watched] of this.folders) {
      if (wanted.has(folder) && sameFolder(watched, folder)) continue;
      watched.watcher.close();
      this.folders.delete(folder);
    }
    for (const [folder, names] of wanted) {
      const existing = this.folders.get(folder);
      if (existing) {
        existing.names = names;
        continue;
      }
      try {
        this.folders.set(folder, this.watchFolder(folder, names));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // Gone since it was looked at: the next round watches its ancestor.
        if (code === "ENOENT" || code === "ENOTDIR") continue;
        this.fallBackToPolling(err);
        return;
      }
    }
  }

  private watchFolder(folder: string, names: Set<string>): FolderWatch {
    const stats = statSync(folder);
    const watcher = watch(folder, { persistent: this.options.persistent ?? true }, (_event, filename) =>
      this.onEvent(folder, filename),
    );
    watcher.on("error", (err) => this.fallBackToPolling(err));
    return { watcher, ino: stats.ino, dev: stats.dev, names };
  }

  private onEvent(folder: string, filename: string | Buffer | null): void {
    if (this.closed) return;
    const watched = this.folders.get(folder);
    if (!watched) return;
    const name = filename === null ? undefined : String(filename);
    // The folder itself removed, renamed or replaced (Linux reports these
    // under the folder's own name; other systems may give no name at all).
    const selfEvent = name === undefined || name === basename(folder);
    if (selfEvent && !sameFolder(watched, folder)) {
      watched.watcher.close();
      this.folders.delete(folder);
      this.sync();
      this.onChange();
      return;
    }
    if (name !== undefined && !watched.names.has(name)) return;
    this.sync();
    this.onChange();
  }

  /** The OS cannot watch here: compare the file's `stat` on a timer instead. */
  private fallBackToPolling(err: unknown): void {
    if (this.closed || this.poll) return;
    for (const folder of this.folders.values()) folder.watcher.close();
    this.folders.clear();
    this.options.log?.(
      `cannot watch ${this.path} for changes (${(err as Error)?.message ?? String(err)}); checking it every ${this.options.fallbackPollMs ?? DEFAULT_FALLBACK_POLL_MS} ms instead`,
    );
    let last = signature(this.path);
    this.poll = setInterval(() => {
      const now = signature(this.path);
      if (now === last) return;
      last = now;
      this.onChange();
    }, this.options.fallbackPollMs ?? DEFAULT_FALLBACK_POLL_MS);
    if (this.options.persistent === false) this.poll.unref();
  }
}

function sameKeys(a: Map<string, unknown>, b: Map<string, unknown>): boolean {
  if (a.size !== b.size) return false;
  for (const key of a.keys()) if (!b.has(key)) return false;
  return true;
}

/** `path`, then each file its symlinks lead to (the last one is the real file or a dangling name). */
function symlinkChain(path: string): string[] {
  const chain = [path];
  let current = path;
  for (let hops = 0; hops < MAX_SYMLINK_HOPS; hops++) {
    let link: string;
    try {
      if (!lstatSync(current).isSymbolicLink()) break;
      link = readlinkSync(current);
    } catch {
      break;
    }
    current = isAbsolute(link) ? link : resolve(dirname(current), link);
    chain.push(current);
  }
  return chain;
}

/**
 * The folder to watch for `file`: its own folder when that exists, else the
 * nearest existing ancestor, watched for the name of the next missing step.
 */
function nearestExisting(file: string): { folder: string; name: string } {
  let name = basename(file);
  let folder = dirname(file);
  for (;;) {
    if (isFolder(folder)) return { folder, name };
    const parent = dirname(folder);
    if (parent === folder) return { folder, name };
    name = basename(folder);
    folder = parent;
  }
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Whether `folder` is still the folder a watch was started on (not removed, not replaced). */
function sameFolder(watched: FolderWatch, folder: string): boolean {
  let stats: Stats;
  try {
    stats = statSync(folder);
  } catch {
    return false;
  }
  return stats.ino === watched.ino && stats.dev === watched.dev;
}

/** What changes when a file is replaced, written or removed, as one comparable string. */
function signature(path: string): string {
  try {
    const s = statSync(path, { bigint: true });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch (err) {
    return `missing:${(err as NodeJS.ErrnoException).code ?? ""}`;
  }
}
