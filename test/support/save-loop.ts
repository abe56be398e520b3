/**
 * Child process for the storage concurrency tests, bundled with esbuild by
 * test/fixtures/child.ts (tests cannot run TypeScript children directly).
 *
 *   node save-loop.mjs crash HOME PREFIX
 *     prints "loaded", waits for a line on stdin, saves version 0, prints
 *     "ready", then saves versions 1, 2, 3, … until killed (the crash-safety
 *     test SIGKILLs it at random moments).
 *
 *   node save-loop.mjs serve HOME
 *     answers one JSON command per stdin line with one JSON line on stdout,
 *     in order; exits when stdin closes. Commands:
 *       {"op":"lock"}                       open a transaction (holds auth.lock)
 *       {"op":"release"}                    end it
 *       {"op":"save","record":R,"inTransaction":B}  save in the open transaction, or in one of its own
 *       {"op":"loop","prefix":P,"count":N}  save versions 0..N-1 of P
 *       {"op":"load"}                       FileAuthStorage.loadSync()
 *       {"op":"delete"}                     remove the record (a logout without revocation)
 *       {"op":"become","uid":U,"gid":G}     drop root privileges
 *     Answers: {"ok":true,...} or {"ok":false,"code":…,"name":…,"message":…}.
 */
import { once } from "node:events";
import { openSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { AuthRecord } from "../../src/record/auth-record.js";
import { FileAuthStorage } from "../../src/storage/file.js";
import { type AuthTransaction, flockTryExclusive, unlockAndClose } from "../../src/storage/transaction.js";
import { versionRecord } from "../fixtures/versions.js";

type Command =
  | { op: "lock" }
  | { op: "release" }
  | { op: "save"; record: AuthRecord; inTransaction?: boolean }
  | { op: "loop"; prefix: string; count: number }
  | { op: "load" }
  | { op: "delete" }
  | { op: "become"; uid: number; gid: number };

const [mode, home, prefix] = process.argv.slice(2);
if (!home) throw new Error("usage: save-loop.mjs crash|serve HOME [PREFIX]");
const storage = new FileAuthStorage(home);

if (mode === "crash") {
  // Started ahead of time by the test: load, say so, and wait for the go.
  process.stdout.write("loaded\n");
  await once(process.stdin, "data");
  await storage.save(versionRecord(prefix ?? "crash", 0));
  process.stdout.write("ready\n");
  for (let i = 1; ; i++) await storage.save(versionRecord(prefix ?? "crash", i));
} else if (mode === "serve") {
  await serve();
} else {
  throw new Error(`unknown mode ${mode}`);
}

async function serve(): Promise<void> {
  let open: { tx: AuthTransaction; end(): void; ended: Promise<void> } | undefined;
  const release = async () => {
    open?.end();
    await open?.ended;
    open = undefined;
  };
  const run = async (cmd: Command): Promise<Record<string, unknown>> => {
    switch (cmd.op) {
      case "lock":
        open = await new Promise((started) => {
          const ended = storage.transaction(
            (tx) => new Promise<void>((end) => started({ tx, end: () => end(), ended })),
          );
        });
        return {};
      case "release":
        await release();
        return {};
      case "save":
        if (cmd.inTransaction) await open!.tx.save(cmd.record);
        else await storage.save(cmd.record);
        return {};
      case "loop":
        for (let i = 0; i < cmd.count; i++) await storage.save(versionRecord(cmd.prefix, i));
        return { count: cmd.count };
      case "load":
        return { record: storage.loadSync() ?? null };
      case "delete":
        return { removed: await storage.delete() };
      case "become":
        becomeUser(cmd.uid, cmd.gid);
        return { uid: process.getuid?.() };
    }
  };
  const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (line.trim() === "") continue;
    let answer: Record<string, unknown>;
    try {
      answer = { ok: true, ...(await run(JSON.parse(line) as Command)) };
    } catch (err) {
      const e = err as { code?: unknown; name?: unknown; message?: unknown };
      answer = { ok: false, code: e.code, name: e.name, message: e.message };
    }
    process.stdout.write(`${JSON.stringify(answer)}\n`);
  }
  await release();
}

/**
 * Drops to another user. The flock binding is loaded first (by taking a lock on a
 * scratch file) because, once unprivileged, this process may not be able
 * to read the repository's node_modules.
 */
function becomeUser(uid: number, gid: number): void {
  const scratch = join(tmpdir(), `codex-auth-preload-${process.pid}`);
  const fd = openSync(scratch, "w");
  try {
    flockTryExclusive(fd);
  } finally {
    unlockAndClose(fd);
    unlinkSync(scratch);
  }
  process.setgroups?.([]);
  process.setgid?.(gid);
  process.setuid?.(uid);
}
