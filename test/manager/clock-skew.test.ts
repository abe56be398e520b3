/**
 * Hardening, kind 7: a wrong system clock never turns into a refresh storm
 * (nor into tokens that are never refreshed), and the user is told once.
 * The clock is injected; the tokens come from the real dev issuer, whose
 * clock is right.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import { AuthManager, bearerToken } from "../../src/index.js";
import { removeCodexHome } from "../support/env.js";
import { runInProcess } from "../support/fake-io.js";
import { issuedHome } from "../support/issued-home.js";

const HOUR = 3_600_000;
let issuer: DevIssuer;
const homes: string[] = [];
beforeAll(async () => {
  issuer = await startDevIssuer({ port: 0, autoApprove: true });
});
afterAll(async () => {
  await issuer.close();
  for (const h of homes) removeCodexHome(h);
});

/** A home holding tokens just issued by the dev issuer, with `last_refresh` read off a clock at `lastRefreshMs`. */
const homeWithFreshTokens = (lastRefreshMs: number) => issuedHome(issuer, homes, "clock", { lastRefreshMs });
const rotations = () => issuer.requests.filter((r) => r.grant_type === "refresh_token").length;
const env = () => ({ CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/token` });

describe("wrong-clock-never-becomes-a-refresh-storm", () => {
  it("clock 2 hours ahead: three `token` runs rotate once at most, each warns about the clock", async () => {
    const ahead = () => Date.now() + 2 * HOUR;
    // signed in while the clock was already wrong: last_refresh is on the wrong clock
    const h = await homeWithFreshTokens(ahead());
    const before = rotations();
    for (let run = 0; run < 3; run++) {
      const r = await runInProcess(["token"], { home: h, env: env(), deps: { now: ahead } });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain("Warning: this machine's clock is about 2 hours ahead of the issuer's.");
      expect(r.stderr.match(/clock is about/g)).toHaveLength(1);
    }
    expect(rotations() - before).toBe(0);
    const status = await runInProcess(["status", "--json"], { home: h, env: env(), deps: { now: ahead } });
    expect(JSON.parse(status.stdout).clockOffsetSeconds).toBeGreaterThan(7_000);
  });

  it("clock jumps 2 hours ahead after sign-in: one rotation, then none", async () => {
    const h = await homeWithFreshTokens(Date.now());
    const ahead = () => Date.now() + 2 * HOUR;
    const before = rotations();
    for (let run = 0; run < 3; run++) {
      const r = await runInProcess(["token"], { home: h, env: env(), deps: { now: ahead } });
      expect(r.code, r.stderr).toBe(0);
    }
    expect(rotations() - before).toBe(1);
  });

  it("clock 2 hours behind: tokens whose lifetime has passed are still refreshed (exp alone would say they are fresh)", async () => {
    const behind = () => Date.now() - 2 * HOUR;
    // arrived (on the wrong clock) longer ago than the access token lives
    const h = await homeWithFreshTokens(behind() - 25 * HOUR);
    const before = rotations();
    const m = await AuthManager.create({ codexHome: h, env: env(), now: behind });
    const old = m.authCached();
    const auth = await m.auth();
    expect(rotations() - before).toBe(1);
    expect(auth && bearerToken(auth)).not.toBe(old && bearerToken(old));
  });

  it("a correct clock stays quiet", async () => {
    const h = await homeWithFreshTokens(Date.now());
    const r = await runInProcess(["token"], { home: h, env: env() });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
  });
});
