/**
 * AutoAuthStorage: the keyring when it works (a real Secret Service, see
 * scripts/with-secret-service.sh), auth.json when it does not (a dead D-Bus
 * address given to the keyring helper process).
 */
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Entry } from "@napi-rs/keyring";
import { afterAll, describe, expect, it } from "vitest";
import { AuthFileMalformedError } from "../../src/errors.js";
import { type AuthRecord, serializeAuthRecord } from "../../src/record/auth-record.js";
import { AutoAuthStorage } from "../../src/storage/auto.js";
import { createStorage } from "../../src/storage/index.js";
import { KEYRING_SERVICE, keyringAccountKey } from "../../src/storage/keyring-key.js";
import { makeCodexHome, removeCodexHome, throwawaySecretService } from "../support/env.js";

// Only a throwaway keyring: never write test entries into a developer's real one.
const secretService = throwawaySecretService();

const homes: string[] = [];
afterAll(() => {
  for (const h of homes) removeCodexHome(h);
});
function home(): string {
  const h = makeCodexHome("auto");
  homes.push(h);
  return h;
}

const record: AuthRecord = { auth_mode: "apikey", OPENAI_API_KEY: "sk-test-1234567890ABCDEFGH" };
const other: AuthRecord = { auth_mode: "apikey", OPENAI_API_KEY: "sk-other-0987654321ZYXWVUT" };
const entry = (h: string) =>
  new Entry(KEYRING_SERVICE, keyringAccountKey(h), { linux: { store: "secret-service" } });
const deadBus = { ...process.env, DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent/bus" };

describe("auto storage when the keyring is unavailable", () => {
  function unavailable(h: string) {
    const warnings: string[] = [];
    const storage = new AutoAuthStorage(h, { env: deadBus, logger: (w) => warnings.push(w) });
    return { storage, warnings };
  }

  it("saves to and loads from auth.json, with one one-line warning per fallback", async () => {
    const h = home();
    const { storage, warnings } = unavailable(h);
    expect(await storage.load()).toBeUndefined();
    await storage.save(record);
    const text = readFileSync(join(h, "auth.json"), "utf8");
    expect(text).toBe(serializeAuthRecord(record));
    expect(statSync(join(h, "auth.json")).mode & 0o777).toBe(0o600);
    expect(await storage.load()).toEqual(record);
    expect(warnings).toHaveLength(3);
    for (const w of warnings) {
      expect(w).not.toContain("\n");
      expect(w).toContain(join(h, "auth.json"));
      expect(w).toContain("OS keyring (Secret Service) is unavailable");
      expect(w).not.toContain(record.OPENAI_API_KEY);
    }
  });

  it("auto-logout-without-keyring: delete still removes auth.json (Codex 0.169 leaves it)", async () => {
    const h = home();
    writeFileSync(join(h, "auth.json"), serializeAuthRecord(record), { mode: 0o600 });
    const { storage } = unavailable(h);
    expect(await storage.delete()).toBe(true);
    expect(existsSync(join(h, "auth.json"))).toBe(false);
    expect(existsSync(join(h, "auth.json.lock"))).toBe(true);
    expect(await storage.delete()).toBe(false);
  });

  it("is silent by default and is what createStorage returns for auto", async () => {
    const storage = await createStorage(home(), "auto");
    expect(storage).toBeInstanceOf(AutoAuthStorage);
    expect(storage.kind).toBe("auto");
    const quiet = new AutoAuthStorage(home(), { env: deadBus });
    await quiet.save(record);
    expect(await quiet.load()).toEqual(record);
  });
});

describe.runIf(secretService)("auto storage with a working keyring", () => {
  it("uses the keyring: save removes auth.json, load and delete go to the keyring", async () => {
    const h = home();
    writeFileSync(join(h, "auth.json"), serializeAuthRecord(other), { mode: 0o600 });
    const warnings: string[] = [];
    const storage = new AutoAuthStorage(h, { logger: (w) => warnings.push(w) });
    expect(await storage.load()).toEqual(other); // keyring empty → the file
    await storage.save(record);
    expect(existsSync(join(h, "auth.json"))).toBe(false);
    expect(entry(h).getPassword()).toBe(JSON.stringify(record));
    expect(await storage.load()).toEqual(record);
    expect(await storage.delete()).toBe(true);
    expect(entry(h).getPassword()).toBeNull();
    expect(await storage.load()).toBeUndefined();
    expect(warnings).toEqual([]);
  });

  it("the keyring wins over a leftover auth.json, and delete removes both", async () => {
    const h = home();
    entry(h).setPassword(JSON.stringify(record));
    writeFileSync(join(h, "auth.json"), serializeAuthRecord(other), { mode: 0o600 });
    const storage = new AutoAuthStorage(h);
    expect(await storage.load()).toEqual(record);
    expect(await storage.delete()).toBe(true);
    expect(existsSync(join(h, "auth.json"))).toBe(false);
    expect(entry(h).getPassword()).toBeNull();
  });

  it("a malformed keyring entry is reported, not hidden behind auth.json", async () => {
    const h = home();
    entry(h).setPassword("{not json");
    writeFileSync(join(h, "auth.json"), serializeAuthRecord(other), { mode: 0o600 });
    await expect(new AutoAuthStorage(h).load()).rejects.toBeInstanceOf(AuthFileMalformedError);
    expect(entry(h).getPassword()).toBe("{not json");
    entry(h).deleteCredential();
  });
});
