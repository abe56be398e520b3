/**
 * No refresh races between processes (issue 5): several processes sharing
 * one stale CODEX_HOME make exactly one rotation at the real dev issuer and
 * none of them fails; a killed lock holder does not block the others; and
 * mixed with real Codex processes, still one rotation, ours never fail and
 * nobody ends with tokens other than storage's.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import { parseAuthRecord } from "../../src/oauth/index.js";
import { FileAuthStorage } from "../../src/storage/file.js";
import { KeyringAuthStorage } from "../../src/storage/keyring.js";
import { refreshRequest } from "../dev-issuer/helpers.js";
import {
  CLI,
  findCodexBinary,
  makeCodexHome,
  removeCodexHome,
  throwawaySecretService,
} from "../support/env.js";
import { fakeJwt } from "../support/jwt.js";
import { childEnv, withCodexAppServer } from "../support/run.js";
import { startScriptedServer } from "../support/scripted-server.js";

let issuer: DevIssuer;
beforeAll(async () => {
  issuer = await startDevIssuer({ port: 0, autoApprove: true, accessTtlSeconds: 3600 });
});
afterAll(() => issuer.close());
const homes: string[] = [];
afterEach(() => {
  for (const h of homes.splice(0)) removeCodexHome(h);
});

/** A CODEX_HOME with real tokens from the issuer, but an access token that expired a minute ago. */
async function staleHome(
  store: "file" | "keyring" | "auto" = "file",
): Promise<{ home: string; refreshToken: string; staleAccessToken: string }> {
  const tokens = await issuer.issueTokens();
  const home = makeCodexHome("race");
  homes.push(home);
  const staleAccessToken = fakeJwt({ exp: Math.floor(Date.now() / 1000) - 60 });
  const record = {
    auth_mode: "chatgpt",
    OPENAI_API_KEY: null,
    tokens: {
      id_token: tokens.id_token,
      access_token: staleAccessToken,
      refresh_token: tokens.refresh_token,
      account_id: "org_dev",
    },
    last_refresh: new Date(Date.now() - 3600_000).toISOString(),
  };
  writeFileSync(join(home, "auth.json"), JSON.stringify(record, null, 2), { mode: 0o600 });
  writeFileSync(
    join(home, "config.toml"),
    `chatgpt_base_url = "${issuer.url}/backend-api/"\ncli_auth_credentials_store = "${store}"\n`,
  );
  if (store === "keyring") {
    // Move the record into the keyring (the save removes auth.json, as Codex's does).
    await new KeyringAuthStorage(home).save(new FileAuthStorage(home).loadSync()!);
  }
  return { home, refreshToken: tokens.refresh_token, staleAccessToken };
}

function refreshGrants(since: number) {
  return issuer.requests
    .slice(since)
    .filter((r) => r.path === "/oauth/token" && r.grant_type === "refresh_token");
}

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}
function run(child: ChildProcess): Promise<Outcome> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => (stdout += d));
  child.stderr?.on("data", (d) => (stderr += d));
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stdout, stderr })));
}

function ourToken(home: string, url = issuer.url): ChildProcess {
  return spawn(process.execPath, [CLI, "token"], {
    env: childEnv(home, {
      CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${url}/oauth/token`,
      CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${url}/oauth/revoke`,
    }),
    stdio: ["ignore", "pipe", "pipe"],
  });
}

describe("refresh across processes", () => {
  it.each([2, 8])(
    "refresh-once-across-%i-processes: one rotation, no failure, same tokens everywhere",
    async (n) => {
      const { home, refreshToken } = await staleHome();
      const since = issuer.requests.length;
      const outcomes = await Promise.all(Array.from({ length: n }, () => run(ourToken(home))));
      const grants = refreshGrants(since);
      expect(grants.map((g) => g.outcome)).toEqual(["rotated"]);
      for (const o of outcomes) expect(o.code, o.stderr).toBe(0);
      const printed = new Set(outcomes.map((o) => o.stdout.trim()));
      expect(printed.size).toBe(1);
      const stored = parseAuthRecord(readFileSync(join(home, "auth.json"), "utf8"), "auth.json");
      expect(stored.tokens?.access_token).toBe([...printed][0]);
      expect(stored.tokens?.refresh_token).not.toBe(refreshToken);
    },
  );

  it("a SIGKILLed lock holder mid-refresh does not block the others; the file stays valid", async () => {
    const { home } = await staleHome();
    const hanging = await startScriptedServer();
    try {
      let holderReachedIssuer!: () => void;
      const reached = new Promise<void>((r) => (holderReachedIssuer = r));
      hanging.script(() => holderReachedIssuer()); // never answers: the holder sits inside its refresh, holding auth.lock
      const holder = ourToken(home, hanging.url);
      const holderDone = run(holder);
      await reached;
      const since = issuer.requests.length;
      const waiter = run(ourToken(home)); // blocks on auth.lock behind the holder
      holder.kill("SIGKILL");
      expect((await holderDone).code).toBeNull();
      const w = await waiter;
      expect(w.code, w.stderr).toBe(0);
      expect(refreshGrants(since).map((g) => g.outcome)).toEqual(["rotated"]);
      const stored = parseAuthRecord(readFileSync(join(home, "auth.json"), "utf8"), "auth.json");
      expect(stored.tokens?.access_token).toBe(w.stdout.trim());
    } finally {
      await hanging.close();
    }
  });
});

const secretService = throwawaySecretService();
describe.runIf(secretService)("refresh across processes with keyring and auto storage", () => {
  it.each(["keyring", "auto"] as const)(
    "refresh-once-across-processes-%s: one rotation, no failure",
    async (store) => {
      const { home, refreshToken } = await staleHome(store);
      const since = issuer.requests.length;
      const outcomes = await Promise.all(Array.from({ length: 4 }, () => run(ourToken(home))));
      expect(refreshGrants(since).map((g) => g.outcome)).toEqual(["rotated"]);
      for (const o of outcomes) expect(o.code, o.stderr).toBe(0);
      expect(new Set(outcomes.map((o) => o.stdout.trim())).size).toBe(1);
      const stored = await new KeyringAuthStorage(home).load();
      expect(stored?.tokens?.refresh_token).not.toBe(refreshToken);
      expect(stored?.tokens?.access_token).toBe(outcomes[0]!.stdout.trim());
      await new KeyringAuthStorage(home).delete();
    },
  );
});

const codex = findCodexBinary();
describe.runIf(codex)("mixed with real Codex processes", () => {
  // What the design guarantees with Codex in the mix: the shared refresh token
  // can rotate only once at the issuer, and the fresh tokens that rotation
  // produces are never refreshed again here, so there is exactly one rotation;
  // every other refresh request is the shared token's, answered `reused`. Ours
  // refresh under auth.lock and adopt what the winner saves, so they never fail.
  // Codex 0.169 does not hold auth.lock across its refresh (hence the `reused`
  // answers): a Codex process that loses the race ends with storage's token
  // when it re-reads in time, else with its stale one or none; never any other.
  it("refresh-once-mixed-with-codex: one rotation; ours never fail and end with the stored tokens", async () => {
    const { home, refreshToken, staleAccessToken } = await staleHome();
    const since = issuer.requests.length;
    const env = {
      CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/token`,
      CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/revoke`,
    };
    const codexRuns = Array.from({ length: 4 }, () =>
      withCodexAppServer(codex!, { home, env }, async (call) => {
        const reply = await call("getAuthStatus", { includeToken: true, refreshToken: false });
        return (reply.result as { authToken: string | null } | undefined)?.authToken ?? null;
      }),
    );
    const ours = Array.from({ length: 4 }, () => run(ourToken(home)));
    const [codexTokens, ourOutcomes] = await Promise.all([Promise.all(codexRuns), Promise.all(ours)]);
    const grants = refreshGrants(since);

    const outcomes = grants.map((g) => g.outcome);
    expect(outcomes.filter((o) => o !== "reused")).toEqual(["rotated"]);
    const stored = parseAuthRecord(readFileSync(join(home, "auth.json"), "utf8"), "auth.json");
    const storedAccess = stored.tokens?.access_token;
    expect(stored.tokens?.refresh_token).not.toBe(refreshToken);
    expect(storedAccess).not.toBe(staleAccessToken);
    for (const o of ourOutcomes) {
      expect(o.code, o.stderr).toBe(0);
      expect(
        o.stdout.trim() === storedAccess,
        "a codex-auth process printed a token other than storage's",
      ).toBe(true);
    }
    const codexEnd = codexTokens.map((t) =>
      t === storedAccess ? "stored" : t === null || t === staleAccessToken ? "failed" : "other",
    );
    expect(codexEnd.filter((e) => e === "other")).toEqual([]);

    // The one rotation was the shared token's, and storage holds what it produced.
    const again = await refreshRequest(issuer.url, refreshToken);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe("refresh_token_reused");
    expect((await refreshRequest(issuer.url, stored.tokens!.refresh_token)).status).toBe(200);

    console.log(
      `[mixed 4 codex-auth + 4 codex] rotations=1 reused=${outcomes.length - 1} codex processes ending with storage's token=${codexEnd.filter((e) => e === "stored").length}/4`,
    );
  });
});
