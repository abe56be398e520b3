/**
 * Hardening, kind 3: a refresh token is never spent unless its result can
 * be stored, and rotated tokens are never dropped. auth.json bind-mounted as
 * a single file (as containers do) with real mounts (`unshare -m`), against
 * the real dev issuer; a storage that refuses the save after the rotation,
 * in the library.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import {
  AuthManager,
  type AuthRecord,
  type AuthTransaction,
  bearerToken,
  inProcessLock,
  LockedAuthStorage,
  type RefreshTokenError,
  StorageIoError,
} from "../../src/index.js";
import { parseAuthRecord } from "../../src/oauth/index.js";
import { makeCodexHome, removeCodexHome } from "../support/env.js";
import { issuedHome, issuedRecord } from "../support/issued-home.js";
import { canMount, runOursReadOnly, runOursWithBindMounts } from "../support/mounts.js";
import { runOursAsync } from "../support/run.js";

let issuer: DevIssuer;
const homes: string[] = [];
beforeAll(async () => {
  issuer = await startDevIssuer({ port: 0, autoApprove: true });
});
afterAll(async () => {
  await issuer.close();
  for (const h of homes) removeCodexHome(h);
});

const staleRecord = () => issuedRecord(issuer, { stale: true });
const staleHome = () => issuedHome(issuer, homes, "bind", { stale: true });
const env = () => ({ CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/token` });
const refreshes = () => issuer.requests.filter((r) => r.grant_type === "refresh_token");

/** Runs the CLI with auth.json bind-mounted onto itself, read-write, in a private mount namespace. */
const runOursBindRw = (home: string, args: string[]) =>
  runOursWithBindMounts([join(home, "auth.json")], "rw", args, { home, env: env() });

describe.runIf(canMount())("refresh-never-spends-a-token-it-cannot-store (single-file bind mounts)", () => {
  it("read-write bind-mounted auth.json: the rename is refused (EBUSY), the file is rewritten in place, one rotation", async () => {
    const h = await staleHome();
    const before = refreshes().length;
    const r = await runOursBindRw(h, ["token", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const saved = parseAuthRecord(readFileSync(join(h, "auth.json"), "utf8"), "auth.json");
    expect(JSON.parse(r.stdout).token).toBe(saved.tokens?.access_token);
    expect(
      refreshes()
        .slice(before)
        .map((x) => x.outcome),
    ).toEqual(["rotated"]);
    // the next run uses the saved tokens: no second rotation, no reuse
    const again = await runOursAsync(["token"], { home: h, env: env() });
    expect(again.code, again.stderr).toBe(0);
    expect(refreshes().length - before).toBe(1);
  });

  it("read-only bind-mounted auth.json: token fails before any request, and the stored refresh token still works", async () => {
    const h = await staleHome();
    const text = readFileSync(join(h, "auth.json"), "utf8");
    const before = refreshes().length;
    const r = await runOursReadOnly([join(h, "auth.json")], ["token"], { home: h, env: env() });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/could not be saved, so the refresh token was not used/);
    expect(refreshes().length - before).toBe(0);
    expect(readFileSync(join(h, "auth.json"), "utf8")).toBe(text);
    const later = await runOursAsync(["token"], { home: h, env: env() });
    expect(later.code, later.stderr).toBe(0);
    expect(
      refreshes()
        .slice(before)
        .map((x) => x.outcome),
    ).toEqual(["rotated"]);
  });
});

describe("rotated-tokens-are-never-dropped", () => {
  class RefusingStorage extends LockedAuthStorage {
    readonly kind = "ephemeral" as const;
    record: AuthRecord | undefined;
    readonly unlocked: AuthTransaction = {
      load: async () => this.record,
      save: async () => {
        throw new StorageIoError("/nowhere", "disk on fire");
      },
      delete: async () => false,
    };
    constructor() {
      super(inProcessLock("refusing-storage"));
    }
    describe() {
      return "a storage that refuses saves";
    }
  }

  it("a save refused after the rotation keeps the new tokens for the process and says what happened", async () => {
    const storage = new RefusingStorage();
    storage.record = parseAuthRecord(JSON.stringify(await staleRecord()), "test");
    const failures: RefreshTokenError[] = [];
    const m = await AuthManager.create({
      codexHome: makeCodexHome("refusing"),
      storage,
      env: env(),
      onRefreshFailed: (e) => failures.push(e),
    });
    const before = refreshes().length;
    const auth = await m.auth();
    expect(
      refreshes()
        .slice(before)
        .map((x) => x.outcome),
    ).toEqual(["rotated"]);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ code: "ERR_REFRESH_NOT_SAVED", permanent: false });
    expect(failures[0]!.message).toMatch(
      /^The token was refreshed, but the new tokens could not be saved to a storage that refuses saves: disk on fire\./,
    );
    // the process goes on with the new, valid tokens — not the spent ones
    if (auth?.mode !== "chatgpt" || !auth.tokens) throw new Error("expected ChatGPT tokens");
    expect(bearerToken(auth)).not.toBe(storage.record.tokens?.access_token);
    expect(auth.tokens.refresh_token).not.toBe(storage.record.tokens?.refresh_token);
    // the kept refresh token is the live one: the issuer rotates it once more
    expect((await m.refreshToken().catch((e: unknown) => e)) as unknown).toMatchObject({
      code: "ERR_REFRESH_NOT_SAVED",
    });
    expect(
      refreshes()
        .slice(before)
        .map((x) => x.outcome),
    ).toEqual(["rotated", "rotated"]);
  });
});
