/**
 * Codex's encrypted credential store (`[features] secret_auth_storage =
 * true`, `cli_auth_credentials_store = "keyring"`) across the real codex
 * 0.169 binary and codex-auth, on one throwaway Secret Service
 * (scripts/with-secret-service.sh): each reads, removes and refreshes what
 * the other wrote, and a store without its key is refused without a byte
 * changed. Only `codex login` (API key, device code against the dev
 * issuer), `login status` and `logout` run; all traffic stays on 127.0.0.1.
 *
 * Codex writes with its calibrated scrypt work factor (2^19 here): every
 * read of a file it wrote costs about 1.6 s, hence the long timeouts.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import type { AuthChangeEvent } from "../../src/manager/account-changes.js";
import { AuthManager } from "../../src/manager/auth-manager.js";
import { parseAuthRecord } from "../../src/record/auth-record.js";
import { EncryptedAuthStorage } from "../../src/storage/encrypted.js";
import { withKeyring } from "../../src/storage/keyring/client.js";
import { SECRETS_KEYRING_SERVICE, secretsKeyringAccount } from "../../src/storage/keyring-key.js";
import { codexEnv, startChild, startOurs, stopChildren } from "../login/helpers.js";
import { findCodexBinary, makeCodexHome, removeCodexHome, throwawaySecretService } from "../support/env.js";
import { issuedRecord } from "../support/issued-home.js";
import { runCodexAsync, runOursAsync } from "../support/run.js";

const secretService = throwawaySecretService();
const codex = findCodexBinary();

const config = (store: string) =>
  `cli_auth_credentials_store = "${store}"\n\n[features]\nsecret_auth_storage = true\n`;
const KEY = "sk-test-encrypted-interop-0123456789";

let issuer: DevIssuer;
const homes: string[] = [];
beforeAll(async () => {
  issuer = await startDevIssuer({ port: 0, autoApprove: true });
});
afterEach(() => stopChildren());
afterAll(async () => {
  await issuer?.close();
  for (const h of homes) removeCodexHome(h);
});

function encryptedHome(extraConfig = "", store = "keyring"): string {
  const h = makeCodexHome("encrypted-interop");
  homes.push(h);
  writeFileSync(join(h, "config.toml"), extraConfig + config(store), { mode: 0o600 });
  return h;
}
const agePath = (h: string) => join(h, "secrets", "codex_auth.age");
const codexRun = (h: string, args: string[], input = "", env: Record<string, string> = {}) =>
  runCodexAsync(codex!, args, { home: h, input, env });
const ours = (h: string, args: string[], input = "", env: Record<string, string> = {}) =>
  runOursAsync(args, { home: h, input, env });
const passphrase = (h: string) =>
  withKeyring({ timeoutMs: 5000, env: process.env, codexHome: h, service: SECRETS_KEYRING_SERVICE }, (k) =>
    k.get(secretsKeyringAccount(h)),
  );
/** The lines a `login status` prints, without Codex's warning about helper links (not ours to compare). */
const statusLines = (r: { stderr: string; stdout: string; code: number }) => ({
  code: r.code,
  stdout: r.stdout,
  stderr: r.stderr
    .split("\n")
    .filter((l) => !l.startsWith("WARNING: proceeding"))
    .join("\n"),
});

describe.runIf(secretService && codex)("encrypted credential store interoperates with codex 0.169", () => {
  it("encrypted-codex-api-key-read: codex login --with-api-key → our login status says what codex says", async () => {
    const h = encryptedHome();
    expect((await codexRun(h, ["login", "--with-api-key"], KEY)).code).toBe(0);
    expect(readFileSync(agePath(h), "latin1")).toMatch(/^age-encryption\.org\/v1\n-> scrypt /);
    const theirs = statusLines(await codexRun(h, ["login", "status"]));
    const mine = statusLines(await ours(h, ["login", "status"]));
    expect(mine).toEqual(theirs);
    expect(mine.stderr).toMatch(/^API key configured - sk-test-\*\*\*56789\n/);
    const json = JSON.parse((await ours(h, ["status", "--json"])).stdout);
    expect(json).toMatchObject({
      loggedIn: true,
      mode: "apikey",
      storage: "keyring",
      storageEncrypted: true,
    });
    expect(json.storageLocation).toContain(agePath(h));
    expect(JSON.stringify(json)).not.toContain(KEY);
  }, 120_000);

  it("encrypted-codex-chatgpt-read: codex's device-code sign-in → our login status, status --json", async () => {
    const h = encryptedHome(`chatgpt_base_url = "${issuer.url}/backend-api/"\n`);
    const login = startChild(
      codex!,
      ["login", "--device-auth", "--experimental_issuer", issuer.url],
      codexEnv(h, issuer.url),
    );
    expect(await login.exit, login.stderr()).toBe(0);
    const theirs = statusLines(await codexRun(h, ["login", "status"]));
    expect(theirs.stderr).toBe("Logged in using ChatGPT\n");
    expect(statusLines(await ours(h, ["login", "status"]))).toEqual(theirs);
    const json = JSON.parse((await ours(h, ["status", "--json"])).stdout);
    expect(json).toMatchObject({
      loggedIn: true,
      mode: "chatgpt",
      storageEncrypted: true,
      refreshable: true,
    });
    expect(json.email).toMatch(/@/);
  }, 120_000);

  it("encrypted-our-device-sign-in: codex-auth login --device-auth persists into the store; codex reads it", async () => {
    const h = encryptedHome(`chatgpt_base_url = "${issuer.url}/backend-api/"\n`);
    writeFileSync(join(h, "auth.json"), JSON.stringify({ OPENAI_API_KEY: "sk-stale-fallback-0000000000" }));
    const login = startOurs(["login", "--device-auth", "--issuer", issuer.url], h);
    expect(await login.exit, login.stderr()).toBe(0);
    expect(login.stderr()).toBe("Successfully logged in\n");
    expect(existsSync(join(h, "auth.json"))).toBe(false); // a save removes it, as Codex's does
    const saved = await new EncryptedAuthStorage(h).load();
    expect(saved?.tokens?.refresh_token).toBeTruthy();
    expect(statusLines(await codexRun(h, ["login", "status"]))).toMatchObject({
      code: 0,
      stderr: "Logged in using ChatGPT\n",
    });
  }, 120_000);

  it("encrypted-ours-read-by-codex: our login --with-api-key and a ChatGPT save → codex login status", async () => {
    const h = encryptedHome();
    const login = await ours(h, ["login", "--with-api-key"], KEY);
    expect(login.code, login.stderr).toBe(0);
    expect(statusLines(await codexRun(h, ["login", "status"])).stderr).toMatch(
      /^API key configured - sk-test-\*\*\*56789\n/,
    );
    const chatgpt = parseAuthRecord(JSON.stringify(await issuedRecord(issuer)), "fixture");
    await new EncryptedAuthStorage(h).save(chatgpt);
    expect(statusLines(await codexRun(h, ["login", "status"]))).toMatchObject({
      code: 0,
      stderr: "Logged in using ChatGPT\n",
    });
  }, 120_000);

  it('encrypted-auto-mode: with cli_auth_credentials_store = "auto" too, each reads and removes the other\'s login', async () => {
    const h = encryptedHome("", "auto");
    expect((await codexRun(h, ["login", "--with-api-key"], KEY)).code).toBe(0);
    expect(existsSync(agePath(h))).toBe(true);
    const theirs = statusLines(await codexRun(h, ["login", "status"]));
    expect(statusLines(await ours(h, ["login", "status"]))).toEqual(theirs);
    expect(JSON.parse((await ours(h, ["status", "--json"])).stdout)).toMatchObject({
      storage: "auto",
      storageEncrypted: true,
    });
    expect((await ours(h, ["logout"])).code).toBe(0);
    expect(statusLines(await codexRun(h, ["login", "status"]))).toMatchObject({
      code: 1,
      stderr: "Not logged in\n",
    });
    expect((await ours(h, ["login", "--with-api-key"], KEY)).code).toBe(0);
    expect(statusLines(await codexRun(h, ["login", "status"])).stderr).toBe(theirs.stderr);
  }, 120_000);

  it("encrypted-logout-both-ways: codex logout after our login, ours after codex's; the key stays", async () => {
    const h = encryptedHome();
    expect((await ours(h, ["login", "--with-api-key"], KEY)).code).toBe(0);
    expect(await codexRun(h, ["logout"])).toMatchObject({ code: 0 });
    expect(statusLines(await ours(h, ["login", "status"]))).toMatchObject({
      code: 1,
      stderr: "Not logged in\n",
    });

    expect((await codexRun(h, ["login", "--with-api-key"], KEY)).code).toBe(0);
    const key = await passphrase(h);
    const logout = await ours(h, ["logout"]);
    expect(logout).toMatchObject({ code: 0, stderr: "Successfully logged out\n" });
    expect(statusLines(await codexRun(h, ["login", "status"]))).toMatchObject({
      code: 1,
      stderr: "Not logged in\n",
    });
    // As Codex: the file stays (without the entry) and so does the key other Codex secrets share.
    expect(readFileSync(agePath(h), "latin1")).toMatch(/^age-encryption\.org\/v1\n/);
    expect(await passphrase(h)).toEqual(key);
    expect(await new EncryptedAuthStorage(h).load()).toBeUndefined();
  }, 120_000);

  it("encrypted-refresh-rotates-once: our token refreshes through the store, codex reads the result", async () => {
    const h = encryptedHome();
    const stale = parseAuthRecord(JSON.stringify(await issuedRecord(issuer, { stale: true })), "fixture");
    await new EncryptedAuthStorage(h).save(stale);
    const refreshes = () => issuer.requests.filter((r) => r.grant_type === "refresh_token").length;
    const before = refreshes();
    const env = { CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/token` };
    const first = await ours(h, ["token", "--json"], "", env);
    expect(first.code, first.stderr).toBe(0);
    expect(refreshes()).toBe(before + 1);
    const saved = await new EncryptedAuthStorage(h).load();
    expect(saved?.tokens?.refresh_token).not.toBe(stale.tokens?.refresh_token);
    expect(JSON.parse(first.stdout).token).toBe(saved?.tokens?.access_token);
    const second = await ours(h, ["token", "--json"], "", env);
    expect(JSON.parse(second.stdout).token).toBe(saved?.tokens?.access_token);
    expect(refreshes()).toBe(before + 1);
    expect(statusLines(await codexRun(h, ["login", "status"]))).toMatchObject({
      code: 0,
      stderr: "Logged in using ChatGPT\n",
    });
  }, 120_000);

  it("encrypted-refresh-once-across-processes: four concurrent `token` runs on a stale login rotate it once", async () => {
    const h = encryptedHome();
    const stale = parseAuthRecord(JSON.stringify(await issuedRecord(issuer, { stale: true })), "fixture");
    await new EncryptedAuthStorage(h, { scryptWorkFactor: 12 }).save(stale);
    const refreshes = () => issuer.requests.filter((r) => r.grant_type === "refresh_token").length;
    const before = refreshes();
    const env = { CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/token` };
    const runs = await Promise.all([1, 2, 3, 4].map(() => ours(h, ["token"], "", env)));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    expect(refreshes()).toBe(before + 1);
    const saved = await new EncryptedAuthStorage(h).load();
    expect(new Set(runs.map((r) => r.stdout.trim()))).toEqual(new Set([saved?.tokens?.access_token]));
    expect(readFileSync(agePath(h), "latin1")).toMatch(/\n-> scrypt \S+ 12\n/); // the file's work factor is kept
  }, 120_000);

  it("encrypted-watch-sees-codex: a watching AuthManager gets one event for codex's login and one for its logout", async () => {
    const h = encryptedHome();
    const config = await loadConfig({ codexHome: h, env: {} });
    const manager = await AuthManager.create({ codexHome: h, config, watch: { persistent: false } });
    try {
      expect(manager.authCached()).toBeUndefined();
      const events: AuthChangeEvent[] = [];
      let wake: (() => void) | undefined;
      manager.onChange((e) => {
        events.push(e);
        wake?.();
      });
      const nextEvent = (count: number) =>
        new Promise<void>((resolve) => {
          wake = () => events.length >= count && resolve();
          wake();
        });
      expect((await codexRun(h, ["login", "--with-api-key"], KEY)).code).toBe(0);
      await nextEvent(1);
      expect(events[0]).toMatchObject({ kind: "signed-in", account: { mode: "apikey" } });
      expect((await codexRun(h, ["logout"])).code).toBe(0);
      await nextEvent(2);
      expect(events[1]).toMatchObject({ kind: "signed-out" });
      expect(manager.authCached()).toBeUndefined();
      expect(events).toHaveLength(2);
    } finally {
      await manager.close();
    }
  }, 120_000);

  it("encrypted-app-server: our app server signs in into the store codex reads, and reads what codex wrote", async () => {
    const h = encryptedHome();
    const rpc = (lines: unknown[]) =>
      ours(h, ["app-server"], lines.map((l) => `${JSON.stringify(l)}\n`).join("")).then((r) =>
        r.stdout
          .split("\n")
          .filter((l) => l.startsWith("{"))
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      );
    const init = {
      id: 1,
      method: "initialize",
      params: { clientInfo: { name: "encrypted-test", version: "1" } },
    };
    const login = { id: 2, method: "account/login/start", params: { type: "apiKey", apiKey: KEY } };
    expect((await rpc([init, login])).find((m) => m.id === 2)).toMatchObject({ result: { type: "apiKey" } });
    expect(statusLines(await codexRun(h, ["login", "status"])).stderr).toMatch(
      /^API key configured - sk-test-\*\*\*56789\n/,
    );
    expect(await codexRun(h, ["logout"])).toMatchObject({ code: 0 });
    const other = "sk-test-codex-wrote-this-0000012345";
    expect((await codexRun(h, ["login", "--with-api-key"], other)).code).toBe(0);
    const status = (
      await rpc([init, { id: 3, method: "getAuthStatus", params: { includeToken: true } }])
    ).find((m) => m.id === 3);
    expect(status).toMatchObject({ result: { authMethod: "apikey", authToken: other } });
  }, 120_000);

  it("encrypted-missing-key-refused-by-cli: login status, login and logout fail, nothing written, no new key", async () => {
    const h = encryptedHome();
    expect((await codexRun(h, ["login", "--with-api-key"], KEY)).code).toBe(0);
    await withKeyring(
      { timeoutMs: 5000, env: process.env, codexHome: h, service: SECRETS_KEYRING_SERVICE },
      (k) => k.delete(secretsKeyringAccount(h)),
    );
    const before = readFileSync(agePath(h));
    const status = await ours(h, ["login", "status"]);
    expect(status.code).toBe(1);
    expect(status.stderr).toBe(
      `Error checking login status: ${agePath(h)} holds encrypted credentials, but the keyring has no key for it (service "codex", account "${secretsKeyringAccount(h)}"). It was left unchanged and no new key was made; restore that keyring item, or move the file aside and sign in again.\n`,
    );
    const login = await ours(h, ["login", "--with-api-key"], "sk-test-replacement-000000000");
    expect(login.code).toBe(1);
    expect(login.stderr).toContain("the keyring has no key for it");
    const logout = await ours(h, ["logout"]);
    expect(logout.code).toBe(1);
    expect(logout.stderr).toContain("the keyring has no key for it");
    expect(readFileSync(agePath(h)).equals(before)).toBe(true);
    expect(await passphrase(h)).toBeNull();
  }, 120_000);

  it("encrypted-corrupt-file-reported: login status names the file; login refuses to replace it", async () => {
    const h = encryptedHome();
    expect((await ours(h, ["login", "--with-api-key"], KEY)).code).toBe(0);
    writeFileSync(agePath(h), "not an age file");
    const status = await ours(h, ["login", "status"]);
    expect(status.code).toBe(1);
    expect(status.stderr).toContain(
      `${agePath(h)} (encrypted credentials) cannot be read: it is not an age file`,
    );
    expect((await ours(h, ["login", "--with-api-key"], KEY)).code).toBe(1);
    expect(readFileSync(agePath(h), "utf8")).toBe("not an age file");
  }, 120_000);
});
