/**
 * The keyring backend against the real codex 0.169 binary, both using the
 * same throwaway Secret Service (scripts/with-secret-service.sh) with
 * `cli_auth_credentials_store = "keyring"`: each program reads and removes
 * what the other wrote. Only `codex login`, `logout` and `login status` run.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type AuthRecord, parseAuthRecord } from "../../src/record/auth-record.js";
import { KeyringAuthStorage } from "../../src/storage/keyring.js";
import { findCodexBinary, makeCodexHome, removeCodexHome, throwawaySecretService } from "../support/env.js";
import { fakeChatgptRecord } from "../support/jwt.js";
import { runCodex } from "../support/run.js";

// Only a throwaway keyring: never write test entries into a developer's real one.
const secretService = throwawaySecretService();
const codex = findCodexBinary();

const homes: string[] = [];
afterAll(() => {
  for (const h of homes) removeCodexHome(h);
});
function keyringHome(): string {
  const h = makeCodexHome("keyring-interop");
  homes.push(h);
  writeFileSync(join(h, "config.toml"), 'cli_auth_credentials_store = "keyring"\n', { mode: 0o600 });
  return h;
}

const KEY = "sk-test-1234567890ABCDEFGH";
const apiKeyRecord: AuthRecord = { auth_mode: "apikey", OPENAI_API_KEY: KEY };
const codexRun = (home: string, args: string[], input = "") => runCodex(codex!, args, { home, input });

describe.runIf(secretService && codex)("keyring storage interoperates with codex 0.169", () => {
  it("codex login --with-api-key → our load returns it", async () => {
    const h = keyringHome();
    const login = codexRun(h, ["login", "--with-api-key"], KEY);
    expect(login.code, login.stderr).toBe(0);
    expect(await new KeyringAuthStorage(h).load()).toEqual(apiKeyRecord);
  });

  it("our save → codex login status sees the API key; codex logout removes it", async () => {
    const h = keyringHome();
    const storage = new KeyringAuthStorage(h);
    await storage.save(apiKeyRecord);
    const status = codexRun(h, ["login", "status"]);
    expect(status).toMatchObject({ code: 0, stdout: "" });
    expect(status.stderr).toMatch(/^API key configured - sk-test-\*\*\*DEFGH\n/);
    const logout = codexRun(h, ["logout"]);
    expect(logout).toMatchObject({ code: 0, stderr: "Successfully logged out\n" });
    expect(await storage.load()).toBeUndefined();
  });

  it("our ChatGPT save → codex login status says ChatGPT", async () => {
    const h = keyringHome();
    await new KeyringAuthStorage(h).save(parseAuthRecord(JSON.stringify(fakeChatgptRecord()), "fixture"));
    const status = codexRun(h, ["login", "status"]);
    expect(status).toMatchObject({ code: 0, stderr: "Logged in using ChatGPT\n" });
  });

  it("codex login → our delete → codex login status: Not logged in", async () => {
    const h = keyringHome();
    expect(codexRun(h, ["login", "--with-api-key"], KEY).code).toBe(0);
    expect(await new KeyringAuthStorage(h).delete()).toBe(true);
    expect(codexRun(h, ["login", "status"])).toMatchObject({ code: 1, stderr: "Not logged in\n" });
  });

  it("codex 0.169 does not read the v2 layout (we do), so we never write it", async () => {
    const h = keyringHome();
    const { Entry } = await import("@napi-rs/keyring");
    const { keyringAccountKey, KEYRING_SERVICE } = await import("../../src/storage/keyring-key.js");
    const key = keyringAccountKey(h);
    const set = (suffix: string, value: string) =>
      new Entry(KEYRING_SERVICE, key + suffix, { linux: { store: "secret-service" } }).setPassword(value);
    set("|v2|r1|manifest", JSON.stringify({ auth_mode: "apikey", has_openai_api_key: true }));
    set("|v2|r1|OPENAI_API_KEY", KEY);
    set("|v2|active", "r1");
    const storage = new KeyringAuthStorage(h);
    expect(await storage.load()).toEqual(apiKeyRecord);
    expect(codexRun(h, ["login", "status"])).toMatchObject({ code: 1, stderr: "Not logged in\n" });
    expect(await storage.delete()).toBe(true);
    expect(await storage.load()).toBeUndefined();
  });
});
