/** `token` refreshes stale tokens first; `login status` and `status` never refresh (issue 5, CLI). */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import { removeCodexHome } from "../support/env.js";
import { issuedHome } from "../support/issued-home.js";
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

const staleHome = () => issuedHome(issuer, homes, "token", { stale: true });
const env = () => ({ CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/token` });
const refreshes = () => issuer.requests.filter((r) => r.grant_type === "refresh_token").length;

describe("token and status commands around refresh", () => {
  it("login-status-never-refreshes: nor does status --json", async () => {
    const h = await staleHome();
    const before = refreshes();
    const file = readFileSync(join(h, "auth.json"), "utf8");
    expect((await runOursAsync(["login", "status"], { home: h, env: env() })).stderr).toBe(
      "Logged in using ChatGPT\n",
    );
    expect((await runOursAsync(["status", "--json"], { home: h, env: env() })).code).toBe(0);
    expect(refreshes()).toBe(before);
    expect(readFileSync(join(h, "auth.json"), "utf8")).toBe(file);
  });

  it("token-refreshes-stale-first: prints the new access token, saved with last_refresh", async () => {
    const h = await staleHome();
    const r = await runOursAsync(["token", "--json"], { home: h, env: env() });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    const saved = JSON.parse(readFileSync(join(h, "auth.json"), "utf8"));
    expect(out.token).toBe(saved.tokens.access_token);
    expect(Date.parse(out.expiresAt)).toBeGreaterThan(Date.now());
    expect(Date.now() - Date.parse(saved.last_refresh)).toBeLessThan(60_000);
    expect(r.stderr).not.toContain(saved.tokens.refresh_token);
  });

  it("an expired token whose refresh fails for good is an error, and nothing changes", async () => {
    const h = await staleHome();
    const stored = JSON.parse(readFileSync(join(h, "auth.json"), "utf8"));
    // Spend the refresh token elsewhere first, so ours is reused from the issuer's point of view.
    const spent = await fetch(`${issuer.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        client_id: "app_EMoamEEZ73f0CkXaXp7hrann",
        grant_type: "refresh_token",
        refresh_token: stored.tokens.refresh_token,
      }),
    });
    expect(spent.status).toBe(200);
    const before = readFileSync(join(h, "auth.json"), "utf8");
    const r = await runOursAsync(["token"], { home: h, env: env() });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("refresh token was already used. Please log out and sign in again.");
    expect(readFileSync(join(h, "auth.json"), "utf8")).toBe(before);
  });
});
