import { closeSync } from "node:fs";
import { createRequire } from "node:module";

// fs-ext is a CommonJS native addon; load it on first use so commands that
// never write (`login status`) do not pay for it.
interface FsExt {
  flock(fd: number, flags: "ex" | "exnb" | "un", cb: (err: NodeJS.ErrnoException | null) => void): void;
  flockSync(fd: number, flags: "ex" | "exnb" | "un"): void;
}
let fsExt: FsExt | undefined;
function lib(): FsExt {
  fsExt ??= createRequire(import.meta.url)("fs-ext") as FsExt;
  return fsExt;
}

/** Blocking `flock(fd, LOCK_EX)`, run on libuv's thread pool so the event loop keeps running. */
export function flockExclusive(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    lib().flock(fd, "ex", (err) => (err ? reject(err) : resolve()));
  });
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
