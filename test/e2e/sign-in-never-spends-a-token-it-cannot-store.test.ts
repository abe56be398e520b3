/**
 * Hardening, kind 8: a sign-in whose result cannot be stored never spends
 * the issuer's tokens (or the user's time). Before anything is requested —
 * the device code, the authorize URL, the access-token check — the storage
 * is probed: CODEX_HOME on a read-only mount, a root-owned home run as an
 * unprivileged user (the reported bug), a lock file left by another user.
 * Zero tokens are issued and auth.json keeps its bytes. When the save still
 * fails after the tokens were issued (CODEX_HOME goes read-only while the
 * user approves), the new refresh token is revoked and the error says so;
 * the previous credentials stay, byte for byte, and keep working.
 *
 * Real read-only storage: read-only bind mounts in a private mount
 * namespace, and children run as uid 65534 (`setpriv`), against the dev
 * issuer; both need root (CI runs as root).
 */
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { DevIssuer } from "../../src/dev-issuer/index.js";
import {
  AuthManager,
  type AuthRecord,
  type AuthTransaction,
  CodexAuthError,
  inProcessLock,
  LockedAuthStorage,
  StorageIoError,
  signInWithApiKey,
  startChatgptSignIn,
  startDeviceCodeSignIn,
} from "../../src/index.js";
import { FileAuthStorage } from "../../src/storage/file.js";
import { refreshRequest } from "../dev-issuer/helpers.js";
import { authorizeToCallback, startChild, stopChildren, testResources } from "../login/helpers.js";
import { CLI } from "../support/env.js";
import { canMount, runOursReadOnly } from "../support/mounts.js";
import { childEnv, spawnCollect } from "../support/run.js";

const { issuerFor, home, closeAll, cleanups } = testResources();
afterEach(async () => {
  await stopChildren();
  await closeAll();
});

const NOBODY = 65534;
const asNobody = ["--reuid=65534", "--regid=65534", "--clear-groups"];

/** What the issuer was asked for that a sign-in spends: codes, authorizations, tokens, checks. */
function spending(issuer: DevIssuer): string[] {
  return issuer.requests
    .filter((r) => /deviceauth|\/oauth\/token|\/authorize|\/oauth\/revoke|whoami/.test(r.path))
    .map((r) => `${r.method} ${r.path} ${r.outcome}`);
}

const issued = (issuer: DevIssuer) =>
  issuer.requests.filter((r) => r.path === "/oauth/token" && r.outcome === "issued").length;

/** The child's env: this issuer for sign-in, revocation and access-token checks, all on loopback. */
const envFor = (issuer: DevIssuer) => ({
  CODEX_AUTH_ISSUER: issuer.url,
  CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/revoke`,
  CODEX_AUTHAPI_BASE_URL: `${issuer.url}/api/accounts`,
  DISPLAY: undefined,
  WAYLAND_DISPLAY: undefined,
  NO_COLOR: "1",
});

/** Our CLI in a private mount namespace where `home` is a bind mount of itself (`exec` keeps the pid). */
function inBindMountedHome(home: string, args: string[], env: Record<string, string | undefined>) {
  return startChild(
    "unshare",
    [
      "-m",
      "sh",
      "-c",
      'mount --bind "$1" "$1" && shift && exec "$@"',
      "sh",
      home,
      process.execPath,
      CLI,
      ...args,
    ],
    childEnv(home, env),
  );
}

/** Makes `home` read-only inside the mount namespace of process `pid`, while it runs. */
function remountReadOnly(pid: number, home: string): void {
  const r = spawnSync("nsenter", ["-t", String(pid), "-m", "mount", "-o", "remount,bind,ro", home]);
  expect(r.status, r.stderr.toString()).toBe(0);
}

/**
 * A CODEX_HOME outside the tests' private scratch folder (so uid 65534 can
 * reach it), owned by root, mode 0755, holding a previous API-key login
 * (0644: readable by anyone, writable by root only) and Codex's auth.lock
 * (0644, as Codex creates it).
 */
function rootOwnedHome(): { home: string; text: string } {
  const dir = mkdtempSync(join(tmpdir(), "codex-auth-ro-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  const text = `${JSON.stringify({ OPENAI_API_KEY: "sk-previous-0123456789abcdef" }, null, 2)}\n`;
  writeFileSync(join(dir, "auth.json"), text, { mode: 0o644 });
  writeFileSync(join(dir, "auth.lock"), "", { mode: 0o644 });
  return { home: dir, text };
}

const runAsNobody = (home: string, args: string[], env: Record<string, string | undefined>, input = "") =>
  spawnCollect("setpriv", [...asNobody, process.execPath, CLI, ...args], childEnv(home, env), input);

describe.runIf(canMount())(
  "sign-in-never-spends-a-token-it-cannot-store: refused before anything is requested",
  () => {
    it("read-only CODEX_HOME (bind mount): device code, browser, --with-api-key, --with-access-token", async () => {
      const issuer = await issuerFor({ autoApprove: true });
      const seeded = await home("chatgpt", issuer);
      const pat = issuer.issuePersonalAccessToken();
      const before = spending(issuer);
      for (const [args, input, frame] of [
        [["login", "--device-auth"], "", "Error logging in: "],
        [["login"], "", "Error logging in: "],
        [["login", "--with-api-key"], "sk-new-0123456789abcdef", "Error logging in: "],
        [["login", "--with-access-token"], pat, "Error logging in with access token: "],
      ] as const) {
        const r = await runOursReadOnly([seeded.home], [...args], {
          home: seeded.home,
          env: envFor(issuer),
          input,
        });
        expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(1);
        expect(r.stderr).toContain(frame);
        expect(r.stderr).toMatch(/auth\.lock is on a read-only file system or mount/);
        expect(r.stderr).toMatch(/nothing was requested from the issuer/);
        expect(r.stdout).not.toMatch(/one-time code|oauth\/authorize/);
        expect(spending(issuer), args.join(" ")).toEqual(before);
        expect(seeded.now()).toEqual(seeded.before);
      }
    });

    it("uid 65534 on a root-owned home (the reported bug): refused up front, with auth.lock's own mode", async () => {
      const issuer = await issuerFor({ autoApprove: true });
      const { home: h, text } = rootOwnedHome();
      for (const args of [["login", "--device-auth"], ["login"], ["login", "--with-api-key"]]) {
        const r = await runAsNobody(h, args, envFor(issuer), "sk-new-0123456789abcdef");
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr).toMatch(
          new RegExp(
            `^Error logging in: permission denied on ${h}/auth\\.lock\\. .*mode 0644 \\(rw-r--r--\\)`,
            "m",
          ),
        );
        expect(r.stderr).not.toContain("(mode 0600)");
        expect(spending(issuer)).toEqual([]);
        expect(readFileSync(join(h, "auth.json"), "utf8")).toBe(text);
      }
    });

    it("uid 65534 with a commit lock left by root (auth.json.lock 0600): refused up front, naming it", async () => {
      const issuer = await issuerFor({ autoApprove: true });
      const { home: h, text } = rootOwnedHome();
      for (const f of ["", "auth.json", "auth.lock"]) chownSync(join(h, f), NOBODY, NOBODY);
      writeFileSync(join(h, "auth.json.lock"), "", { mode: 0o600 }); // root's, as `sudo codex login` leaves it
      const r = await runAsNobody(h, ["login", "--device-auth"], envFor(issuer));
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(
        new RegExp(`permission denied on ${h}/auth\\.json\\.lock\\. .*commit lock is created with mode 0600`),
      );
      expect(spending(issuer)).toEqual([]);
      expect(readFileSync(join(h, "auth.json"), "utf8")).toBe(text);
    });

    it("refresh as uid 65534 with a commit lock left by root: refused before the refresh token is spent", async () => {
      // 60 s access tokens are inside the 5-minute refresh window from the start.
      const issuer = await issuerFor({ autoApprove: true, accessTtlSeconds: 60 });
      const seeded = await home("chatgpt", issuer);
      const { home: h } = rootOwnedHome();
      const record = JSON.parse(readFileSync(join(seeded.home, "auth.json"), "utf8"));
      // Received 90 s ago (past the minute in which a token is never refreshed): `token` refreshes first.
      record.last_refresh = new Date(Date.now() - 90_000).toISOString();
      const text = `${JSON.stringify(record, null, 2)}\n`;
      writeFileSync(join(h, "auth.json"), text);
      chmodSync(join(h, "auth.json"), 0o600);
      for (const f of ["", "auth.json", "auth.lock"]) chownSync(join(h, f), NOBODY, NOBODY);
      writeFileSync(join(h, "auth.json.lock"), "", { mode: 0o600 }); // root's, as `sudo codex login` leaves it
      const refreshes = () => issuer.requests.filter((r) => r.grant_type === "refresh_token").length;
      const before = refreshes();
      const r = await runAsNobody(h, ["token"], envFor(issuer));
      // The access token is still valid: printed, with a warning naming the lock; the refresh token unspent.
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/the refresh token was not used: permission denied on .*auth\.json\.lock/);
      expect(refreshes()).toBe(before);
      expect(readFileSync(join(h, "auth.json"), "utf8")).toBe(text);
      expect((await refreshRequest(issuer.url, seeded.previousRefreshToken!)).status).toBe(200);
    });

    it("app server as uid 65534 on a root-owned home: account/login/start (device code, browser, API key) fails, nothing requested", async () => {
      const issuer = await issuerFor({ autoApprove: true });
      const { home: h, text } = rootOwnedHome();
      const server = startChild(
        "setpriv",
        [...asNobody, process.execPath, CLI, "app-server"],
        childEnv(h, envFor(issuer)),
      );
      const send = (m: object) => server.writeLine(JSON.stringify(m));
      send({
        id: 1,
        method: "initialize",
        params: { clientInfo: { name: "probe", title: null, version: "0" } },
      });
      await server.waitFor("stdout", /"id":1,/);
      const starts = [
        { type: "chatgptDeviceCode" },
        { type: "chatgpt" },
        { type: "apiKey", apiKey: "sk-new-0123456789abcdef" },
      ];
      for (const [i, params] of starts.entries()) {
        const id = 10 + i;
        send({ id, method: "account/login/start", params });
        const [line] = await server.waitFor("stdout", new RegExp(`\\{[^\\n]*"id":${id}[,}][^\\n]*`));
        const reply = JSON.parse(line) as { error?: { message: string }; result?: unknown };
        expect(reply.result, `${params.type}: ${line}`).toBeUndefined();
        expect(reply.error?.message).toMatch(/auth\.lock/);
      }
      expect(spending(issuer)).toEqual([]);
      expect(readFileSync(join(h, "auth.json"), "utf8")).toBe(text);
    });
  },
);

describe.runIf(canMount())(
  "sign-in-never-spends-a-token-it-cannot-store: the save fails after issuance",
  () => {
    it("CLI device code: CODEX_HOME goes read-only while the user approves; the new token is revoked, the old login stays", async () => {
      const issuer = await issuerFor({ deviceIntervalSeconds: 1 });
      const seeded = await home("chatgpt", issuer);
      const child = inBindMountedHome(seeded.home, ["login", "--device-auth"], envFor(issuer));
      const [, userCode] = await child.waitFor("stdout", /\b([A-Z0-9]{4}-[A-Z0-9]{5})\b/);
      remountReadOnly(child.child.pid!, seeded.home);
      const approve = await fetch(`${issuer.url}/codex/device`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          user_code: userCode!,
          account: "dev@example.com|org_dev",
          action: "approve",
        }),
      });
      expect(approve.status).toBe(200);
      expect(await child.exit).toBe(1);
      expect(child.stderr()).toMatch(
        /^Error logging in: Sign-in completed but credentials could not be saved locally: .*read-only file system.*The new sign-in was revoked; nothing was stored/m,
      );
      const spent = spending(issuer).filter((s) => !s.includes("deviceauth"));
      expect(spent.slice(-2)).toEqual(["POST /oauth/token issued", "POST /oauth/revoke revoked"]);
      expect(seeded.now()).toEqual(seeded.before);
      // The previous login was neither replaced nor revoked.
      expect((await refreshRequest(issuer.url, seeded.previousRefreshToken!)).status).toBe(200);
    });

    it("CLI browser, paste-back: CODEX_HOME goes read-only before the URL is pasted; the new token is revoked", async () => {
      const issuer = await issuerFor({ autoApprove: true });
      const seeded = await home("chatgpt", issuer);
      const child = inBindMountedHome(seeded.home, ["login"], envFor(issuer));
      const [authUrl] = await child.waitFor("stderr", /http:\/\/127\.0\.0\.1:\d+\/oauth\/authorize\?\S+/);
      remountReadOnly(child.child.pid!, seeded.home);
      const callback = await authorizeToCallback(authUrl, issuer.url);
      child.writeLine(callback.href);
      expect(await child.exit).toBe(1);
      expect(child.stderr()).toMatch(
        /^Error logging in: Sign-in completed but credentials could not be saved locally: .*read-only file system.*The new sign-in was revoked; nothing was stored/m,
      );
      expect(spending(issuer).slice(-1)).toEqual(["POST /oauth/revoke revoked"]);
      expect(seeded.now()).toEqual(seeded.before);
      expect((await refreshRequest(issuer.url, seeded.previousRefreshToken!)).status).toBe(200);
    });
  },
);

/** File storage whose saves fail after the up-front probe passed (CODEX_HOME went read-only meanwhile). */
class GoesReadOnly extends LockedAuthStorage {
  readonly kind = "file" as const;
  readonly file: FileAuthStorage;
  probes = 0;
  readonly unlocked: AuthTransaction;
  constructor(
    readonly codexHome: string,
    readOnlyFromStart = false,
  ) {
    super(inProcessLock(`goes-read-only:${codexHome}`));
    this.file = new FileAuthStorage(codexHome);
    const refuse = () => {
      throw new StorageIoError(
        join(codexHome, "auth.json"),
        `${join(codexHome, "auth.json")} is on a read-only file system or mount`,
      );
    };
    this.unlocked = {
      load: () => this.file.unlocked.load(),
      save: async (_record: AuthRecord) => refuse(),
      delete: async () => refuse(),
      probeSave: async () => {
        this.probes++;
        if (readOnlyFromStart) refuse();
      },
    };
  }
  describe() {
    return this.file.path;
  }
}

/** `fetch` that remembers the refresh tokens the token endpoint hands out. */
function recordingFetch(into: string[]): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    if (String(input).endsWith("/oauth/token") && res.ok) {
      const body = (await res.clone().json()) as { refresh_token?: string };
      if (body.refresh_token) into.push(body.refresh_token);
    }
    return res;
  };
}

async function rejection(p: Promise<unknown>): Promise<CodexAuthError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof CodexAuthError)) throw new Error(`expected a CodexAuthError, got ${String(err)}`);
  return err;
}

describe("sign-in-never-spends-a-token-it-cannot-store: the library sign-in API", () => {
  it("a storage that cannot save: device code, browser and API key refuse before anything is requested", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("chatgpt", issuer);
    const storage = new GoesReadOnly(seeded.home, true);
    const manager = await AuthManager.create({ codexHome: seeded.home, storage, env: {} });
    const before = spending(issuer);
    for (const start of [
      () => startDeviceCodeSignIn({ manager, issuer: issuer.url }),
      () => startChatgptSignIn({ manager, issuer: issuer.url, port: 0 }),
      () => signInWithApiKey({ manager, apiKey: "sk-new-0123456789abcdef" }),
    ]) {
      const err = await rejection(start());
      expect(err.code).toBe("ERR_AUTH_FILE_IO");
      expect(err.message).toMatch(/read-only file system.*nothing was requested from the issuer/);
    }
    expect(storage.probes).toBe(3);
    expect(spending(issuer)).toEqual(before);
    expect(seeded.now()).toEqual(seeded.before);
  });

  it("device code: the save fails after issuance; the issued refresh token is revoked at the issuer", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("chatgpt", issuer);
    const tokens: string[] = [];
    const storage = new GoesReadOnly(seeded.home);
    const manager = await AuthManager.create({
      codexHome: seeded.home,
      storage,
      env: {},
      fetch: recordingFetch(tokens),
    });
    const signIn = await startDeviceCodeSignIn({ manager, issuer: issuer.url });
    const err = await rejection(signIn.done);
    expect(err.code).toBe("ERR_LOGIN_FAILED");
    expect(err.message).toMatch(/The new sign-in was revoked; nothing was stored/);
    expect(err.cause).toBeInstanceOf(StorageIoError);
    expect(tokens).toHaveLength(1);
    expect(issued(issuer)).toBe(2); // the seeded login's, and this sign-in's
    const reuse = await refreshRequest(issuer.url, tokens[0]!);
    expect(reuse.status).toBe(401);
    expect(((await reuse.json()) as { error: { code: string } }).error.code).toBe(
      "refresh_token_invalidated",
    );
    expect(seeded.now()).toEqual(seeded.before);
    expect((await refreshRequest(issuer.url, seeded.previousRefreshToken!)).status).toBe(200);
  });
});

describe("a sign-in that keeps nothing leaves no live token (Codex drops them unrevoked)", () => {
  it("refused for its workspace after the approval: the issued refresh token is revoked, nothing stored", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("chatgpt", issuer);
    const tokens: string[] = [];
    const manager = await AuthManager.create({
      codexHome: seeded.home,
      env: {},
      fetch: recordingFetch(tokens),
    });
    const signIn = await startDeviceCodeSignIn({
      manager,
      issuer: issuer.url,
      config: { forcedLoginMethod: undefined, forcedChatgptWorkspaceIds: ["org_somewhere_else"] },
    });
    const err = await rejection(signIn.done);
    expect(err.code).toBe("ERR_LOGIN_RESTRICTED");
    expect(tokens).toHaveLength(1);
    const reuse = await refreshRequest(issuer.url, tokens[0]!);
    expect(reuse.status).toBe(401);
    expect(seeded.now()).toEqual(seeded.before);
    expect((await refreshRequest(issuer.url, seeded.previousRefreshToken!)).status).toBe(200);
  });
});
