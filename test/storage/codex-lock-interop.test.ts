/**
 * Our file storage and the real codex 0.169 binary writing the same
 * CODEX_HOME: both follow one lock protocol (auth.lock, then auth.json.lock,
 * then temp file + rename), so their writes serialize and auth.json is
 * always one complete version written by one of them.
 *
 * Only `codex login --with-api-key`, `codex login status` and `codex logout`
 * are run. Synchronization is by observable events only: a child's answer on
 * stdout, a waiter appearing in /proc/locks, a process exiting.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseAuthRecord } from "../../src/record/auth-record.js";
import { FileAuthStorage } from "../../src/storage/file.js";
import {
  buildSaveLoop,
  holdFlock,
  SaveLoopServer,
  startWithInput,
  waitUntilHasOpen,
  waitUntilWaitingForFlock,
} from "../fixtures/child.js";
import { codexApiKeyText, versionIndexOf, versionRecord, versionText } from "../fixtures/versions.js";
import { findCodexBinary, makeCodexHome, removeCodexHome } from "../support/env.js";

const codex = findCodexBinary();

function codexEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CODEX_HOME: home };
  delete env.OPENAI_API_KEY;
  delete env.CODEX_API_KEY;
  return env;
}

/** Starts `codex login --with-api-key` with the key on stdin. */
function codexLogin(home: string, key: string) {
  return startWithInput(codex!, ["login", "--with-api-key"], key, { env: codexEnv(home) });
}

async function codexStatus(home: string) {
  return startWithInput(codex!, ["login", "status"], "", { env: codexEnv(home) }).done;
}

/** auth.json's text, or undefined when it does not exist. */
function readAuth(home: string): string | undefined {
  try {
    return readFileSync(join(home, "auth.json"), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

describe.skipIf(!codex)("lock interoperability with the real codex binary", () => {
  let bundle: Awaited<ReturnType<typeof buildSaveLoop>>;
  let home: string;
  let ours: SaveLoopServer | undefined;
  beforeAll(async () => {
    bundle = await buildSaveLoop();
  });
  afterAll(() => bundle?.remove());
  afterEach(async () => {
    await ours?.stop();
    ours = undefined;
    if (home) removeCodexHome(home);
  });

  it("concurrent writers: auth.json is always one complete version, ours or codex's, never a mix", async () => {
    home = makeCodexHome("interop-race");
    ours = new SaveLoopServer(bundle.path, home);
    const ROUNDS = 25;
    const winners = { ours: 0, codex: 0 };
    let reads = 0;
    let previous: string | undefined;
    for (let round = 0; round < ROUNDS; round++) {
      const prefix = `race${round}`;
      const key = `sk-codex-race-${round}-1234567890ABCDEF`;
      // a random number of our saves, so that either side may write last
      const saves = 1 + Math.floor(Math.random() * 40);
      const allowed = new Set([
        codexApiKeyText(key),
        ...Array.from({ length: saves }, (_, i) => versionText(prefix, i)),
      ]);
      if (previous !== undefined) allowed.add(previous);

      // meanwhile, read auth.json as often as we can: every read must be a whole version
      let racing = true;
      const reader = (async () => {
        while (racing) {
          const seen = readAuth(home);
          expect(seen !== undefined || previous === undefined, `round ${round}: auth.json vanished`).toBe(
            true,
          );
          if (seen !== undefined) {
            reads++;
            expect(
              allowed.has(seen),
              `round ${round}: read a ${seen.length}-byte auth.json that is no complete version`,
            ).toBe(true);
          }
          await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      const [ourAnswer, codexResult] = await Promise.all([
        ours.request({ op: "loop", prefix, count: saves }),
        codexLogin(home, key).done,
      ]).finally(() => {
        racing = false;
      });
      await reader;
      expect(ourAnswer).toEqual({ ok: true, count: saves });
      expect(codexResult.code, codexResult.stderr).toBe(0);
      expect(codexResult.stderr).toContain("API key saved.");

      const text = readAuth(home)!;
      if (text === codexApiKeyText(key)) {
        winners.codex++;
      } else {
        // if ours wrote last, it is our last version, byte for byte
        const index = versionIndexOf(prefix, parseAuthRecord(text, "auth.json"));
        expect(index, `round ${round}: auth.json is neither codex's record nor our last`).toBe(saves - 1);
        expect(text).toBe(versionText(prefix, saves - 1));
        winners.ours++;
      }
      previous = text;
      // and codex reads whatever is there
      const status = await codexStatus(home);
      expect(status.code, status.stderr).toBe(0);
    }
    expect(winners.ours + winners.codex).toBe(ROUNDS);
    console.info(
      `codex-lock-interop race: last writer ours ${winners.ours}×, codex ${winners.codex}×; ${reads} concurrent reads, all whole`,
    );
  }, 60_000);

  it("while we hold auth.lock, codex login blocks; its write lands after our release", async () => {
    home = makeCodexHome("interop-we-hold");
    ours = new SaveLoopServer(bundle.path, home);
    expect(await ours.request({ op: "lock" })).toEqual({ ok: true });

    const key = "sk-codex-after-us-1234567890ABCDEF";
    const login = codexLogin(home, key);
    await waitUntilWaitingForFlock(join(home, "auth.lock"), login.pid);

    // we write inside our transaction while codex waits: our version lands first
    const mine = versionRecord("held", 1);
    expect(await ours.request({ op: "save", record: mine, inTransaction: true })).toEqual({ ok: true });
    expect(readAuth(home)).toBe(versionText("held", 1));

    expect(await ours.request({ op: "release" })).toEqual({ ok: true });
    const result = await login.done;
    expect(result.code, result.stderr).toBe(0);
    expect(readAuth(home)).toBe(codexApiKeyText(key));
  });

  it("while codex's protocol lock is held, our save waits; codex and we then both land, one after the other", async () => {
    home = makeCodexHome("interop-they-hold");
    const storage = new FileAuthStorage(home);
    await storage.save(versionRecord("before", 1));
    // `flock` stands in for a Codex process mid-write: Codex takes exactly this flock (reference §2.6)
    const holder = await holdFlock(join(home, "auth.lock"));

    let settled = false;
    const saving = storage.save(versionRecord("queued", 2)).finally(() => {
      settled = true;
    });
    await waitUntilHasOpen(join(home, "auth.lock"), process.pid);
    const key = "sk-codex-queued-1234567890ABCDEF";
    const login = codexLogin(home, key);
    await waitUntilWaitingForFlock(join(home, "auth.lock"), login.pid);
    expect(settled).toBe(false);
    expect(readAuth(home)).toBe(versionText("before", 1));

    await holder.release();
    await saving;
    const result = await login.done;
    expect(result.code, result.stderr).toBe(0);
    // both wrote, in some order; the survivor is one of the two, complete
    expect([versionText("queued", 2), codexApiKeyText(key)]).toContain(readAuth(home));
  });

  it("codex logout removes what we wrote and keeps the lock files; we then log in again", async () => {
    home = makeCodexHome("interop-logout");
    const storage = new FileAuthStorage(home);
    await storage.save(versionRecord("logout", 3)); // an API-key version: logout needs no network
    const logout = await startWithInput(codex!, ["logout"], "", { env: codexEnv(home) }).done;
    expect(logout.code, logout.stderr).toBe(0);
    expect(logout.stderr).toContain("Successfully logged out");
    expect(storage.loadSync()).toBeUndefined();
    expect(
      readdirSync(home)
        .filter((n) => n.startsWith("auth"))
        .sort(),
    ).toEqual(["auth.json.lock", "auth.lock"]);
    await storage.save(versionRecord("logout", 6));
    const status = await codexStatus(home);
    expect(status.code).toBe(0);
    expect(status.stderr).toContain("API key configured");
  });
});
