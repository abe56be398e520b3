/**
 * FileAuthStorage against the real file system, real flock(2) and real
 * foreign lock holders (util-linux `flock`), reproducing what Codex 0.169 was
 * observed doing (reference §2.2, §2.6, §2.7, §2.10).
 */

import { pbkdf2 } from "node:crypto";
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { CodexAuthError, StorageIoError } from "../../src/errors.js";
import { type AuthRecord, serializeAuthRecord } from "../../src/record/auth-record.js";
import { FileAuthStorage } from "../../src/storage/file.js";
import type { AuthTransaction } from "../../src/storage/transaction.js";
import {
  buildSaveLoop,
  hasOpen,
  holdFlock,
  LineChild,
  SaveLoopServer,
  waitUntilHasOpen,
  waitUntilWaitingForFlock,
} from "../fixtures/child.js";
import { makeCodexHome, removeCodexHome, requireOptional } from "../support/env.js";
import { fakeChatgptRecord } from "../support/jwt.js";

const API_KEY = "sk-test-1234567890ABCDEFGH";
const apiKeyRecord = (key = API_KEY): AuthRecord => ({ auth_mode: "apikey", OPENAI_API_KEY: key });
const chatgptRecord = (): AuthRecord => ({
  auth_mode: "chatgpt",
  ...(fakeChatgptRecord() as Omit<AuthRecord, "auth_mode">),
});

const homes: string[] = [];
function freshHome(): string {
  const home = makeCodexHome("file-storage");
  homes.push(home);
  return home;
}
afterEach(() => {
  for (const home of homes.splice(0)) {
    chmodRecursive(home);
    removeCodexHome(home);
  }
});

/** Undo chmod 0400/0000 so cleanup works. */
function chmodRecursive(dir: string): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.isSymbolicLink()) continue;
    chmodSync(p, st.isDirectory() ? 0o700 : 0o600);
    if (st.isDirectory()) chmodRecursive(p);
  }
}

const mode = (path: string) => statSync(path).mode & 0o777;

const tempFiles = (dir: string) => readdirSync(dir).filter((n) => n.startsWith(".auth-"));
/** Everything observable about a path: type, mode, inode, bytes. */
function snapshot(path: string) {
  const st = lstatSync(path);
  return {
    type: st.isDirectory() ? "dir" : st.isSymbolicLink() ? "link" : "file",
    mode: st.mode & 0o7777,
    ino: st.ino,
    bytes: st.isFile() ? readFileSync(path).toString("base64") : undefined,
    entries: st.isDirectory() ? readdirSync(path).sort() : undefined,
  };
}

async function rejection(promise: Promise<unknown>): Promise<CodexAuthError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(CodexAuthError);
    return err as CodexAuthError;
  }
  throw new Error("expected a rejection");
}

describe("files and modes (reference §2.2, §2.6)", () => {
  it("creates CODEX_HOME 0700, auth.json 0600 with Codex's bytes, lock files auth.lock 0644 and auth.json.lock 0600", async () => {
    const home = join(freshHome(), "nested", "codex-home");
    const storage = new FileAuthStorage(home);
    await storage.save(apiKeyRecord());
    expect(mode(home)).toBe(0o700);
    expect(mode(join(home, "auth.json"))).toBe(0o600);
    expect(readFileSync(join(home, "auth.json"), "utf8")).toBe(
      `{\n  "auth_mode": "apikey",\n  "OPENAI_API_KEY": "${API_KEY}"\n}`,
    );
    expect(mode(join(home, "auth.lock"))).toBe(0o644);
    expect(mode(join(home, "auth.json.lock"))).toBe(0o600);
    expect(tempFiles(home)).toEqual([]);
    expect(await storage.load()).toEqual(apiKeyRecord());
  });

  it("keeps both (empty) lock files after save and after delete, and deletes only auth.json", async () => {
    const home = freshHome();
    const storage = new FileAuthStorage(home);
    await storage.save(chatgptRecord());
    await storage.save(apiKeyRecord());
    expect(readdirSync(home).sort()).toEqual(["auth.json", "auth.json.lock", "auth.lock"]);
    expect(await storage.delete()).toBe(true);
    expect(readdirSync(home).sort()).toEqual(["auth.json.lock", "auth.lock"]);
    expect(statSync(join(home, "auth.lock")).size).toBe(0);
    expect(statSync(join(home, "auth.json.lock")).size).toBe(0);
    expect(await storage.delete()).toBe(false);
    expect(await storage.load()).toBeUndefined();
  });

  it("replaces a pre-existing 0644 auth.json with a new 0600 file (new inode)", async () => {
    const home = freshHome();
    const path = join(home, "auth.json");
    writeFileSync(path, serializeAuthRecord(apiKeyRecord("sk-old-0000000000")), { mode: 0o644 });
    chmodSync(path, 0o644);
    const before = statSync(path).ino;
    await new FileAuthStorage(home).save(apiKeyRecord());
    expect(mode(path)).toBe(0o600);
    expect(statSync(path).ino).not.toBe(before);
    expect(readFileSync(path, "utf8")).toContain(API_KEY);
    expect(tempFiles(home)).toEqual([]);
  });

  it("loadSync reads without taking or creating locks (as `codex login status`)", () => {
    const home = freshHome();
    writeFileSync(join(home, "auth.json"), serializeAuthRecord(apiKeyRecord()), { mode: 0o600 });
    expect(new FileAuthStorage(home).loadSync()).toEqual(apiKeyRecord());
    expect(readdirSync(home)).toEqual(["auth.json"]);
  });
});

describe("symlinked auth.json (reference §2.10)", () => {
  it("replaces the target, keeps the link, and puts the commit lock next to the target", async () => {
    const home = freshHome();
    writeFileSync(join(home, "real.json"), serializeAuthRecord(apiKeyRecord("sk-sym-1234567890ABCDEF")), {
      mode: 0o644,
    });
    symlinkSync("real.json", join(home, "auth.json"));
    const storage = new FileAuthStorage(home);
    expect(await storage.load()).toEqual(apiKeyRecord("sk-sym-1234567890ABCDEF"));

    await storage.save(apiKeyRecord());
    expect(lstatSync(join(home, "auth.json")).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(home, "auth.json"))).toBe("real.json");
    expect(readFileSync(join(home, "real.json"), "utf8")).toBe(serializeAuthRecord(apiKeyRecord()));
    expect(mode(join(home, "real.json"))).toBe(0o600);
    // Codex's listing: auth.json (link), auth.lock, real.json, real.json.lock — no auth.json.lock
    expect(readdirSync(home).sort()).toEqual(["auth.json", "auth.lock", "real.json", "real.json.lock"]);
    expect(mode(join(home, "real.json.lock"))).toBe(0o600);
  });

  it("follows an absolute link into another directory: temp file and commit lock live there", async () => {
    const home = freshHome();
    const elsewhere = join(freshHome(), "vault");
    mkdirSync(elsewhere, { mode: 0o700 });
    writeFileSync(join(elsewhere, "codex.json"), "{}", { mode: 0o600 });
    symlinkSync(join(elsewhere, "codex.json"), join(home, "auth.json"));
    await new FileAuthStorage(home).save(chatgptRecord());
    expect(readlinkSync(join(home, "auth.json"))).toBe(join(elsewhere, "codex.json"));
    expect(JSON.parse(readFileSync(join(elsewhere, "codex.json"), "utf8")).auth_mode).toBe("chatgpt");
    expect(readdirSync(elsewhere).sort()).toEqual(["codex.json", "codex.json.lock"]);
    expect(readdirSync(home).sort()).toEqual(["auth.json", "auth.lock"]);
  });
});

describe("files that must not be replaced (reference §2.10)", () => {
  it("read-only auth.json (0400) → ERR_AUTH_FILE_READ_ONLY, file byte for byte unchanged", async () => {
    const home = freshHome();
    const path = join(home, "auth.json");
    writeFileSync(path, serializeAuthRecord(apiKeyRecord("sk-file-1234567890ABCDEFGH")), { mode: 0o400 });
    chmodSync(path, 0o400);
    const before = snapshot(path);
    const err = await rejection(new FileAuthStorage(home).save(apiKeyRecord()));
    expect(err.code).toBe("ERR_AUTH_FILE_READ_ONLY");
    expect(err.message).toContain("credential file is read-only");
    expect(err.message).toContain(path);
    expect(err.message).not.toContain(API_KEY);
    expect(err.message).not.toContain("sk-file-1234567890ABCDEFGH");
    expect(snapshot(path)).toEqual(before);
    expect(tempFiles(home)).toEqual([]);
    // still readable, as Codex's `login status` showed
    expect(new FileAuthStorage(home).loadSync()).toEqual(apiKeyRecord("sk-file-1234567890ABCDEFGH"));
  });

  it("auth.json is a directory → typed error naming the path for load, save and delete; nothing changed", async () => {
    const home = freshHome();
    const path = join(home, "auth.json");
    mkdirSync(path, { mode: 0o755 });
    writeFileSync(join(path, "inside.txt"), "keep me");
    const before = snapshot(path);
    const storage = new FileAuthStorage(home);
    for (const attempt of [storage.load(), storage.save(apiKeyRecord()), storage.delete()]) {
      const err = await rejection(attempt);
      expect(err).toBeInstanceOf(StorageIoError);
      expect(err.code).toBe("ERR_AUTH_FILE_IO");
      expect((err as StorageIoError).path).toBe(path);
      expect(err.message).toContain(path);
      expect(err.message).toMatch(/is a directory/);
      expect(err.message).not.toContain(API_KEY);
    }
    expect(snapshot(path)).toEqual(before);
    expect(readFileSync(join(path, "inside.txt"), "utf8")).toBe("keep me");
    expect(tempFiles(home)).toEqual([]);
  });
});

const IS_ROOT = process.getuid?.() === 0;

describe.skipIf(
  !requireOptional(IS_ROOT, "the unprivileged-user storage tests start as root to drop to uid 65534"),
)("as an unprivileged user (uid 65534, in a child that drops root)", () => {
  let bundle: Awaited<ReturnType<typeof buildSaveLoop>>;
  let home: string;
  let child: SaveLoopServer;
  beforeAll(async () => {
    bundle = await buildSaveLoop();
  });
  afterAll(() => bundle?.remove());
  afterEach(async () => {
    await child?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  // The home must be reachable by nobody, so it lives in the system temp dir (no codex runs here).
  async function asNobody(): Promise<string> {
    home = mkdtempSync(join(tmpdir(), "codex-auth-nobody-"));
    chmodSync(home, 0o700);
    chownSync(home, 65534, 65534);
    child = new SaveLoopServer(bundle.path, home);
    const answer = await child.request({ op: "become", uid: 65534, gid: 65534 });
    expect(answer).toMatchObject({ ok: true, uid: 65534 });
    return home;
  }

  it("unreadable own file (0000): load → permission error naming the path; save → read-only; file unchanged", async () => {
    const dir = await asNobody();
    const path = join(dir, "auth.json");
    writeFileSync(path, serializeAuthRecord(apiKeyRecord("sk-mine-1234567890ABCDEFGH")));
    chownSync(path, 65534, 65534);
    chmodSync(path, 0o000);
    const before = snapshot(path);

    const load = await child.request({ op: "load" });
    expect(load).toMatchObject({ ok: false, code: "ERR_AUTH_FILE_IO" });
    expect(load.message).toContain(path);
    expect(load.message).toMatch(/permission denied/i);

    // Codex 0.169: "credential file is read-only" for the user's own mode-000 file
    const save = await child.request({ op: "save", record: apiKeyRecord() });
    expect(save).toMatchObject({ ok: false, code: "ERR_AUTH_FILE_READ_ONLY" });
    expect(save.message).not.toContain(API_KEY);
    expect(snapshot(path)).toEqual(before);
    expect(tempFiles(dir)).toEqual([]);
  });

  it("a root-owned 0600 file is unreadable: load → permission error, nothing changed", async () => {
    const dir = await asNobody();
    const path = join(dir, "auth.json");
    writeFileSync(path, serializeAuthRecord(apiKeyRecord("sk-root-1234567890ABCDEFGH")), { mode: 0o600 });
    const before = snapshot(path);
    const load = await child.request({ op: "load" });
    expect(load).toMatchObject({ ok: false, code: "ERR_AUTH_FILE_IO" });
    expect(load.message).toContain(path);
    expect(load.message).not.toContain("sk-root-1234567890ABCDEFGH");
    expect(snapshot(path)).toEqual(before);
  });

  it("can create and replace its own credentials (locks and modes as for root)", async () => {
    const dir = await asNobody();
    expect(await child.request({ op: "save", record: apiKeyRecord() })).toEqual({ ok: true });
    expect(await child.request({ op: "save", record: chatgptRecord() })).toEqual({ ok: true });
    for (const name of ["auth.json", "auth.lock", "auth.json.lock"]) {
      expect(statSync(join(dir, name)).uid).toBe(65534);
    }
    expect(mode(join(dir, "auth.json"))).toBe(0o600);
    expect(mode(join(dir, "auth.lock"))).toBe(0o644);
  });
});

describe("locks held by another process (reference §2.7)", () => {
  it("commit lock (auth.json.lock) held → ERR_LOCK_TIMEOUT after about 5 s, file unchanged", async () => {
    const home = freshHome();
    const storage = new FileAuthStorage(home);
    await storage.save(apiKeyRecord("sk-before-1234567890ABCDEF"));
    const path = join(home, "auth.json");
    const before = snapshot(path);
    const holder = await holdFlock(join(home, "auth.json.lock"));
    try {
      const started = Date.now();
      const err = await rejection(storage.save(apiKeyRecord()));
      const elapsed = Date.now() - started;
      expect(err.code).toBe("ERR_LOCK_TIMEOUT");
      expect(err.message).toContain("credential commit lock timed out");
      expect(err.message).toContain(join(home, "auth.json.lock"));
      expect(elapsed).toBeGreaterThanOrEqual(4_900);
      expect(elapsed).toBeLessThan(8_000);
      expect(snapshot(path)).toEqual(before);
      expect(tempFiles(home)).toEqual([]);
    } finally {
      await holder.release();
    }
    // the outer lock was released on the failure path: the next save goes through at once
    await storage.save(apiKeyRecord());
    expect(storage.loadSync()).toEqual(apiKeyRecord());
  }, 20_000);

  it("outer lock (auth.lock) held → save waits (blocked in flock), then succeeds once it is released", async () => {
    const home = freshHome();
    const storage = new FileAuthStorage(home);
    await storage.save(apiKeyRecord("sk-before-1234567890ABCDEF"));
    const path = join(home, "auth.json");
    const before = snapshot(path);
    const holder = await holdFlock(join(home, "auth.lock"));
    let settled = false;
    const saving = storage.save(apiKeyRecord()).finally(() => {
      settled = true;
    });
    try {
      await waitUntilHasOpen(join(home, "auth.lock"), process.pid);
      // the holder still has the lock, so the save cannot have got past it
      expect(settled).toBe(false);
      expect(snapshot(path)).toEqual(before);
      expect(hasOpen(join(home, "auth.json.lock"), process.pid)).toBe(false);
    } finally {
      await holder.release();
    }
    await saving;
    expect(storage.loadSync()).toEqual(apiKeyRecord());
    expect(hasOpen(join(home, "auth.lock"), process.pid)).toBe(false);
  });

  // Regression: waiting used a blocking flock on libuv's 4-thread pool, so
  // four waiting saves starved every fs/dns/crypto call of the process (a
  // lock holder awaiting one deadlocked) and process.exit() hung.
  it("saves waiting for auth.lock leave the thread pool free (no starvation, no deadlock)", async () => {
    const home = freshHome();
    const storage = new FileAuthStorage(home);
    await storage.save(apiKeyRecord("sk-before-1234567890ABCDEF"));
    const holder = await holdFlock(join(home, "auth.lock"));
    const waiting = Array.from({ length: 8 }, (_, i) =>
      storage.save(apiKeyRecord(`sk-waiting-${i}-1234567890`)),
    );
    try {
      await waitUntilHasOpen(join(home, "auth.lock"), process.pid);
      // thread-pool work completes while all eight wait
      const poolWork = Promise.all([
        readFile(join(home, "auth.json"), "utf8"),
        new Promise((resolve, reject) =>
          pbkdf2(API_KEY, "salt", 1, 32, "sha256", (e, k) => (e ? reject(e) : resolve(k))),
        ),
        ...Array.from({ length: 8 }, () => stat(home)),
      ]);
      let timer: NodeJS.Timeout | undefined;
      const starved = new Promise((resolve) => {
        timer = setTimeout(() => resolve("starved"), 5_000);
      });
      expect(await Promise.race([poolWork.then(() => "done"), starved])).toBe("done");
      clearTimeout(timer);
    } finally {
      await holder.release();
    }
    await Promise.all(waiting);
    expect(storage.loadSync()?.OPENAI_API_KEY).toMatch(/^sk-waiting-\d-1234567890$/);
  });

  it("transaction: a save inside it does not wait for itself; another process's writer waits for its end", async () => {
    const home = freshHome();
    const storage = new FileAuthStorage(home);
    let end!: () => void;
    let inside!: Promise<void>;
    const started = new Promise<void>((ready) => {
      inside = storage.transaction(async (tx) => {
        // a save inside the transaction must not take auth.lock again (it would wait for itself)
        await tx.save(apiKeyRecord("sk-inside-1234567890ABCDEF"));
        ready();
        await new Promise<void>((r) => {
          end = r;
        });
      });
    });
    await started;
    // another process following the protocol (util-linux flock stands in for Codex) waits for auth.lock
    const other = new LineChild("flock", ["-x", join(home, "auth.lock"), "sh", "-c", "echo got"]);
    await waitUntilWaitingForFlock(join(home, "auth.lock"), other.pid);
    expect(storage.loadSync()).toEqual(apiKeyRecord("sk-inside-1234567890ABCDEF"));
    end();
    await inside;
    expect(await other.nextLine()).toBe("got");
  });

  it("transaction: a save in this process waits in line, and a transaction started inside another on the same storage is refused", async () => {
    const home = freshHome();
    const storage = new FileAuthStorage(home);
    const order: string[] = [];
    let end!: () => void;
    const first = storage.transaction(async (tx) => {
      await tx.save(apiKeyRecord("sk-first-1234567890ABCDEF"));
      await expect(storage.save(apiKeyRecord())).rejects.toThrow(/inside another one on the same storage/);
      await new Promise<void>((r) => {
        end = r;
      });
      order.push("first");
    });
    const second = storage.save(apiKeyRecord("sk-second-1234567890ABCDEF")).then(() => order.push("second"));
    await vi.waitFor(() => expect(end).toBeTypeOf("function"));
    end();
    await Promise.all([first, second]);
    expect(order).toEqual(["first", "second"]);
    expect(storage.loadSync()).toEqual(apiKeyRecord("sk-second-1234567890ABCDEF"));
  });

  it("transaction: its operations refuse to run after it ended", async () => {
    const storage = new FileAuthStorage(freshHome());
    let leaked!: AuthTransaction;
    await storage.transaction(async (tx) => {
      leaked = tx;
    });
    await expect(leaked.save(apiKeyRecord())).rejects.toThrow(/transaction has ended/);
    expect(storage.loadSync()).toBeUndefined();
  });
});
