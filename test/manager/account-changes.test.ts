/**
 * Account changes (issue 11, item 3): an AuthManager with `watch` notices
 * what another process writes to the same CODEX_HOME — sign-in, refresh,
 * account switch, logout — and emits one typed event per change; its own
 * refresh and logout give one event each too, never a second one from the
 * watch. Every wait is on an event (a change event, a child's answer, a
 * process exit), never on a timer; "no extra event" is shown by the next
 * change's event being the next one recorded.
 */
import { spawn } from "node:child_process";
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type AuthChangeEvent,
  AuthManager,
  type AuthRecord,
  authFromRecord,
  EphemeralAuthStorage,
} from "../../src/index.js";
import { describeChange } from "../../src/manager/account-changes.js";
import { parseAuthRecord } from "../../src/record/auth-record.js";
import { buildSaveLoop, SaveLoopServer } from "../fixtures/child.js";
import { apiKeyOf, ChangeRecorder } from "../support/changes.js";
import { makeCodexHome, REPO_ROOT, removeCodexHome } from "../support/env.js";
import { fakeChatgptRecord, fakeJwt } from "../support/jwt.js";
import { type ScriptedServer, startScriptedServer } from "../support/scripted-server.js";

const record = (o: Parameters<typeof fakeChatgptRecord>[0] = {}): AuthRecord =>
  parseAuthRecord(JSON.stringify(fakeChatgptRecord(o)), "fixture");
const apiKey = (key: string): AuthRecord => ({ auth_mode: "apikey", OPENAI_API_KEY: key });
const snapshot = (r: AuthRecord) => authFromRecord(r, "fixture");

describe("describeChange: the kind of a change", () => {
  const a = snapshot(record({ accountId: "org_a", userId: "user-1", email: "one@example.com" }));
  it("nothing → something is signed-in; something → nothing is signed-out", () => {
    expect(describeChange(undefined, a)).toMatchObject({
      kind: "signed-in",
      auth: a,
      account: { mode: "chatgpt", accountId: "org_a", plan: "pro", email: "one@example.com" },
      previous: undefined,
    });
    expect(describeChange(a, undefined)).toMatchObject({
      kind: "signed-out",
      auth: undefined,
      account: undefined,
      previous: { accountId: "org_a" },
    });
    expect(describeChange(undefined, undefined)).toBeUndefined();
  });

  it("same workspace and user with new tokens or plan is refreshed", () => {
    const b = snapshot(
      record({ accountId: "org_a", userId: "user-1", refreshToken: "rt_new", plan: "plus" }),
    );
    expect(describeChange(a, b)).toMatchObject({
      kind: "refreshed",
      account: { plan: "plus" },
      previous: { plan: "pro" },
    });
  });

  it("another workspace, another user, another mode or another API key is switched", () => {
    const otherWorkspace = snapshot(record({ accountId: "org_b", userId: "user-1" }));
    const otherUser = snapshot(record({ accountId: "org_a", userId: "user-2" }));
    const key1 = snapshot(apiKey("sk-one-1234567890"));
    const key2 = snapshot(apiKey("sk-two-1234567890"));
    expect(describeChange(a, otherWorkspace)?.kind).toBe("switched");
    expect(describeChange(a, otherUser)?.kind).toBe("switched");
    expect(describeChange(a, key1)).toMatchObject({
      kind: "switched",
      account: { mode: "apikey", accountId: undefined, plan: undefined, email: undefined },
    });
    expect(describeChange(key1, key2)?.kind).toBe("switched");
  });

  it("an event never carries a secret outside `auth`", () => {
    const key = snapshot(apiKey("sk-secret-1234567890"));
    const event = describeChange(a, key)!;
    expect(JSON.stringify({ ...event, auth: undefined })).not.toContain("sk-secret");
    expect(JSON.stringify({ ...event, auth: undefined })).not.toContain("rt_fake");
  });
});

let bundle: Awaited<ReturnType<typeof buildSaveLoop>>;
let server: ScriptedServer;
beforeAll(async () => {
  bundle = await buildSaveLoop();
  server = await startScriptedServer();
});
afterAll(async () => {
  bundle?.remove();
  await server?.close();
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
function home(prefix = "changes"): string {
  const h = makeCodexHome(prefix);
  cleanups.push(() => removeCodexHome(h));
  return h;
}
/** Another process writing `h` with codex-auth's storage, and a typed way to ask it. */
function writer(h: string) {
  const child = new SaveLoopServer(bundle.path, h);
  cleanups.push(() => child.stop());
  return {
    async save(r: AuthRecord) {
      expect(await child.request({ op: "save", record: r })).toEqual({ ok: true });
    },
    async delete() {
      expect(await child.request({ op: "delete" })).toMatchObject({ ok: true, removed: true });
    },
  };
}
async function watching(h: string, extra: Partial<Parameters<typeof AuthManager.create>[0]> = {}) {
  const manager = await AuthManager.create({
    codexHome: h,
    watch: true,
    env: { CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${server.url}/oauth/token` },
    ...extra,
  });
  cleanups.push(() => manager.close());
  return { manager, changes: new ChangeRecorder(manager) };
}

describe("file mode: changes by another process", () => {
  it("change-event-once-per-save: every save (a new inode each time) and a delete give one event each, in order", async () => {
    const h = home();
    const { manager, changes } = await watching(h);
    const other = writer(h);
    expect(manager.authCached()).toBeUndefined();

    await other.save(apiKey("sk-first-1234567890"));
    expect(await changes.next()).toMatchObject({ kind: "signed-in", account: { mode: "apikey" } });
    const rounds = 12;
    for (let i = 0; i < rounds; i++) {
      await other.save(i % 2 ? apiKey(`sk-round-${i}-1234567890`) : record({ refreshToken: `rt_${i}` }));
      const event = await changes.next();
      expect(event.kind).toBe("switched");
      expect(event.auth).toBe(manager.authCached());
    }
    // Same ChatGPT account, new tokens: refreshed.
    await other.save(record({ refreshToken: "rt_a" }));
    expect((await changes.next()).kind).toBe("switched");
    await other.save(record({ refreshToken: "rt_b" }));
    expect(await changes.next()).toMatchObject({ kind: "refreshed", account: { accountId: "org_x" } });
    await other.delete();
    expect(await changes.next()).toMatchObject({ kind: "signed-out", previous: { accountId: "org_x" } });
    expect(manager.authCached()).toBeUndefined();
    // The sentinel: had any change been reported twice, its duplicate would be recorded before this.
    await other.save(apiKey("sk-last-1234567890"));
    expect(apiKeyOf(await changes.next())).toBe("sk-last-1234567890");
    expect(changes.seen).toHaveLength(rounds + 5);
  });

  it("own-changes-once: this manager's refresh and logout give one event each, the watch adds none", async () => {
    const h = home();
    const now = Math.floor(Date.now() / 1000);
    writeFileSync(join(h, "auth.json"), JSON.stringify(fakeChatgptRecord({ exp: now - 60 })), {
      mode: 0o600,
    });
    const { manager, changes } = await watching(h, { refreshTimeoutMs: 2_000 });
    const other = writer(h);
    server.script({
      status: 200,
      body: { access_token: fakeJwt({ exp: now + 3600 }), refresh_token: "rt_2" },
    });
    await manager.refreshToken();
    expect(await changes.next()).toMatchObject({ kind: "refreshed", auth: manager.authCached() });
    await other.save(apiKey("sk-sentinel-1-1234567890"));
    expect(apiKeyOf(await changes.next())).toBe("sk-sentinel-1-1234567890");

    expect(await manager.logout()).toBe(true);
    expect(await changes.next()).toMatchObject({ kind: "signed-out" });
    await other.save(apiKey("sk-sentinel-2-1234567890"));
    expect(await changes.next()).toMatchObject({ kind: "signed-in" });
    expect(changes.kinds()).toEqual(["refreshed", "switched", "signed-out", "signed-in"]);
  });

  it("a symlinked auth.json is followed: a save replacing its target, and re-pointing the link", async () => {
    const h = home();
    const elsewhere = home("changes-target");
    mkdirSync(join(elsewhere, "b"));
    writeFileSync(join(elsewhere, "auth.json"), JSON.stringify(apiKey("sk-linked-a-1234567890")));
    writeFileSync(join(elsewhere, "b", "auth.json"), JSON.stringify(apiKey("sk-linked-b-1234567890")));
    symlinkSync(join(elsewhere, "auth.json"), join(h, "auth.json"));
    const { manager, changes } = await watching(h);
    expect(manager.authCached()?.mode).toBe("apikey");

    // Our storage (and Codex) replace the link's target by rename, in the target's folder.
    await writer(h).save(apiKey("sk-linked-c-1234567890"));
    expect(apiKeyOf(await changes.next())).toBe("sk-linked-c-1234567890");
    // Re-point the link (atomically, as `ln -sfn` through a rename would).
    symlinkSync(join(elsewhere, "b", "auth.json"), join(h, "link.tmp"));
    renameSync(join(h, "link.tmp"), join(h, "auth.json"));
    expect(apiKeyOf(await changes.next())).toBe("sk-linked-b-1234567890");
    // Now the new target's folder is watched.
    writeFileSync(join(elsewhere, "b", "auth.json.new"), JSON.stringify(apiKey("sk-linked-d-1234567890")));
    renameSync(join(elsewhere, "b", "auth.json.new"), join(elsewhere, "b", "auth.json"));
    expect(apiKeyOf(await changes.next())).toBe("sk-linked-d-1234567890");
  });

  it("CODEX_HOME missing at creation is waited for without creating it; removed and recreated, it is followed again", async () => {
    const parent = home();
    const h = join(parent, "not-yet", "codex");
    const { manager, changes } = await watching(h);
    expect(manager.authCached()).toBeUndefined();
    await writer(h).save(apiKey("sk-created-1234567890")); // creates CODEX_HOME and its parent
    expect(await changes.next()).toMatchObject({ kind: "signed-in" });

    removeCodexHome(join(parent, "not-yet"));
    expect(await changes.next()).toMatchObject({ kind: "signed-out" });
    const again = writer(h);
    await again.save(apiKey("sk-recreated-1234567890"));
    expect(apiKeyOf(await changes.next())).toBe("sk-recreated-1234567890");
    await again.save(apiKey("sk-recreated-2-1234567890"));
    expect(apiKeyOf(await changes.next())).toBe("sk-recreated-2-1234567890");
  });

  it("an unreadable auth.json (a hand edit mid-write) keeps the cached credentials; the valid write after it is one event", async () => {
    const h = home();
    const logged: string[] = [];
    const { manager, changes } = await watching(h, { log: (m) => logged.push(m) });
    await writer(h).save(apiKey("sk-before-1234567890"));
    await changes.next();
    writeFileSync(join(h, "auth.json"), '{"OPENAI_API_KEY": "sk-half');
    writeFileSync(join(h, "auth.json"), JSON.stringify(apiKey("sk-after-1234567890")));
    // Had the torn state counted as a logout, a signed-out event would come first.
    expect(await changes.next()).toMatchObject({ kind: "switched" });
    expect(apiKeyOf(changes.seen.at(-1)!)).toBe("sk-after-1234567890");
    expect(manager.authCached()?.mode).toBe("apikey");
  });

  it("a listener that throws is reported through log and the others still get the event", async () => {
    const h = home();
    const logged: string[] = [];
    const manager = await AuthManager.create({ codexHome: h, watch: true, log: (m) => logged.push(m) });
    cleanups.push(() => manager.close());
    manager.onChange(() => {
      throw new Error("listener bug");
    });
    const changes = new ChangeRecorder(manager);
    await writer(h).save(apiKey("sk-listener-1234567890"));
    await changes.next();
    expect(logged.some((m) => m.includes("listener bug"))).toBe(true);
  });
});

describe("stopping", () => {
  it("close(): no event after it resolves; a witness manager on the same CODEX_HOME still sees the change", async () => {
    const h = home();
    const { manager, changes } = await watching(h);
    const witness = await watching(h);
    await manager.close();
    await manager.close(); // idempotent
    await writer(h).save(apiKey("sk-after-close-1234567890"));
    await witness.changes.next();
    expect(changes.seen).toEqual([]);
    expect(manager.authCached()).toBeUndefined(); // no longer followed
    expect(await manager.reload()).toBe(true); // but still usable
  });

  /** Runs an ESM script against dist/ in a child and resolves with its exit code: it must exit by itself. */
  function runScript(source: string, h: string): Promise<{ code: number | null; stderr: string }> {
    const child = spawn(process.execPath, ["--input-type=module", "-e", source], {
      env: { ...process.env, CODEX_HOME: h, DIST: join(REPO_ROOT, "dist/index.js") },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    return new Promise((resolve) => child.once("close", (code) => resolve({ code, stderr })));
  }

  it.each([
    ["close()", "await m.close();"],
    ["Symbol.asyncDispose", "await m[Symbol.asyncDispose]();"],
  ])("a watching manager stopped with %s lets its process exit", async (_name, stop) => {
    const h = home();
    const { code, stderr } = await runScript(
      `const { AuthManager } = await import(process.env.DIST);
       const m = await AuthManager.create({ codexHome: process.env.CODEX_HOME, watch: { pollIntervalMs: 10 } });
       ${stop}`,
      h,
    );
    expect(code, stderr).toBe(0);
  });

  it("persistent: false never holds the process open, in file and polled modes", async () => {
    const h = home();
    const { code, stderr } = await runScript(
      `const { AuthManager } = await import(process.env.DIST);
       await AuthManager.create({ codexHome: process.env.CODEX_HOME, watch: { persistent: false } });
       await AuthManager.create({ codexHome: process.env.CODEX_HOME, credentialsStore: "ephemeral", watch: { persistent: false } });`,
      h,
    );
    expect(code, stderr).toBe(0);
  });

  it("a create that fails (login restricted) stops the watch it started", async () => {
    const h = home();
    writeFileSync(join(h, "auth.json"), JSON.stringify(apiKey("sk-forbidden-1234567890")));
    const { code, stderr } = await runScript(
      `const { AuthManager, loadConfig } = await import(process.env.DIST);
       const config = await loadConfig({ codexHome: process.env.CODEX_HOME, overrides: ['forced_login_method="chatgpt"'] });
       await AuthManager.create({ codexHome: process.env.CODEX_HOME, config, watch: true }).then(
         () => { console.error("created"); process.exitCode = 3; },
         (err) => { if (err.code !== "ERR_LOGIN_RESTRICTED") { console.error(err); process.exitCode = 4; } },
       );`,
      h,
    );
    expect(code, stderr).toBe(0);
  });
});

describe("polled storage", () => {
  it("ephemeral: a save through another storage object on the same key is seen by polling", async () => {
    const key = `changes-${process.pid}-${Math.random()}`;
    const manager = await AuthManager.create({
      codexHome: "/nonexistent",
      storage: new EphemeralAuthStorage(key),
      watch: { pollIntervalMs: 5 },
    });
    cleanups.push(() => manager.close());
    const changes = new ChangeRecorder(manager);
    const other = new EphemeralAuthStorage(key);
    await other.save(apiKey("sk-memory-1234567890"));
    expect(apiKeyOf(await changes.next())).toBe("sk-memory-1234567890");
    await other.delete();
    expect((await changes.next()).kind).toBe("signed-out");
    const events: AuthChangeEvent[] = changes.seen;
    expect(events.map((e) => e.kind)).toEqual(["signed-in", "signed-out"]);
  });
});
