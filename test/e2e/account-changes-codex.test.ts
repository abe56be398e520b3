/**
 * Account changes made by the real codex 0.169 on the same CODEX_HOME, seen
 * by a watching AuthManager: `codex login --with-api-key` (sign-in, switch),
 * a refresh by `codex app-server` against the dev issuer, and `codex logout`
 * — in file mode (auth.json watched through the OS) and keyring mode (the
 * throwaway Secret Service, polled). One event per change, in order: each
 * wait is on the event itself, and a change reported twice would show up as
 * an extra event before the next one.
 *
 * Codex runs only `login`, `logout` and `app-server`, against loopback.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import { AuthManager, type AuthRecord, type CredentialsStoreMode } from "../../src/index.js";
import { createStorage } from "../../src/storage/index.js";
import { startWithInput } from "../fixtures/child.js";
import { apiKeyOf, ChangeRecorder } from "../support/changes.js";
import { findCodexBinary, makeCodexHome, removeCodexHome, throwawaySecretService } from "../support/env.js";
import { fakeJwt } from "../support/jwt.js";
import { childEnv, withCodexAppServer } from "../support/run.js";

const codex = findCodexBinary();
const secretService = throwawaySecretService();

let issuer: DevIssuer;
beforeAll(async () => {
  issuer = await startDevIssuer({ port: 0, autoApprove: true, accessTtlSeconds: 3600 });
});
afterAll(() => issuer?.close());

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function codexHome(store: CredentialsStoreMode): string {
  const home = makeCodexHome(`changes-codex-${store}`);
  cleanups.push(() => removeCodexHome(home));
  writeFileSync(
    join(home, "config.toml"),
    `chatgpt_base_url = "${issuer.url}/backend-api/"\ncli_auth_credentials_store = "${store}"\n`,
  );
  return home;
}

const issuerEnv = () => ({
  CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/token`,
  CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/revoke`,
});

/** Runs real codex without blocking this process's event loop (the watch must keep running). */
async function runCodex(home: string, args: string[], input = ""): Promise<void> {
  const result = await startWithInput(codex!, args, input, { env: childEnv(home, issuerEnv()) }).done;
  expect(result.code, result.stderr).toBe(0);
}

async function watching(home: string, store: CredentialsStoreMode) {
  const manager = await AuthManager.create({
    codexHome: home,
    credentialsStore: store,
    // The keyring is polled; a short interval keeps the test quick.
    watch: { pollIntervalMs: 50 },
    env: issuerEnv(),
  });
  cleanups.push(() => manager.close());
  return { manager, changes: new ChangeRecorder(manager) };
}

/** Stores real dev-issuer tokens whose access token expired a minute ago, so Codex refreshes them. */
async function storeStaleChatgpt(home: string, store: CredentialsStoreMode): Promise<AuthRecord> {
  const tokens = await issuer.issueTokens();
  const record: AuthRecord = {
    auth_mode: "chatgpt",
    OPENAI_API_KEY: null,
    tokens: {
      id_token: tokens.id_token,
      access_token: fakeJwt({ exp: Math.floor(Date.now() / 1000) - 60 }),
      refresh_token: tokens.refresh_token,
      account_id: "org_dev",
    },
    last_refresh: new Date(Date.now() - 3600_000).toISOString(),
  };
  await (await createStorage(home, store)).save(record);
  return record;
}

/** Asks `codex app-server` for a token: it refreshes the stale one and saves the result. */
async function refreshThroughCodex(home: string): Promise<string> {
  return withCodexAppServer(codex!, { home, env: issuerEnv() }, async (call) => {
    // refreshToken: false — the stale token is refreshed anyway, once.
    const reply = await call("getAuthStatus", { includeToken: true, refreshToken: false });
    const token = (reply.result as { authToken?: string | null } | undefined)?.authToken;
    if (typeof token !== "string") throw new Error(`app-server gave no token: ${JSON.stringify(reply)}`);
    return token;
  });
}

function rotations(since: number): string[] {
  return issuer.requests
    .slice(since)
    .filter((r) => r.path === "/oauth/token" && r.grant_type === "refresh_token")
    .map((r) => String(r.outcome));
}

const stores = (["file", "keyring"] as const).filter((s) => s === "file" || secretService);

describe.runIf(codex).each(stores)("a watching manager follows real codex (%s mode)", (store) => {
  it("codex login, login with another key, logout: signed-in, switched, signed-out", async () => {
    const home = codexHome(store);
    const { manager, changes } = await watching(home, store);
    await runCodex(home, ["login", "--with-api-key"], "sk-codex-one-1234567890ABCDEF");
    const signedIn = await changes.next();
    expect(signedIn).toMatchObject({ kind: "signed-in", account: { mode: "apikey" } });
    expect(apiKeyOf(signedIn)).toBe("sk-codex-one-1234567890ABCDEF");

    await runCodex(home, ["login", "--with-api-key"], "sk-codex-two-1234567890ABCDEF");
    const switched = await changes.next();
    expect(switched.kind).toBe("switched");
    expect(apiKeyOf(switched)).toBe("sk-codex-two-1234567890ABCDEF");

    await runCodex(home, ["logout"]);
    expect(await changes.next()).toMatchObject({ kind: "signed-out", previous: { mode: "apikey" } });
    expect(manager.authCached()).toBeUndefined();
    // The sentinel: a duplicate of any change above would be recorded before this one.
    await runCodex(home, ["login", "--with-api-key"], "sk-codex-three-1234567890ABCDEF");
    expect(apiKeyOf(await changes.next())).toBe("sk-codex-three-1234567890ABCDEF");
    expect(changes.kinds()).toEqual(["signed-in", "switched", "signed-out", "signed-in"]);
    await runCodex(home, ["logout"]);
  });

  it("a refresh by codex app-server is one refreshed event with the tokens codex saved; a switch to an API key follows", async () => {
    const home = codexHome(store);
    const stale = await storeStaleChatgpt(home, store);
    const { manager, changes } = await watching(home, store);
    expect(manager.authCached()?.mode).toBe("chatgpt");

    const since = issuer.requests.length;
    const codexToken = await refreshThroughCodex(home);
    const refreshed = await changes.next();
    expect(refreshed).toMatchObject({
      kind: "refreshed",
      account: { mode: "chatgpt", accountId: "org_dev", email: "dev@example.com", plan: "pro" },
      previous: { accountId: "org_dev" },
    });
    if (refreshed.kind !== "refreshed") throw new Error("unreachable");
    const tokens = refreshed.auth.mode === "chatgpt" ? refreshed.auth.tokens : undefined;
    expect(tokens?.access_token).toBe(codexToken);
    expect(tokens?.refresh_token).not.toBe(stale.tokens?.refresh_token);
    expect(rotations(since)).toEqual(["rotated"]);

    await runCodex(home, ["login", "--with-api-key"], "sk-codex-after-1234567890ABCDEF");
    expect(await changes.next()).toMatchObject({
      kind: "switched",
      account: { mode: "apikey" },
      previous: { mode: "chatgpt", accountId: "org_dev" },
    });
    expect(changes.kinds()).toEqual(["refreshed", "switched"]);
    await runCodex(home, ["logout"]);
  });
});
