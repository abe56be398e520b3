/**
 * Codex's encrypted credential store (EncryptedAuthStorage) against a real
 * Secret Service (scripts/with-secret-service.sh): the format checked with
 * typage's own passphrase decryption, and every failure leaving the file
 * byte for byte as it was. Interop with the real codex binary is in
 * test/e2e/encrypted-codex-interop.test.ts.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Decrypter, Encrypter } from "age-encryption";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import {
  AuthFileMalformedError,
  KeyringUnavailableError,
  SecretsFileUnreadableError,
  SecretsFileVersionError,
  SecretsKeyMissingError,
} from "../../src/errors.js";
import type { AuthRecord } from "../../src/record/auth-record.js";
import { AutoAuthStorage } from "../../src/storage/auto.js";
import { EncryptedAuthStorage } from "../../src/storage/encrypted.js";
import { createStorage } from "../../src/storage/index.js";
import { withKeyring } from "../../src/storage/keyring/client.js";
import { SECRETS_KEYRING_SERVICE, secretsKeyringAccount } from "../../src/storage/keyring-key.js";
import { makeCodexHome, removeCodexHome, throwawaySecretService } from "../support/env.js";

const secretService = throwawaySecretService();
const homes: string[] = [];
afterAll(() => {
  for (const h of homes) removeCodexHome(h);
});
function home(): string {
  const h = makeCodexHome("encrypted");
  homes.push(h);
  return h;
}

const KEY = "sk-test-encrypted-0123456789";
const record: AuthRecord = { auth_mode: "apikey", OPENAI_API_KEY: KEY };
/** A cheap work factor: these tests are about the format and failures, not scrypt's cost. */
const FAST = { scryptWorkFactor: 10 };
const DEAD_BUS = { ...process.env, DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent/bus" };

const passphraseOf = (h: string) =>
  withKeyring({ timeoutMs: 5000, env: process.env, codexHome: h, service: SECRETS_KEYRING_SERVICE }, (k) =>
    k.get(secretsKeyringAccount(h)),
  ).then((v) => (v === null ? null : Buffer.from(v).toString("utf8")));
const removePassphrase = (h: string) =>
  withKeyring({ timeoutMs: 5000, env: process.env, codexHome: h, service: SECRETS_KEYRING_SERVICE }, (k) =>
    k.delete(secretsKeyringAccount(h)),
  );
const agePath = (h: string) => join(h, "secrets", "codex_auth.age");

/** Decrypts with typage's own scrypt (not ours): an independent check of what we write. */
async function decryptWithTypage(h: string): Promise<unknown> {
  const passphrase = await passphraseOf(h);
  const d = new Decrypter();
  d.addPassphrase(passphrase!);
  return JSON.parse(await d.decrypt(readFileSync(agePath(h)), "text"));
}

/** Writes a secrets file with typage's own scrypt recipient, as Codex (rage) would. */
async function writeWithTypage(h: string, plaintext: string, passphrase: string): Promise<void> {
  const e = new Encrypter();
  e.setPassphrase(passphrase);
  e.setScryptWorkFactor(10);
  mkdirSync(join(h, "secrets"), { recursive: true });
  writeFileSync(agePath(h), await e.encrypt(plaintext));
}

/** Runs `fn`, expecting a rejection; returns the error after checking the file did not change. */
async function refusedUnchanged(h: string, fn: () => Promise<unknown>): Promise<Error> {
  const before = readFileSync(agePath(h));
  const err = await fn().then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: Error) => e,
  );
  expect(readFileSync(agePath(h)).equals(before)).toBe(true);
  expect(readdirSync(join(h, "secrets"))).toEqual(["codex_auth.age"]);
  return err;
}

describe.runIf(secretService)("Codex's encrypted credential store", () => {
  it("encrypted-store-format: what we save is Codex's age file, key and JSON (checked with typage's own scrypt)", async () => {
    const h = home();
    await new EncryptedAuthStorage(h, FAST).save(record);
    const passphrase = await passphraseOf(h);
    expect(passphrase).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(passphrase!, "base64")).toHaveLength(32);
    const bytes = readFileSync(agePath(h), "latin1");
    expect(bytes).toMatch(/^age-encryption\.org\/v1\n-> scrypt [A-Za-z0-9+/]{22} 10\n/);
    expect(await decryptWithTypage(h)).toEqual({
      version: 1,
      secrets: { "global/CODEX_AUTH": JSON.stringify(record) },
    });
    expect(statSync(agePath(h)).mode & 0o777).toBe(0o600);
    expect(statSync(join(h, "secrets")).mode & 0o777).toBe(0o700);
    expect(await new EncryptedAuthStorage(h).load()).toEqual(record);
  });

  it("encrypted-store-reads-typage: a file encrypted by another age implementation loads", async () => {
    const h = home();
    const passphrase = Buffer.alloc(32, 7).toString("base64");
    await withKeyring(
      { timeoutMs: 5000, env: process.env, codexHome: h, service: SECRETS_KEYRING_SERVICE },
      (k) => k.set(secretsKeyringAccount(h), passphrase),
    );
    await writeWithTypage(
      h,
      JSON.stringify({ version: 0, secrets: { "global/CODEX_AUTH": JSON.stringify(record) } }),
      passphrase,
    );
    expect(await new EncryptedAuthStorage(h).load()).toEqual(record);
  });

  it("encrypted-save-keeps-other-entries and the work factor; delete removes only our entry and keeps the file", async () => {
    const h = home();
    const passphrase = Buffer.alloc(32, 9).toString("base64");
    await withKeyring(
      { timeoutMs: 5000, env: process.env, codexHome: h, service: SECRETS_KEYRING_SERVICE },
      (k) => k.set(secretsKeyringAccount(h), passphrase),
    );
    await writeWithTypage(h, JSON.stringify({ version: 1, secrets: { "global/OTHER": "kept" } }), passphrase);
    const storage = new EncryptedAuthStorage(h, { scryptWorkFactor: 12 });
    expect(await storage.load()).toBeUndefined();
    await storage.save(record);
    expect(readFileSync(agePath(h), "latin1")).toMatch(/\n-> scrypt \S+ 10\n/);
    expect(await decryptWithTypage(h)).toEqual({
      version: 1,
      secrets: { "global/CODEX_AUTH": JSON.stringify(record), "global/OTHER": "kept" },
    });
    expect(await storage.delete()).toBe(true);
    expect(await decryptWithTypage(h)).toEqual({ version: 1, secrets: { "global/OTHER": "kept" } });
    expect(await storage.delete()).toBe(false);
    expect(await passphraseOf(h)).toBe(passphrase); // other Codex secrets share the key
  });

  it("encrypted-save-removes-auth-json, as Codex's does", async () => {
    const h = home();
    writeFileSync(join(h, "auth.json"), JSON.stringify({ OPENAI_API_KEY: "sk-old-0000000000" }));
    const storage = new EncryptedAuthStorage(h, FAST);
    expect(await storage.load()).toBeUndefined(); // auth.json is not read in keyring mode
    await storage.save(record);
    expect(existsSync(join(h, "auth.json"))).toBe(false);
  });

  it("encrypted-missing-key-never-overwrites: load, save and delete refuse; no new key is made", async () => {
    const h = home();
    await new EncryptedAuthStorage(h, FAST).save(record);
    await removePassphrase(h);
    const storage = new EncryptedAuthStorage(h, FAST);
    for (const op of [() => storage.load(), () => storage.save(record), () => storage.delete()]) {
      const err = await refusedUnchanged(h, op);
      expect(err).toBeInstanceOf(SecretsKeyMissingError);
      expect((err as SecretsKeyMissingError).code).toBe("ERR_SECRETS_KEY_MISSING");
      expect(err.message).toContain(agePath(h));
      expect(err.message).toContain(secretsKeyringAccount(h));
    }
    expect(await passphraseOf(h)).toBeNull();
  });

  it("encrypted-corrupt-file-refused: not age, other key, damaged payload — never rewritten", async () => {
    const h = home();
    const storage = new EncryptedAuthStorage(h, FAST);
    await storage.save(record);
    const good = readFileSync(agePath(h));

    // A plaintext record where the encrypted file should be: reported without echoing it.
    writeFileSync(agePath(h), JSON.stringify(record));
    const plaintext = await refusedUnchanged(h, () => storage.load());
    expect(plaintext).toMatchObject({ code: "ERR_SECRETS_FILE_UNREADABLE", problem: "format" });
    expect(plaintext.message).toContain("its first line is not age's version line");
    expect(plaintext.message).not.toContain(KEY);

    writeFileSync(agePath(h), "garbage");
    for (const op of [() => storage.load(), () => storage.save(record), () => storage.delete()]) {
      const err = await refusedUnchanged(h, op);
      expect(err).toBeInstanceOf(SecretsFileUnreadableError);
      expect((err as SecretsFileUnreadableError).problem).toBe("format");
    }

    const e = new Encrypter();
    e.setPassphrase("another key");
    e.setScryptWorkFactor(10);
    writeFileSync(agePath(h), await e.encrypt("{}"));
    const wrongKey = await refusedUnchanged(h, () => storage.save(record));
    expect(wrongKey).toMatchObject({ code: "ERR_SECRETS_FILE_UNREADABLE", problem: "key" });

    const damaged = Buffer.from(good);
    damaged[damaged.length - 1]! ^= 1;
    writeFileSync(agePath(h), damaged);
    expect(await refusedUnchanged(h, () => storage.load())).toMatchObject({ problem: "format" });

    const passphrase = (await passphraseOf(h))!;
    for (const err of [
      await refusedUnchanged(h, () => storage.load()),
      await refusedUnchanged(h, () => storage.delete()),
    ]) {
      expect(err.message).not.toContain(passphrase);
      expect(err.message).not.toContain(KEY);
    }
  });

  it("encrypted-newer-version-refused, and contents that are not Codex's JSON", async () => {
    const h = home();
    const passphrase = Buffer.alloc(32, 3).toString("base64");
    await withKeyring(
      { timeoutMs: 5000, env: process.env, codexHome: h, service: SECRETS_KEYRING_SERVICE },
      (k) => k.set(secretsKeyringAccount(h), passphrase),
    );
    const storage = new EncryptedAuthStorage(h, FAST);
    await writeWithTypage(h, JSON.stringify({ version: 2, secrets: {} }), passphrase);
    for (const op of [() => storage.load(), () => storage.save(record), () => storage.delete()]) {
      const err = await refusedUnchanged(h, op);
      expect(err).toBeInstanceOf(SecretsFileVersionError);
      expect(err).toMatchObject({ code: "ERR_SECRETS_FILE_VERSION", version: 2 });
    }
    await writeWithTypage(h, "not json", passphrase);
    expect(await refusedUnchanged(h, () => storage.save(record))).toMatchObject({ problem: "contents" });
    await writeWithTypage(
      h,
      JSON.stringify({ version: 1, secrets: { "global/CODEX_AUTH": '{"auth_mode": 5}' } }),
      passphrase,
    );
    const bad = await refusedUnchanged(h, () => storage.load());
    expect(bad).toBeInstanceOf(AuthFileMalformedError);
    expect(bad.message).toContain("global/CODEX_AUTH");
  });

  it("encrypted-keyring-down: a clear error, the file unchanged; auto falls back to auth.json", async () => {
    const h = home();
    await new EncryptedAuthStorage(h, FAST).save(record);
    const down = new EncryptedAuthStorage(h, { ...FAST, env: DEAD_BUS, keyringTimeoutMs: 2000 });
    for (const op of [() => down.load(), () => down.save(record), () => down.delete()]) {
      expect(await refusedUnchanged(h, op)).toBeInstanceOf(KeyringUnavailableError);
    }
    const auto = new AutoAuthStorage(h, { secretAuthStorage: true, env: DEAD_BUS, keyringTimeoutMs: 2000 });
    expect(await auto.load()).toBeUndefined();
    const fallback: AuthRecord = { auth_mode: "apikey", OPENAI_API_KEY: "sk-fallback-000000000000" };
    await auto.save(fallback);
    expect(JSON.parse(readFileSync(join(h, "auth.json"), "utf8"))).toEqual(fallback);
    expect(await new EncryptedAuthStorage(h).load()).toEqual(record);
  });

  it("encrypted-load-cached: an unchanged file is not decrypted again (no keyring call), a replaced one is", async () => {
    const h = home();
    await new EncryptedAuthStorage(h, FAST).save(record);
    const env = { ...process.env };
    const storage = new EncryptedAuthStorage(h, { env, keyringTimeoutMs: 1000 });
    expect(await storage.load()).toEqual(record);
    // From now on the keyring is unreachable for this object: only its cache can answer.
    env.DBUS_SESSION_BUS_ADDRESS = "unix:path=/nonexistent/bus";
    expect(await storage.load()).toEqual(record);
    const next: AuthRecord = { auth_mode: "apikey", OPENAI_API_KEY: "sk-next-00000000000000" };
    await new EncryptedAuthStorage(h).save(next); // another writer replaces the file
    await expect(storage.load()).rejects.toBeInstanceOf(KeyringUnavailableError);
    expect(await new EncryptedAuthStorage(h).load()).toEqual(next);
  });

  it("secret-auth-storage-config selects the encrypted store for keyring and auto only", async () => {
    const h = home();
    writeFileSync(
      join(h, "config.toml"),
      'cli_auth_credentials_store = "keyring"\n\n[features]\nsecret_auth_storage = true\n',
    );
    const config = await loadConfig({ codexHome: h, env: {} });
    expect(config.secretAuthStorage).toBe(true);
    const options = { secretAuthStorage: config.secretAuthStorage };
    expect(await createStorage(h, "keyring", options)).toBeInstanceOf(EncryptedAuthStorage);
    const auto = await createStorage(h, "auto", options);
    expect((auto as AutoAuthStorage).keyring).toBeInstanceOf(EncryptedAuthStorage);
    expect((await createStorage(h, "file", options)).kind).toBe("file");
    expect((await createStorage(h, "ephemeral", options)).kind).toBe("ephemeral");
    const off = await loadConfig({
      codexHome: h,
      env: {},
      overrides: ["features.secret_auth_storage=false"],
    });
    expect(off.secretAuthStorage).toBe(false);
  });
});
