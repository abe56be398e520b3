/**
 * The real Codex 0.169 binary signing in against the development issuer.
 * Only login, login status, logout and app-server account methods are run:
 * nothing that calls a model. All traffic goes to 127.0.0.1.
 */
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import { holdCallbackPorts } from "../support/browser.js";
import { findCodexBinary, makeCodexHome, removeCodexHome } from "../support/env.js";
import { Browser, jwtPayload, refreshRequest } from "./helpers.js";

const codex = findCodexBinary();
const AUTH = "https://api.openai.com/auth";

let issuer: DevIssuer | undefined;
let home: string | undefined;

afterEach(async () => {
  await issuer?.close();
  issuer = undefined;
  if (home) removeCodexHome(home);
  home = undefined;
});

/** Environment for codex: this home, this issuer, no credentials or proxies from outside. */
function codexEnv(codexHome: string, url: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/proxy|^OPENAI_|^CODEX_/i.test(k)) continue;
    env[k] = v;
  }
  return {
    ...env,
    CODEX_HOME: codexHome,
    CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${url}/oauth/token`,
    CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${url}/oauth/revoke`,
    NO_PROXY: "127.0.0.1,localhost",
    NO_COLOR: "1",
  };
}

function run(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(codex!, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A tiny JSON-RPC client for `codex app-server` (newline-delimited JSON on stdio). */
function appServer(env: NodeJS.ProcessEnv) {
  const child = spawn(codex!, ["app-server"], { env, stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const waiting = new Map<number, (msg: Record<string, unknown>) => void>();
  const notifications: Record<string, unknown>[] = [];
  const notificationWaiters: Array<() => void> = [];
  const lines = createInterface({ input: child.stdout });
  lines.on("line", (line) => {
    const msg = JSON.parse(line) as Record<string, unknown>;
    if (typeof msg.id === "number") waiting.get(msg.id)?.(msg);
    else if (typeof msg.method === "string") {
      notifications.push(msg);
      for (const wake of notificationWaiters.splice(0)) wake();
    }
  });
  let nextId = 1;
  return {
    stderr: () => stderr,
    /** Resolves with the first notification named `method` (30 s at most). */
    async notification(method: string): Promise<Record<string, unknown>> {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const found = notifications.find((n) => n.method === method);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no ${method} notification`);
        await new Promise<void>((resolve) => {
          notificationWaiters.push(resolve);
          setTimeout(resolve, 1_000).unref();
        });
      }
    },
    call(method: string, params: unknown): Promise<Record<string, unknown>> {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${method} timed out`)), 30_000);
        waiting.set(id, (msg) => {
          clearTimeout(timer);
          resolve(msg);
        });
        child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id, method, params })}\n`);
      });
    },
    close(): Promise<void> {
      return new Promise((resolve) => {
        child.once("close", () => resolve());
        child.stdin.end();
        setTimeout(() => child.kill("SIGKILL"), 10_000).unref();
      });
    },
  };
}

function readAuth(codexHome: string): Record<string, unknown> & { tokens: Record<string, unknown> } {
  return JSON.parse(readFileSync(join(codexHome, "auth.json"), "utf8"));
}

describe.skipIf(!codex)("real codex 0.169 against the dev issuer", () => {
  it("codex login --device-auth signs in, login status sees it, logout revokes at the issuer", async () => {
    issuer = await startDevIssuer({ autoApprove: true });
    home = makeCodexHome("dev-issuer-codex");
    writeFileSync(join(home, "config.toml"), `chatgpt_base_url = "${issuer.url}/backend-api"\n`);
    const env = codexEnv(home, issuer.url);

    const login = await run(["login", "--device-auth", "--experimental_issuer", issuer.url], env);
    expect(login.stderr).toContain("Successfully logged in");
    expect(login.code).toBe(0);
    expect(login.stdout).toContain(`${issuer.url}/codex/device`);

    const auth = readAuth(home);
    expect(auth.auth_mode).toBe("chatgpt");
    expect(auth.OPENAI_API_KEY).toBeNull();
    expect(auth.tokens.account_id).toBe("org_dev");
    expect(auth.tokens.oauth_provenance).toEqual({ issuer: issuer.url, client_id: issuer.clientId });
    const id = jwtPayload(auth.tokens.id_token as string);
    expect(id.email).toBe("dev@example.com");
    expect(id[AUTH]).toMatchObject({ chatgpt_plan_type: "pro", chatgpt_account_id: "org_dev" });
    expect(issuer.requests.map((r) => `${r.method} ${r.path} ${r.status} ${r.outcome}`)).toEqual([
      "POST /api/accounts/deviceauth/usercode 200 issued+approved",
      "POST /api/accounts/deviceauth/token 200 approved",
      "POST /oauth/token 200 issued",
    ]);

    const before = issuer.requests.length;
    const status = await run(["login", "status"], env);
    expect(status.stderr).toContain("Logged in using ChatGPT");
    expect(status.code).toBe(0);
    expect(issuer.requests.length).toBe(before); // login status makes no request

    const refreshToken = auth.tokens.refresh_token as string;
    const logout = await run(["logout"], env);
    expect(logout.stderr).toContain("Successfully logged out");
    expect(logout.code).toBe(0);
    expect(issuer.requests.at(-1)).toEqual({
      method: "POST",
      path: "/oauth/revoke",
      status: 200,
      outcome: "revoked",
    });
    const afterLogout = await refreshRequest(issuer.url, refreshToken);
    expect(afterLogout.status).toBe(401);
    expect(((await afterLogout.json()) as { error: { code: string } }).error.code).toBe(
      "refresh_token_invalidated",
    );
  });

  it("codex app-server: account/read passes workspace discovery, forced refreshes rotate via the JSON body", async () => {
    issuer = await startDevIssuer({ autoApprove: true });
    home = makeCodexHome("dev-issuer-appserver");
    writeFileSync(join(home, "config.toml"), `chatgpt_base_url = "${issuer.url}/backend-api"\n`);
    const env = codexEnv(home, issuer.url);
    const login = await run(["login", "--device-auth", "--experimental_issuer", issuer.url], env);
    expect(login.code).toBe(0);
    const firstRefresh = readAuth(home).tokens.refresh_token;

    const rpc = appServer(env);
    try {
      const init = await rpc.call("initialize", { clientInfo: { name: "devissuer_test", version: "0.0.1" } });
      expect(init.error).toBeUndefined();
      const read = await rpc.call("account/read", {});
      expect(read.result).toMatchObject({
        account: {
          type: "chatgpt",
          email: "dev@example.com",
          planType: "pro",
          workspaceName: "Dev Workspace",
        },
        workspaceRouting: { chatgptAccountId: "org_dev", accountRoutingOverride: "NO_CONSTRAINT" },
      });
      for (let i = 0; i < 2; i++) {
        const status = await rpc.call("getAuthStatus", { includeToken: true, refreshToken: true });
        expect(status.result).toMatchObject({ authMethod: "chatgpt" });
        expect((status.result as { authToken: unknown }).authToken).toEqual(expect.any(String));
      }
    } finally {
      await rpc.close();
    }
    // Every backend call the app server made was answered (no 404s).
    expect(issuer.requests.filter((r) => r.status === 404)).toEqual([]);
    expect(rpc.stderr()).not.toMatch(/workspace routing|Failed to refresh token/);
    const rotations = issuer.requests.filter((r) => r.grant_type === "refresh_token");
    expect(rotations.map((r) => `${r.status} ${r.outcome}`)).toEqual(["200 rotated", "200 rotated"]);
    expect(
      issuer.requests.some((r) => r.path === "/backend-api/wham/accounts/check" && r.outcome === "ok"),
    ).toBe(true);
    const after = readAuth(home);
    expect(after.tokens.refresh_token).not.toBe(firstRefresh);
    // The rotated-away token is now refused as reused.
    const reused = await refreshRequest(issuer.url, firstRefresh as string);
    expect(reused.status).toBe(401);
  });

  it("codex app-server browser sign-in: code exchange (form) and the API-key token exchange", async () => {
    // Codex's login server binds 127.0.0.1:1455 and would send /cancel to whatever holds it:
    // take the suite-wide lock on the callback ports and wait until they are free.
    const releasePorts = await holdCallbackPorts();
    try {
      await appServerBrowserSignIn();
    } finally {
      releasePorts();
    }
  });

  async function appServerBrowserSignIn(): Promise<void> {
    issuer = await startDevIssuer({ autoApprove: true });
    home = makeCodexHome("dev-issuer-browser");
    writeFileSync(join(home, "config.toml"), `chatgpt_base_url = "${issuer.url}/backend-api"\n`);
    const env = { ...codexEnv(home, issuer.url), CODEX_APP_SERVER_LOGIN_ISSUER: issuer.url };
    const rpc = appServer(env);
    try {
      await rpc.call("initialize", { clientInfo: { name: "devissuer_test", version: "0.0.1" } });
      const started = await rpc.call("account/login/start", { type: "chatgpt" });
      const authUrl = new URL((started.result as { authUrl: string }).authUrl);
      expect(authUrl.origin + authUrl.pathname).toBe(`${issuer.url}/oauth/authorize`);
      const redirectUri = authUrl.searchParams.get("redirect_uri")!;

      const browser = new Browser();
      const callback = await browser.follow(await browser.request(authUrl.href), issuer.url, redirectUri);
      if (!(callback instanceof URL)) throw new Error(`sign-in stopped at HTTP ${callback.status}`);
      const landed = await fetch(callback, { redirect: "manual" });
      expect(landed.status).toBe(302);
      const success = new URL(landed.headers.get("location")!, callback);
      expect(success.pathname).toBe("/success");
      expect((await fetch(success)).status).toBe(200);
      const completed = await rpc.notification("account/login/completed");
      expect(completed.params).toMatchObject({ success: true, error: null });
    } finally {
      await rpc.close();
    }
    const auth = readAuth(home);
    expect(auth.auth_mode).toBe("chatgpt");
    expect(auth.OPENAI_API_KEY).toMatch(/^sk-dev-/);
    expect(auth.tokens.account_id).toBe("org_dev");
    expect(jwtPayload(auth.tokens.id_token as string).email).toBe("dev@example.com");
    const tokenCalls = issuer.requests.filter((r) => r.path === "/oauth/token");
    expect(tokenCalls.map((r) => `${r.grant_type} ${r.status} ${r.outcome}`)).toEqual([
      "authorization_code 200 issued",
      "urn:ietf:params:oauth:grant-type:token-exchange 200 issued",
    ]);
  }

  it("codex refreshes an access token near its exp on its own (proactive_expiry)", async () => {
    // 60 s access tokens are inside Codex's 5-minute refresh window from the start.
    issuer = await startDevIssuer({ autoApprove: true, accessTtlSeconds: 60 });
    home = makeCodexHome("dev-issuer-proactive");
    // With a trailing slash, as the observation notes wrote it.
    writeFileSync(join(home, "config.toml"), `chatgpt_base_url = "${issuer.url}/backend-api/"\n`);
    const env = codexEnv(home, issuer.url);
    expect((await run(["login", "--device-auth", "--experimental_issuer", issuer.url], env)).code).toBe(0);
    const rpc = appServer(env);
    try {
      await rpc.call("initialize", { clientInfo: { name: "devissuer_test", version: "0.0.1" } });
      const status = await rpc.call("getAuthStatus", { includeToken: true, refreshToken: false });
      expect((status.result as { authToken: unknown }).authToken).toEqual(expect.any(String));
    } finally {
      await rpc.close();
    }
    const refreshes = issuer.requests.filter((r) => r.grant_type === "refresh_token");
    const outcomes = refreshes.map((r) => r.outcome);
    // The first refresh rotates. On a loaded machine Codex itself sometimes
    // sends a second refresh with the same token (its own race between the
    // proactive refresh and the request); the issuer must then say "reused".
    expect(outcomes[0], outcomes.join(",")).toBe("rotated");
    expect(
      outcomes.slice(1).every((o) => o === "rotated" || o === "reused"),
      outcomes.join(","),
    ).toBe(true);
    expect(issuer.requests.filter((r) => r.status === 404)).toEqual([]);
  });

  it("codex reads the issuer's 401 refresh_token_reused as a failed refresh and leaves auth.json alone", async () => {
    issuer = await startDevIssuer({ autoApprove: true });
    home = makeCodexHome("dev-issuer-reused");
    writeFileSync(join(home, "config.toml"), `chatgpt_base_url = "${issuer.url}/backend-api"\n`);
    const env = codexEnv(home, issuer.url);
    expect((await run(["login", "--device-auth", "--experimental_issuer", issuer.url], env)).code).toBe(0);
    // Another process rotates the stored token behind Codex's back: Codex's next refresh is a reuse.
    const stored = readAuth(home).tokens.refresh_token as string;
    expect((await refreshRequest(issuer.url, stored)).status).toBe(200);
    const rpc = appServer(env);
    try {
      await rpc.call("initialize", { clientInfo: { name: "devissuer_test", version: "0.0.1" } });
      const status = await rpc.call("getAuthStatus", { includeToken: true, refreshToken: true });
      expect(status.result).toMatchObject({ authMethod: "chatgpt", authToken: null });
    } finally {
      await rpc.close();
    }
    const refreshes = issuer.requests.filter((r) => r.grant_type === "refresh_token");
    expect(refreshes.map((r) => `${r.status} ${r.outcome}`)).toEqual(["200 rotated", "401 reused"]);
    expect(rpc.stderr()).toContain("Failed to refresh token");
    expect(readAuth(home).tokens.refresh_token).toBe(stored);
  });
});
