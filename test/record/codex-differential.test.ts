/**
 * Asks the real codex 0.169 binary (`codex login status`, which only reads
 * auth.json) about every auth.json the record tests use, and checks that it
 * decides exactly as parseAuthRecord does: load or refuse, and in which mode.
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseAuthRecord, resolvedMode } from "../../src/record/auth-record.js";
import {
  CLAIM_CASES,
  claimCaseText,
  ID_TOKEN_CASES,
  idTokenCaseText,
  KNOWN_DIVERGENCES,
  LAST_REFRESH_ACCEPTED,
  LAST_REFRESH_REFUSED,
  lastRefreshCaseText,
  MALFORMED_CASES,
  MORE_ID_TOKEN_CASES,
  MORE_RECORD_CASES,
} from "../fixtures/codex-cases.js";
import { findCodexBinary, makeCodexHome, removeCodexHome } from "../support/env.js";
import { childEnv } from "../support/run.js";

const codex = findCodexBinary();
/** Several CODEX_HOMEs so that cases can be asked in parallel. */
const homes = codex ? Array.from({ length: 4 }, () => makeCodexHome("differential")) : [];
afterAll(() => {
  for (const home of homes) removeCodexHome(home);
});

/** What `codex login status` makes of `text` as auth.json in `home`. */
function codexStatusIn(home: string, text: string): Promise<{ loads: boolean; stderr: string }> {
  writeFileSync(join(home, "auth.json"), text, { mode: 0o600 });
  // Every endpoint (whoami for personal access tokens, Agent Identity) on a closed loopback port.
  const env = childEnv(home);
  return new Promise((resolve, reject) => {
    execFile(
      codex!,
      ["login", "status"],
      { env, encoding: "utf8", timeout: 20_000 },
      (err, _stdout, stderr) => {
        // exit code 1 is an answer ("Not logged in", malformed file), not a failure to run
        if (err && typeof err.code !== "number") reject(err);
        else resolve({ loads: !stderr.includes("failed to deserialize"), stderr });
      },
    );
  });
}

/** Asks codex about every text, using all homes in parallel; answers in input order. */
async function codexStatusAll(texts: string[]): Promise<Array<{ loads: boolean; stderr: string }>> {
  const answers: Array<{ loads: boolean; stderr: string }> = new Array(texts.length);
  let next = 0;
  await Promise.all(
    homes.map(async (home) => {
      while (next < texts.length) {
        const i = next++;
        answers[i] = await codexStatusIn(home, texts[i]!);
      }
    }),
  );
  return answers;
}

function ours(text: string): boolean {
  try {
    parseAuthRecord(text, "auth.json");
    return true;
  } catch {
    return false;
  }
}

const all: Array<{ name: string; text: string }> = [
  ...MALFORMED_CASES.map((c) => ({ name: "§2.8", text: c.text })),
  ...ID_TOKEN_CASES.map((c) => ({ name: "§2.9", text: idTokenCaseText(c.idToken) })),
  ...MORE_ID_TOKEN_CASES.map((c) => ({ name: "id_token", text: idTokenCaseText(c.idToken) })),
  ...CLAIM_CASES.map((c) => ({ name: "claims", text: claimCaseText(c.payload) })),
  ...LAST_REFRESH_ACCEPTED.map((v) => ({ name: "last_refresh", text: lastRefreshCaseText(v) })),
  ...LAST_REFRESH_REFUSED.map((v) => ({ name: "last_refresh", text: lastRefreshCaseText(v) })),
  ...MORE_RECORD_CASES.map((c) => ({ name: "shape", text: c.text })),
];

describe.skipIf(!codex)("parseAuthRecord decides like the codex 0.169 binary", () => {
  it(`loads or refuses the same ${all.length} files`, async () => {
    const answers = await codexStatusAll(all.map((c) => c.text));
    const disagreements = all
      .map(({ name, text }, i) => ({ name, text, ours: ours(text), codex: answers[i]! }))
      .filter((c) => c.ours !== c.codex.loads)
      .map((c) => `${c.name} ${JSON.stringify(c.text).slice(0, 160)}: ours=${c.ours} codex=${c.codex.loads}`);
    expect(disagreements).toEqual([]);
  });

  it("uses the same mode for every file both load (reference §2.8)", async () => {
    const loaded = MALFORMED_CASES.filter((c) => c.deserializes);
    const answers = await codexStatusAll(loaded.map((c) => c.text));
    for (const [i, c] of loaded.entries()) {
      const { stderr } = answers[i]!;
      expect(stderr, c.text).toContain(c.codexSays);
      const mode = resolvedMode(parseAuthRecord(c.text, "auth.json"));
      const codexMode = stderr.includes("API key")
        ? "apikey"
        : stderr.includes("ChatGPT")
          ? "chatgpt"
          : "other";
      const ourMode = mode === "apikey" ? "apikey" : mode.startsWith("chatgpt") ? "chatgpt" : "other";
      expect(ourMode, c.text).toBe(codexMode);
    }
  });

  it("the documented divergences are still exactly as documented", async () => {
    const answers = await codexStatusAll(KNOWN_DIVERGENCES.map((d) => d.text));
    for (const [i, d] of KNOWN_DIVERGENCES.entries()) {
      expect({ text: d.text, ours: ours(d.text), codex: answers[i]!.loads }).toEqual({
        text: d.text,
        ours: d.ours,
        codex: d.codex,
      });
    }
  });
});
