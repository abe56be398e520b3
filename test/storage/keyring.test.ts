/**
 * KeyringAuthStorage against a real Secret Service (gnome-keyring under
 * dbus-run-session, see scripts/with-secret-service.sh), checked against
 * what `@napi-rs/keyring` reads and writes, and against dead D-Bus
 * addresses. Buses that hang: keyring-frozen.test.ts.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Entry } from "@napi-rs/keyring";
import { build } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
import { AuthFileMalformedError, KeyringUnavailableError } from "../../src/errors.js";
import {
  type AuthRecord,
  parseAuthRecord,
  serializeAuthRecordCompact,
} from "../../src/record/auth-record.js";
import { FileAuthStorage } from "../../src/storage/file.js";
import { keyringPathCounts } from "../../src/storage/keyring/client.js";
import { KeyringAuthStorage } from "../../src/storage/keyring.js";
import { KEYRING_SERVICE, keyringAccountKey } from "../../src/storage/keyring-key.js";
import {
  makeCodexHome,
  REPO_ROOT,
  removeCodexHome,
  requireOptional,
  throwawaySecretService,
} from "../support/env.js";
import { fakeChatgptRecord } from "../support/jwt.js";
import { ScratchCollection } from "./keyring-fixtures.js";

// Only a throwaway keyring: never write test entries into a developer's real one.
const secretService = throwawaySecretService();
const secretTool = spawnSync("secret-tool", ["--version"]).error === undefined;

const homes: string[] = [];
afterAll(() => {
  for (const h of homes) removeCodexHome(h);
});
function home(): string {
  const h = makeCodexHome("keyring");
  homes.push(h);
  return h;
}

const pinned = { linux: { store: "secret-service" as const } };
const entry = (account: string) => new Entry(KEYRING_SERVICE, account, pinned);
const apiKeyRecord: AuthRecord = { auth_mode: "apikey", OPENAI_API_KEY: "sk-test-1234567890ABCDEFGH" };
const chatgptRecord = parseAuthRecord(JSON.stringify(fakeChatgptRecord()), "fixture");

/** Writes a record in the "v2" layout, as the newer Codex store does. */
function writeV2(key: string, record: AuthRecord, revision = "rev-1"): string[] {
  const prefix = `${key}|v2|${revision}|`;
  const values: Record<string, string> = {
    manifest: JSON.stringify({
      auth_mode: record.auth_mode ?? null,
      has_openai_api_key: record.OPENAI_API_KEY !== null,
      has_tokens: record.tokens !== undefined,
      has_account_id: record.tokens?.account_id != null,
      last_refresh: record.last_refresh ?? null,
    }),
  };
  if (record.OPENAI_API_KEY !== null) values.OPENAI_API_KEY = record.OPENAI_API_KEY;
  if (record.tokens) {
    values["tokens.id_token"] = record.tokens.id_token;
    values["tokens.access_token"] = record.tokens.access_token;
    values["tokens.refresh_token"] = record.tokens.refresh_token;
    if (record.tokens.account_id !== null) values["tokens.account_id"] = record.tokens.account_id;
  }
  const accounts = Object.keys(values).map((name) => prefix + name);
  for (const [name, value] of Object.entries(values)) entry(prefix + name).setPassword(value);
  entry(`${key}|v2|active`).setPassword(revision);
  return [...accounts, `${key}|v2|active`];
}

describe.runIf(secretService)("keyring storage with a real Secret Service", () => {
  it("save, load and delete round-trip API-key and ChatGPT records", async () => {
    const storage = new KeyringAuthStorage(home());
    expect(await storage.load()).toBeUndefined();
    await storage.save(apiKeyRecord);
    expect(await storage.load()).toEqual(apiKeyRecord);
    await storage.save(chatgptRecord);
    expect(await storage.load()).toEqual({ ...chatgptRecord, auth_mode: "chatgpt" });
    expect(await storage.delete()).toBe(true);
    expect(await storage.load()).toBeUndefined();
    expect(await storage.delete()).toBe(false);
  });

  it("writes Codex's legacy layout: one entry holding the compact JSON record", async () => {
    const h = home();
    const key = keyringAccountKey(h);
    expect(key).toMatch(/^cli\|[0-9a-f]{16}$/);
    await new KeyringAuthStorage(h).save(chatgptRecord);
    const expected = serializeAuthRecordCompact(chatgptRecord);
    expect(entry(key).getPassword()).toBe(expected);
    if (
      !requireOptional(secretTool, "secret-tool (libsecret-tools) not installed: item attributes unchecked")
    )
      return;
    const found = spawnSync("secret-tool", ["search", "--all", "service", KEYRING_SERVICE, "username", key], {
      encoding: "utf8",
    });
    // One item; secret-tool prints its label and secret on stdout, its attributes on stderr.
    expect(found.stdout.match(/^\[/gm)).toHaveLength(1);
    const lines = `${found.stdout}\n${found.stderr}`.split("\n");
    expect(lines).toContain(`attribute.service = ${KEYRING_SERVICE}`);
    expect(lines).toContain(`attribute.username = ${key}`);
    expect(lines).toContain(`secret = ${expected}`);
  });

  it("reads the v2 layout when there is no legacy entry", async () => {
    const h = home();
    writeV2(keyringAccountKey(h), chatgptRecord);
    expect(await new KeyringAuthStorage(h).load()).toEqual({ ...chatgptRecord, auth_mode: undefined });
    const h2 = home();
    writeV2(keyringAccountKey(h2), apiKeyRecord, "r2");
    expect(await new KeyringAuthStorage(h2).load()).toEqual(apiKeyRecord);
  });

  it("prefers the legacy entry over v2 entries", async () => {
    const h = home();
    writeV2(keyringAccountKey(h), chatgptRecord);
    entry(keyringAccountKey(h)).setPassword(serializeAuthRecordCompact(apiKeyRecord));
    expect(await new KeyringAuthStorage(h).load()).toEqual(apiKeyRecord);
  });

  it("malformed-secret-is-reported-and-kept: a typed error names the entry, which stays untouched", async () => {
    const h = home();
    const key = keyringAccountKey(h);
    const storage = new KeyringAuthStorage(h);
    for (const bad of ['{"OPENAI_API_KEY":', "[]", '{"OPENAI_API_KEY":5}']) {
      entry(key).setPassword(bad);
      const err = await storage.load().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuthFileMalformedError);
      expect((err as AuthFileMalformedError).source).toBe(`keyring entry Codex Auth/${key}`);
      expect(entry(key).getPassword()).toBe(bad);
    }
    entry(key).setSecret(Uint8Array.from([0xff, 0xfe, 0x7b]));
    await expect(storage.load()).rejects.toThrow(/not UTF-8/);
    expect(entry(key).getSecret()).toEqual([0xff, 0xfe, 0x7b]);
  });

  it("a v2 manifest that promises a missing entry is a typed error", async () => {
    const h = home();
    const key = keyringAccountKey(h);
    writeV2(key, chatgptRecord);
    entry(`${key}|v2|rev-1|tokens.refresh_token`).deleteCredential();
    const err = await new KeyringAuthStorage(h).load().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthFileMalformedError);
    expect((err as Error).message).toContain("tokens.refresh_token");
    expect(entry(`${key}|v2|active`).getPassword()).toBe("rev-1");
  });

  it("save removes the fallback auth.json (through the locks) and stale v2 entries", async () => {
    const h = home();
    await new FileAuthStorage(h).save(apiKeyRecord);
    const v2 = writeV2(keyringAccountKey(h), apiKeyRecord);
    await new KeyringAuthStorage(h).save(chatgptRecord);
    expect(existsSync(join(h, "auth.json"))).toBe(false);
    expect(statSync(join(h, "auth.json.lock")).mode & 0o777).toBe(0o600);
    for (const account of v2) expect(entry(account).getPassword()).toBeNull();
    expect(await new KeyringAuthStorage(h).load()).toEqual({ ...chatgptRecord, auth_mode: "chatgpt" });
  });

  it("save and delete inside one transaction do not deadlock", async () => {
    const storage = new KeyringAuthStorage(home());
    const removed = await storage.transaction(async (tx) => {
      await tx.save(apiKeyRecord);
      return tx.delete();
    });
    expect(removed).toBe(true);
  });

  it("delete removes the legacy entry, every v2 entry and auth.json", async () => {
    const h = home();
    const key = keyringAccountKey(h);
    const storage = new KeyringAuthStorage(h);
    await storage.save(apiKeyRecord);
    const v2 = writeV2(key, chatgptRecord);
    writeFileSync(join(h, "auth.json"), JSON.stringify(apiKeyRecord), { mode: 0o600 });
    expect(await storage.delete()).toBe(true);
    expect(entry(key).getPassword()).toBeNull();
    for (const account of v2) expect(entry(account).getPassword()).toBeNull();
    expect(existsSync(join(h, "auth.json"))).toBe(false);
    expect(await storage.delete()).toBe(false);

    // Any one of them alone still counts as "removed something".
    writeV2(key, apiKeyRecord);
    expect(await storage.delete()).toBe(true);
    writeFileSync(join(h, "auth.json"), JSON.stringify(apiKeyRecord), { mode: 0o600 });
    expect(await storage.delete()).toBe(true);
    expect(await storage.delete()).toBe(false);
  });

  it("homes reached through a symlink share one entry", async () => {
    const h = home();
    const link = `${h}-link`;
    homes.push(link);
    const { symlinkSync } = await import("node:fs");
    symlinkSync(h, link);
    await new KeyringAuthStorage(link).save(apiKeyRecord);
    expect(await new KeyringAuthStorage(h).load()).toEqual(apiKeyRecord);
    expect(await new KeyringAuthStorage(h).delete()).toBe(true);
    unlinkSync(link);
  });
});

describe.runIf(secretService)("which path a keyring call takes", () => {
  it("keyring-runs-in-process-when-healthy: loads, saves and deletes start no helper process", async () => {
    const before = { ...keyringPathCounts };
    const storage = new KeyringAuthStorage(home());
    await storage.save(chatgptRecord);
    expect(await storage.load()).toEqual({ ...chatgptRecord, auth_mode: "chatgpt" });
    expect(await storage.delete()).toBe(true);
    expect(keyringPathCounts.helperProcess).toBe(before.helperProcess);
    expect(keyringPathCounts.secretService).toBe(before.secretService + 3);
  });

  it("keyring-falls-back-to-the-binding-for-locked-items: a locked entry goes to the helper, which asks to unlock", async () => {
    const h = home();
    const key = keyringAccountKey(h);
    const collection = await ScratchCollection.create(`codex-auth test ${key}`);
    try {
      await collection.addItem(
        { service: KEYRING_SERVICE, username: key },
        serializeAuthRecordCompact(apiKeyRecord),
      );
      await collection.lock();
      const storage = new KeyringAuthStorage(h, { keyringTimeoutMs: 3_000 });
      const before = keyringPathCounts.helperProcess;
      const started = performance.now();
      const err = await storage.load().catch((e: unknown) => e);
      const elapsed = performance.now() - started;
      console.log(
        `locked entry: ${Math.round(elapsed)} ms through the helper: ${(err as Error).message?.split(". ")[0]}`,
      );
      expect(keyringPathCounts.helperProcess).toBe(before + 1);
      // The binding asks gnome-keyring to unlock; the prompt cannot show here (no display), or waits for an answer.
      expect(err).toBeInstanceOf(KeyringUnavailableError);
      expect(elapsed).toBeLessThan(3_000 + 1_500);
      await collection.unlock();
      expect(await storage.load()).toEqual(apiKeyRecord);
      expect(keyringPathCounts.helperProcess).toBe(before + 1);
    } finally {
      await collection.remove();
    }
  });

  it("keyring-refuses-ambiguous-entries: two items for one account are an error, as with the binding", async () => {
    const h = home();
    const key = keyringAccountKey(h);
    const first = await ScratchCollection.create(`codex-auth test ${key} 1`);
    const second = await ScratchCollection.create(`codex-auth test ${key} 2`);
    try {
      await first.addItem(
        { service: KEYRING_SERVICE, username: key },
        serializeAuthRecordCompact(apiKeyRecord),
      );
      await second.addItem(
        { service: KEYRING_SERVICE, username: key },
        serializeAuthRecordCompact(chatgptRecord),
      );
      expect(() => entry(key).getPassword()).toThrow();
      const storage = new KeyringAuthStorage(h);
      await expect(storage.load()).rejects.toThrow(/2 items match service "Codex Auth" and username/);
      await expect(storage.save(apiKeyRecord)).rejects.toBeInstanceOf(KeyringUnavailableError);
      await second.remove();
      expect(await storage.load()).toEqual(apiKeyRecord);
    } finally {
      await first.remove();
      await second.remove().catch(() => {});
    }
  });

  it("keyring-does-not-hold-the-process: a program exits on its own right after its keyring calls", async () => {
    const script = join(home(), "round-trip-and-exit.mjs");
    await build({
      stdin: {
        contents: `import { KeyringAuthStorage } from "./src/storage/keyring.ts";
          const storage = new KeyringAuthStorage(process.argv[2]);
          let done;
          await storage.save({ auth_mode: "apikey", OPENAI_API_KEY: "sk-test-1234567890ABCDEFGH" });
          const loaded = await storage.load();
          await storage.delete();
          done = performance.now();
          process.on("exit", () => console.log(loaded.auth_mode, Math.round(performance.now() - done)));`,
        resolveDir: REPO_ROOT,
        loader: "ts",
      },
      bundle: true,
      platform: "node",
      format: "esm",
      packages: "external",
      outfile: script,
      logLevel: "silent",
    });
    // No process.exit anywhere: the child ends only when nothing keeps its event loop alive.
    const child = spawn(process.execPath, [script, home()], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
    });
    const code = await new Promise((resolve) => child.on("exit", resolve));
    const [mode, exitedAfterMs] = out.trim().split(" ");
    console.log(`healthy keyring: the program exited ${exitedAfterMs} ms after its last call`);
    expect(code).toBe(0);
    expect(mode).toBe("apikey");
    expect(Number(exitedAfterMs)).toBeLessThan(300);
  });
});

describe("keyring-bounded-wait: an unreachable or hung bus fails fast with a clear error", () => {
  it("a bus address that does not exist", async () => {
    const h = home();
    const storage = new KeyringAuthStorage(h, {
      env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent/bus" },
    });
    for (const op of [() => storage.load(), () => storage.save(apiKeyRecord), () => storage.delete()]) {
      const started = performance.now();
      const err = await op().catch((e: unknown) => e);
      expect(performance.now() - started).toBeLessThan(3_000);
      expect(err).toBeInstanceOf(KeyringUnavailableError);
      expect((err as Error).message).toContain("OS keyring (Secret Service) is unavailable");
      expect((err as Error).message).toContain('cli_auth_credentials_store = "file"');
    }
    expect(existsSync(join(h, "auth.json"))).toBe(false);
  });

  it("no D-Bus session at all", async () => {
    const { DBUS_SESSION_BUS_ADDRESS: _unset, ...env } = process.env;
    const storage = new KeyringAuthStorage(home(), { env });
    await expect(storage.load()).rejects.toBeInstanceOf(KeyringUnavailableError);
  });
});
