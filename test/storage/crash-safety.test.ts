/**
 * crash-safe-save: a process killed (SIGKILL) at any moment of a save never
 * leaves a torn or empty auth.json. Children save numbered versions in a
 * tight loop; the test kills them after a random delay, hundreds of times,
 * and after every kill auth.json must be exactly one of the versions written.
 * A leftover `.auth-*` temp file is allowed (the kill may land between create
 * and rename); a damaged auth.json is not.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAuthRecord } from "../../src/record/auth-record.js";
import { buildSaveLoop, LineChild } from "../fixtures/child.js";
import { versionIndexOf, versionText } from "../fixtures/versions.js";
import { makeCodexHome, removeCodexHome } from "../support/env.js";

/** Kills in total, spread over parallel lanes (each lane its own CODEX_HOME). */
const KILLS = 200;
const LANES = 2;
/** Upper bound of the random delay between the child's first save and the kill. */
const MAX_DELAY_MS = 25;

/** Small seeded PRNG (mulberry32) so a failing run can be replayed with CRASH_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("crash safety", () => {
  let bundle: Awaited<ReturnType<typeof buildSaveLoop>>;
  const homes: string[] = [];
  beforeAll(async () => {
    bundle = await buildSaveLoop();
  });
  afterAll(() => {
    bundle?.remove();
    for (const home of homes) removeCodexHome(home);
  });

  it(`auth.json is always one complete version after ${KILLS} SIGKILLs at random moments`, async () => {
    const seed = Number(process.env.CRASH_SEED ?? Date.now() % 2 ** 31);
    const random = prng(seed);
    const context = `(replay with CRASH_SEED=${seed})`;
    const stats = { kills: 0, versionsSeen: new Set<string>(), highestIndex: 0, leftoverTemps: 0 };

    async function lane(laneNo: number): Promise<void> {
      const home = makeCodexHome(`crash-${laneNo}`);
      homes.push(home);
      const path = join(home, "auth.json");
      const rounds = KILLS / LANES;
      // Node's start-up dominates a round, so the next child is started while
      // the current one is saving; it waits for "go" before writing anything.
      const start = (round: number) =>
        new LineChild(process.execPath, [bundle.path, "crash", home, `lane${laneNo}-round${round}`]);
      let next = start(0);
      for (let round = 0; round < rounds; round++) {
        const prefix = `lane${laneNo}-round${round}`;
        const child = next;
        expect(await child.nextLine(), context).toBe("loaded");
        child.write("go\n");
        expect(await child.nextLine(), context).toBe("ready"); // version 0 is on disk
        if (round + 1 < rounds) next = start(round + 1);
        const delay = Math.floor(random() * MAX_DELAY_MS);
        await new Promise((resolve) => setTimeout(resolve, delay));
        child.proc.kill("SIGKILL");
        const { signal } = await child.exited;
        expect(signal, `${context} child died on its own: ${child.stderr}`).toBe("SIGKILL");
        stats.kills++;

        const text = readFileSync(path, "utf8");
        const record = parseAuthRecord(text, path); // throws on a torn file
        const index = versionIndexOf(prefix, record);
        expect(index, `${context} ${prefix}: auth.json is not a version of this round`).toBeTypeOf("number");
        expect(text, `${context} ${prefix}: auth.json differs from version ${index}`).toBe(
          versionText(prefix, index!),
        );
        expect(statSync(path).mode & 0o777).toBe(0o600);
        stats.versionsSeen.add(`${prefix}#${index}`);
        stats.highestIndex = Math.max(stats.highestIndex, index!);
      }
      stats.leftoverTemps += readdirSync(home).filter((n) => n.startsWith(".auth-")).length;
      // the lock files survive every crash and never block the next writer (the kernel drops flocks)
      expect(readdirSync(home)).toEqual(expect.arrayContaining(["auth.json", "auth.lock", "auth.json.lock"]));
    }

    await Promise.all(Array.from({ length: LANES }, (_, i) => lane(i)));
    expect(stats.kills).toBe(KILLS);
    // the kills landed while saving, not only right after the first save
    expect(stats.highestIndex, context).toBeGreaterThan(5);
    console.info(
      `crash-safety: ${stats.kills} kills, ${stats.versionsSeen.size} distinct final versions, ` +
        `highest version index ${stats.highestIndex}, ${stats.leftoverTemps} leftover temp files ${context}`,
    );
  }, 120_000);
});
