/**
 * examples/editor-backend.mjs, run as a tool author would run it (a child
 * process importing the built package by its name) against the development
 * issuer: device-code sign-in, the account, a call through the
 * authenticated fetch, usage, a clean exit; a second run that recovers from
 * a revoked access token; and Ctrl-C during the sign-in.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { DevIssuer } from "../../src/dev-issuer/index.js";
import { logout } from "../../src/manager/operations.js";
import { codexEnv, type SeededHome, startChild, stopChildren, testResources } from "../login/helpers.js";
import { REPO_ROOT } from "../support/env.js";

const EXAMPLE = join(REPO_ROOT, "examples/editor-backend.mjs");
const { issuerFor, home, closeAll } = testResources();
afterEach(async () => {
  await stopChildren();
  await closeAll();
});

function runExample(issuer: DevIssuer, seeded: SeededHome, extra: Record<string, string> = {}) {
  writeFileSync(join(seeded.home, "config.toml"), `chatgpt_base_url = "${issuer.url}/backend-api/"\n`);
  return startChild(
    process.execPath,
    [EXAMPLE],
    codexEnv(seeded.home, issuer.url, {
      CODEX_AUTH_ISSUER: issuer.url,
      EXAMPLE_API_URL: `${issuer.url}/backend-api/dev/echo`,
      ...extra,
    }),
  );
}

const events = (stdout: string) =>
  stdout
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown> & { event: string });

describe("examples/editor-backend.mjs", () => {
  it("example-signs-in-calls-and-exits: device code, account, authenticated call, usage, exit 0", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("none");
    const child = runExample(issuer, seeded);
    expect(await child.exit).toBe(0);
    const out = events(child.stdout());
    expect(out.map((e) => e.event)).toEqual(["device-code", "polling", "signed-in", "api", "usage", "done"]);
    expect(out[0]).toMatchObject({
      verificationUrl: `${issuer.url}/codex/device`,
      userCode: expect.any(String),
    });
    expect(out[2]!.account).toMatchObject({
      mode: "chatgpt",
      email: "dev@example.com",
      accountId: "org_dev",
    });
    expect(out[3]).toMatchObject({
      status: 200,
      body: {
        method: "POST",
        body: '{"hello":"world"}',
        email: "dev@example.com",
        chatgptAccountId: "org_dev",
      },
    });
    expect(out[4]).toMatchObject({ plan: "pro", primary: { usedPercent: 1, windowDurationMins: 300 } });
    expect(child.stderr()).toBe("");
    expect(existsSync(join(seeded.home, "auth.json"))).toBe(true);
  });

  it("example-recovers-revoked-token: already signed in, the access token revoked: refreshed on the 401, call succeeds", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("chatgpt", issuer);
    issuer.revokeAccessTokens();
    const child = runExample(issuer, seeded);
    expect(await child.exit).toBe(0);
    const out = events(child.stdout());
    expect(out.map((e) => e.event)).toEqual(["signed-in", "api", "usage", "done"]);
    expect(out[1]).toMatchObject({ status: 200 });
    expect(issuer.requests.filter((r) => r.grant_type === "refresh_token").map((r) => r.outcome)).toEqual([
      "rotated",
    ]);
  });

  it("example-follows-account-changes: a logout by another process is one signed-out event; stdin EOF exits 0", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("chatgpt", issuer);
    const child = runExample(issuer, seeded, { EXAMPLE_FOLLOW: "1" });
    await child.waitFor("stdout", /"event":"following"/);
    // another process (the library here, as a second tool would) logs out
    expect(
      await logout(seeded.home, "file", {
        env: { CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/revoke` },
      }),
    ).toBe(true);
    await child.waitFor("stdout", /"event":"account-changed"/);
    child.child.stdin.end();
    expect(await child.exit).toBe(0);
    const out = events(child.stdout());
    expect(out.map((e) => e.event)).toEqual([
      "signed-in",
      "api",
      "usage",
      "following",
      "account-changed",
      "done",
    ]);
    expect(out[4]).toEqual({ event: "account-changed", kind: "signed-out", account: null });
  });

  it("example-ctrl-c-cancels: SIGINT while waiting for approval exits 130 and saves nothing", async () => {
    const issuer = await issuerFor(); // nobody approves
    const seeded = await home("none");
    const child = runExample(issuer, seeded);
    await child.waitFor("stdout", /"event":"device-code"/);
    child.child.kill("SIGINT");
    expect(await child.exit).toBe(130);
    expect(events(child.stdout()).at(-1)).toEqual({ event: "cancelled" });
    expect(existsSync(join(seeded.home, "auth.json"))).toBe(false);
  });
});
