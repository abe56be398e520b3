import { closeSync } from "node:fs";
import { lazyRequire } from "../lazy-require.js";

// fs-ext is a CommonJS native addon; load it on first use so commands that
// never write (`login status`) do not pay for it.
interface FsExt {
  flockSync(fd: number, flags: "exnb" | "un"): void;
}
let fsExt: FsExt | undefined;
function lib(): FsExt {
  fsExt ??= lazyRequire("fs-ext") as FsExt;
  return fsExt;
}

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
  try {
    lib().flockSync(fd, "exnb");
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
    lib().flockSync(fd, "un");
  } finally {
    closeSync(fd);
  }
}
