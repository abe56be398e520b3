/**
 * Hardening, kind 1: an invalid auth.json is never destroyed by a sign-in.
 * Every way to sign in — browser callback, paste-back, device code, API key,
 * library and CLI — refuses with the load error and leaves the bytes as they
 * were, whether the file was invalid before the sign-in started or became
 * invalid while it ran (then the tokens just issued are revoked).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuthFileMalformedError, CodexAuthError } from "../../src/errors.js";
import { startBrowserLogin } from "../../src/login/browser.js";
import { runDeviceLogin } from "../../src/login/device.js";
import { loginWithApiKey } from "../../src/manager/operations.js";
import { refreshRequest } from "../dev-issuer/helpers.js";
import { runInProcess } from "../support/fake-io.js";
import { authorizeToCallback, testResources } from "./helpers.js";

const { issuerFor, home, closeAll, cleanups } = testResources();
afterEach(closeAll);

const INVALID = "{ this is not json";

function corrupt(dir: string): void {
  writeFileSync(join(dir, "auth.json"), INVALID, { mode: 0o600 });
}
const bytes = (dir: string) => readFileSync(join(dir, "auth.json"), "utf8");

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: unknown) => e,
  );
}

describe("sign-in-never-destroys-invalid-auth-json: invalid before the sign-in starts", () => {
  it("device code (library): refused before a code is requested", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("none", issuer);
    corrupt(seeded.home);
    const err = await rejection(runDeviceLogin({ issuer: issuer.url, storage: seeded.storage, env: {} }));
    expect(err).toBeInstanceOf(AuthFileMalformedError);
    expect((err as Error).message).toMatch(/auth\.json is not a valid auth record: .*It was left unchanged/);
    expect(issuer.requests.some((r) => r.path.includes("deviceauth"))).toBe(false);
    expect(bytes(seeded.home)).toBe(INVALID);
  });

  it("browser (library): refused before the callback server starts", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("none", issuer);
    corrupt(seeded.home);
    const err = await rejection(startBrowserLogin({ issuer: issuer.url, storage: seeded.storage, port: 0 }));
    expect(err).toBeInstanceOf(AuthFileMalformedError);
    expect(bytes(seeded.home)).toBe(INVALID);
  });

  it("API key (library): refused", async () => {
    const seeded = await home("none");
    corrupt(seeded.home);
    expect(await rejection(loginWithApiKey(seeded.home, "sk-new-1234567890", seeded.storage))).toBeInstanceOf(
      AuthFileMalformedError,
    );
    expect(bytes(seeded.home)).toBe(INVALID);
  });

  it("CLI: login --device-auth, login (browser) and login --with-api-key all refuse in Codex's frame", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("none", issuer);
    corrupt(seeded.home);
    for (const args of [
      ["login", "--device-auth", "--issuer", issuer.url],
      ["login", "--issuer", issuer.url],
      ["login", "--with-api-key"],
    ]) {
      const r = await runInProcess(args, {
        home: seeded.home,
        input: "sk-new-1234567890",
        deps: { openBrowser: async () => false },
      });
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stderr).toMatch(/Error logging in: .*auth\.json is not a valid auth record/);
      expect(bytes(seeded.home)).toBe(INVALID);
    }
  });
});

describe("sign-in-never-destroys-invalid-auth-json: invalid by the time the sign-in saves", () => {
  it("device code: the approval arrives, the save is refused, the bytes stay", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("chatgpt", issuer);
    const err = await rejection(
      runDeviceLogin({
        issuer: issuer.url,
        storage: seeded.storage,
        env: {},
        onCode: () => corrupt(seeded.home),
      }),
    );
    expect((err as CodexAuthError).code).toBe("ERR_LOGIN_FAILED");
    expect((err as Error).cause).toBeInstanceOf(AuthFileMalformedError);
    expect((err as Error).message).toMatch(
      /is not a valid auth record.*The new sign-in was revoked; nothing was stored/,
    );
    expect(bytes(seeded.home)).toBe(INVALID);
    // only the new sign-in was revoked: the previous login's refresh token was never read, and still works
    expect(issuer.requests.filter((r) => r.path === "/oauth/revoke").map((r) => r.outcome)).toEqual([
      "revoked",
    ]);
    expect((await refreshRequest(issuer.url, seeded.previousRefreshToken!)).status).toBe(200);
  });

  it("browser paste-back: the pasted URL is exchanged, the save is refused, the bytes stay", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("apiKey", issuer);
    const l = await startBrowserLogin({ issuer: issuer.url, storage: seeded.storage, port: 0, env: {} });
    cleanups.push(async () => {
      l.cancel();
      await l.closed;
    });
    corrupt(seeded.home);
    const callback = await authorizeToCallback(l.authUrl, issuer.url);
    const rejected = await l.submitPasted(callback.href);
    expect(rejected).toMatch(/is not a valid auth record/);
    const err = await rejection(l.done);
    expect(err).toBeInstanceOf(CodexAuthError);
    expect((err as CodexAuthError).code).toBe("ERR_LOGIN_FAILED");
    expect((err as Error).cause).toBeInstanceOf(AuthFileMalformedError);
    expect(bytes(seeded.home)).toBe(INVALID);
    // the tokens the exchange produced were revoked, not thrown away live
    expect(issuer.requests.filter((r) => r.path === "/oauth/revoke").map((r) => r.outcome)).toEqual([
      "revoked",
    ]);
  });
});
