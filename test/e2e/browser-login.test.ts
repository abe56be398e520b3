/**
 * Browser sign-in end to end, with real parts: the built CLI as a child
 * process, the development issuer's sign-in and consent pages, headless
 * Debian Chromium, and the real codex 0.169 for comparison. Everything that
 * binds Codex's fixed callback port 1455 lives in this one file and runs
 * under holdCallbackPorts(), so parallel test files never fight over it.
 * All traffic stays on 127.0.0.1.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DevIssuer, DevUser } from "../../src/dev-issuer/index.js";
import { startBrowserLogin } from "../../src/login/browser.js";
import { FileAuthStorage } from "../../src/storage/file.js";
import { jwtPayload, refreshRequest } from "../dev-issuer/helpers.js";
import {
  authFileMode,
  authorizeToCallback,
  codexEnv,
  readAuthJson,
  type SeededHome,
  startChild,
  startOurs,
  stopChildren,
  testResources,
  withParams,
} from "../login/helpers.js";
import {
  chromiumAvailable,
  type HeadlessChromium,
  holdCallbackPorts,
  launchChromium,
} from "../support/browser.js";
import { findCodexBinary } from "../support/env.js";
import { runOurs, withCodexAppServer } from "../support/run.js";

const hasChromium = chromiumAvailable();
const codex = findCodexBinary();

const USERS: DevUser[] = [
  { email: "dev@example.com", name: "Dev User" },
  {
    email: "ada@example.com",
    name: "Ada Lovelace",
    password: "analytical-engine",
    plan: "plus",
    workspaces: [{ id: "org_ada", name: "Ada's Workspace", structure: "personal" }],
  },
];

/** What our CLI and Codex print before the URL (stderr). */
const LOGIN_BANNER =
  "Starting local login server on http://localhost:1455.\nIf your browser did not open, navigate to this URL to authenticate:\n\n";

const AUTHORIZE_PARAMS = [
  "response_type",
  "client_id",
  "redirect_uri",
  "code_challenge",
  "code_challenge_method",
  "state",
  "scope",
  "id_token_add_organizations",
  "codex_cli_simplified_flow",
  "originator",
];

let chromium: HeadlessChromium | undefined;
let releasePorts: (() => void) | undefined;
const { cleanups, issuerFor, home, closeAll } = testResources();

beforeAll(async () => {
  if (hasChromium) chromium = await launchChromium();
});

afterAll(async () => {
  await chromium?.close();
});

beforeEach(async () => {
  releasePorts = await holdCallbackPorts();
});

afterEach(async () => {
  await stopChildren();
  await closeAll();
  await chromium?.context.clearCookies();
  for (const page of chromium?.context.pages() ?? []) await page.close();
  releasePorts?.();
  releasePorts = undefined;
});

/** Starts `codex-auth login --issuer URL` and waits for the authorize URL on stderr. */
async function startCliLogin(issuer: DevIssuer, seeded: SeededHome, extra: Record<string, string> = {}) {
  const cli = startOurs(["login", "--issuer", issuer.url], seeded.home, extra);
  const [url] = await cli.waitFor("stderr", new RegExp(`${issuer.url}/oauth/authorize\\?\\S+`));
  return { cli, authUrl: url };
}

/** The authorize URL's parameters with the per-login random values replaced by their shape. */
function authorizeShape(url: string): Array<[string, string]> {
  return [...new URL(url).searchParams].map(([k, v]) => [
    k,
    k === "code_challenge" || k === "state" ? (/^[A-Za-z0-9_-]{43}$/.test(v) ? "<43 base64url>" : v) : v,
  ]);
}

describe.skipIf(!hasChromium)("browser sign-in in real Chromium (CLI, port 1455)", () => {
  it("a person signs in and consents in Chromium; the CLI saves their tokens and login status shows them", async () => {
    const issuer = await issuerFor({ users: USERS }); // interactive: real sign-in and consent pages
    const seeded = await home("chatgpt", issuer); // signed in before as dev@example.com
    const { cli, authUrl } = await startCliLogin(issuer, seeded, {
      CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/revoke`,
    });
    expect(cli.stderr().startsWith(LOGIN_BANNER)).toBe(true);

    const page = await chromium!.newPage();
    await page.goto(authUrl);
    expect(await page.title()).toBe("Sign in");
    await page.selectOption("#email", "ada@example.com");
    await page.fill("#password", "wrong");
    await page.getByRole("button", { name: "Continue" }).click();
    await expect.poll(() => page.locator("#error").textContent()).toContain("Wrong password");
    expect(seeded.now()).toEqual(seeded.before);
    await page.selectOption("#email", "ada@example.com");
    await page.fill("#password", "analytical-engine");
    await page.getByRole("button", { name: "Continue" }).click();
    await page.waitForURL(/\/interaction\//);
    expect(await page.title()).toBe("Authorize");
    expect(await page.locator("body").textContent()).toContain("Signed in as ada@example.com");
    await page.getByRole("button", { name: "Allow" }).click();
    await page.waitForURL("http://127.0.0.1:1455/success");
    expect(await page.title()).toBe("Signed in to Codex");
    expect(await page.locator("h1").textContent()).toBe("Signed in to Codex");

    expect(await cli.exit).toBe(0);
    expect(cli.stderr().endsWith("\nSuccessfully logged in\n")).toBe(true);

    const saved = readAuthJson(seeded.home);
    expect(authFileMode(seeded.home)).toBe(0o600);
    expect(saved.auth_mode).toBe("chatgpt");
    expect(saved.OPENAI_API_KEY).toMatch(/^sk-dev-/);
    expect(saved.tokens.oauth_provenance).toEqual({ issuer: issuer.url, client_id: issuer.clientId });
    expect(saved.tokens.account_id).toBe("org_ada");
    expect(jwtPayload(saved.tokens.id_token)).toMatchObject({
      email: "ada@example.com",
      "https://api.openai.com/auth": { chatgpt_plan_type: "plus", chatgpt_account_id: "org_ada" },
    });
    // The previous sign-in's refresh token was revoked after the save.
    expect(issuer.requests.filter((r) => r.path === "/oauth/revoke").map((r) => r.outcome)).toEqual([
      "revoked",
    ]);
    const old = await refreshRequest(issuer.url, seeded.previousRefreshToken!);
    expect(((await old.json()) as { error: { code: string } }).error.code).toBe("refresh_token_invalidated");

    const status = runOurs(["login", "status"], { home: seeded.home });
    expect(status.stderr).toBe("Logged in using ChatGPT\n");
    expect(status.code).toBe(0);
    const json = runOurs(["status", "--json"], { home: seeded.home });
    expect(JSON.parse(json.stdout)).toMatchObject({
      loggedIn: true,
      mode: "chatgpt",
      email: "ada@example.com",
      plan: "plus",
      accountId: "org_ada",
    });
    if (codex) {
      const real = startChild(codex, ["login", "status"], codexEnv(seeded.home, issuer.url));
      expect(await real.exit).toBe(0);
      expect(real.stderr()).toBe("Logged in using ChatGPT\n");
    }
    // Nothing secret was printed along the way.
    for (const secret of [saved.tokens.refresh_token, saved.tokens.access_token, saved.OPENAI_API_KEY!]) {
      expect(cli.stdout() + cli.stderr() + status.stderr + json.stdout).not.toContain(secret);
    }
  });

  it("a person approves a device code in Chromium while codex-auth login --device-auth waits", async () => {
    const issuer = await issuerFor({ users: USERS, deviceIntervalSeconds: 1 });
    const seeded = await home("none");
    const cli = startOurs(["login", "--device-auth", "--issuer", issuer.url], seeded.home);
    const [, code] = await cli.waitFor("stdout", /\n {3}([A-Z0-9]{4}-[A-Z0-9]{5})\n/);
    const page = await chromium!.newPage();
    await page.goto(`${issuer.url}/codex/device`);
    await page.fill("#user_code", code!.toLowerCase()); // typed sloppily
    await page.selectOption("#account", "ada@example.com|org_ada");
    await page.fill("#password", "analytical-engine");
    await page.getByRole("button", { name: "Approve" }).click();
    await expect.poll(() => page.locator("#result").textContent()).toContain("Device approved");
    expect(await cli.exit).toBe(0);
    expect(jwtPayload(readAuthJson(seeded.home).tokens.id_token).email).toBe("ada@example.com");
  });
});

describe("headless paste-back (CLI, port 1455)", () => {
  it("a tampered redirect URL is refused (State mismatch) and the login goes on; the real one then signs in", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("apiKey");
    const { cli, authUrl } = await startCliLogin(issuer, seeded);
    const callback = await authorizeToCallback(authUrl, issuer.url); // where the browser would end; not requested
    expect(callback.origin + callback.pathname).toBe("http://127.0.0.1:1455/auth/callback");

    cli.writeLine(withParams(callback, { state: "forged-state" }));
    await cli.waitFor("stderr", /Not accepted: State mismatch\n/);
    cli.writeLine("not a url at all");
    await cli.waitFor("stderr", /Not accepted: That does not look like the redirect URL/);
    expect(seeded.now()).toEqual(seeded.before);

    cli.writeLine(callback.href);
    expect(await cli.exit).toBe(0);
    expect(cli.stderr().endsWith("\nSuccessfully logged in\n")).toBe(true);
    expect(readAuthJson(seeded.home).tokens.oauth_provenance?.issuer).toBe(issuer.url);
    expect(issuer.requests.filter((r) => r.grant_type === "authorization_code")).toHaveLength(1);
  });

  it("the bare authorization code is accepted too", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("none");
    const { cli, authUrl } = await startCliLogin(issuer, seeded);
    const callback = await authorizeToCallback(authUrl, issuer.url);
    cli.writeLine(`  ${callback.searchParams.get("code")}  `);
    expect(await cli.exit).toBe(0);
    expect(readAuthJson(seeded.home).auth_mode).toBe("chatgpt");
  });

  it("Ctrl-C while waiting: exit 130, the Codex-style message, previous credentials byte-for-byte kept", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("chatgpt", issuer);
    const { cli } = await startCliLogin(issuer, seeded, {
      CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/revoke`,
    });
    cli.child.kill("SIGINT");
    expect(await cli.exit).toBe(130);
    expect(cli.stderr().endsWith("\nLogin cancelled. Your previous credentials (if any) were kept.\n")).toBe(
      true,
    );
    expect(seeded.now()).toEqual(seeded.before);
    expect(issuer.requests.some((r) => r.path === "/oauth/revoke")).toBe(false);
  });
});

/** A plain TCP listener on a fixed port: an unrelated program that hangs up on whatever it is sent. */
async function occupy(port: number): Promise<() => Promise<void>> {
  const server: Server = createServer((socket) => socket.once("data", () => socket.destroy()));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
    });
}

describe("the callback port, compared with codex (port 1455)", () => {
  it("1455 and 1457 both held by another program: 'Port 127.0.0.1:1457 is already in use', exit 1, as codex", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    cleanups.push(await occupy(1455), await occupy(1457));
    const seeded = await home("apiKey");
    const cli = startOurs(["login", "--issuer", issuer.url], seeded.home);
    expect(await cli.exit).toBe(1);
    expect(cli.stderr()).toBe(
      "Error logging in: Port 127.0.0.1:1457 is already in use. Another program holds 127.0.0.1:1455 and 127.0.0.1:1457; stop it (or finish the other sign-in) and retry, or use `codex-auth login --device-auth`.\n",
    );
    expect(seeded.now()).toEqual(seeded.before);
    if (!codex) return;
    const codexHome = await home("none");
    const real = startChild(codex, ["login"], codexEnv(codexHome.home, issuer.url));
    expect(await real.exit).toBe(1);
    expect(real.stderr()).toContain("Error logging in: Port 127.0.0.1:1457 is already in use");
  });
});

describe.skipIf(!codex)("the authorize URL, compared with real codex 0.169 (port 1455)", () => {
  it("codex login and codex-auth login print the same banner and the same parameters, in the same order", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const codexHome = await home("none");
    const real = startChild(codex!, ["login"], codexEnv(codexHome.home, issuer.url));
    const [codexUrl] = await real.waitFor("stderr", /https:\/\/auth\.openai\.com\/oauth\/authorize\?\S+/);
    expect(real.stderr().startsWith(LOGIN_BANNER)).toBe(true);
    real.child.kill("SIGINT");
    expect(await real.exit).toBe(130);

    const seeded = await home("none");
    const { cli, authUrl } = await startCliLogin(issuer, seeded);
    cli.child.kill("SIGINT");
    expect(await cli.exit).toBe(130);

    expect(new URL(codexUrl).pathname).toBe(new URL(authUrl).pathname);
    expect(new URL(authUrl).origin).toBe(issuer.url);
    expect(authorizeShape(codexUrl).map(([k]) => k)).toEqual(AUTHORIZE_PARAMS);
    expect(authorizeShape(authUrl)).toEqual(authorizeShape(codexUrl));
    expect(authorizeShape(authUrl)).toEqual([
      ["response_type", "code"],
      ["client_id", "app_EMoamEEZ73f0CkXaXp7hrann"],
      ["redirect_uri", "http://127.0.0.1:1455/auth/callback"],
      ["code_challenge", "<43 base64url>"],
      ["code_challenge_method", "S256"],
      ["state", "<43 base64url>"],
      ["scope", "openid profile email offline_access api.connectors.read api.connectors.invoke"],
      ["id_token_add_organizations", "true"],
      ["codex_cli_simplified_flow", "true"],
      ["originator", "codex_cli_rs"],
    ]);
    // Same encoding too: spaces as '+', the redirect URI percent-encoded.
    const query = (u: string) => new URL(u).search.replace(/(code_challenge|state)=[^&]+/g, "$1=…");
    expect(query(authUrl)).toBe(query(codexUrl));
  });

  it("a wrong state, then the issuer's access_denied: the same answers, page title, last line and exit code as codex login", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const run = async (child: ReturnType<typeof startChild>, urlPattern: RegExp) => {
      const [url] = await child.waitFor("stderr", urlPattern);
      const state = new URL(url).searchParams.get("state")!;
      const wrong = await fetch("http://127.0.0.1:1455/auth/callback?code=c&state=wrong");
      const denied = await fetch(
        `http://127.0.0.1:1455/auth/callback?error=access_denied&error_description=User+said+no&state=${state}`,
      );
      const html = await denied.text();
      return {
        wrong: `${wrong.status} ${await wrong.text()}`,
        denied: `${denied.status} ${/<title>([^<]*)<\/title>/.exec(html)?.[1]}`,
        code: await child.exit,
        last: child.stderr().trim().split("\n").at(-1),
      };
    };
    const codexHome = await home("none");
    const real = await run(
      startChild(codex!, ["login"], codexEnv(codexHome.home, issuer.url)),
      /https:\/\/auth\.openai\.com\/oauth\/authorize\?\S+/,
    );
    const seeded = await home("apiKey");
    const ours = await run(
      startOurs(["login", "--issuer", issuer.url], seeded.home),
      new RegExp(`${issuer.url}/oauth/authorize\\?\\S+`),
    );
    expect(real).toEqual({
      wrong: "400 State mismatch",
      denied: "200 Codex Sign-in Error",
      code: 1,
      last: "Error logging in: Sign-in failed: User said no",
    });
    expect(ours).toEqual(real);
    expect(seeded.now()).toEqual(seeded.before);
  });

  it("codex app-server account/login/start (CODEX_APP_SERVER_LOGIN_ISSUER) builds the URL we build; codex then signs in in Chromium and codex-auth reads the result", async (t) => {
    if (!hasChromium) t.skip();
    const issuer = await issuerFor({ users: USERS });
    const codexHome = await home("none");
    const env = codexEnv(codexHome.home, issuer.url, { CODEX_APP_SERVER_LOGIN_ISSUER: issuer.url });
    writeConfig(codexHome.home, issuer.url);
    let codexUrl = "";
    await withCodexAppServer(codex!, { home: codexHome.home, env }, async (call) => {
      const started = await call("account/login/start", { type: "chatgpt" });
      codexUrl = (started.result as { authUrl: string }).authUrl;
      const page = await chromium!.newPage();
      await page.goto(codexUrl);
      await page.selectOption("#email", "ada@example.com");
      await page.fill("#password", "analytical-engine");
      await page.getByRole("button", { name: "Continue" }).click();
      await page.waitForURL(/\/interaction\//);
      await page.getByRole("button", { name: "Allow" }).click();
      await page.waitForURL(/^http:\/\/127\.0\.0\.1:1455\/success/);
      const read = await call("account/read", {});
      expect(read.result).toMatchObject({
        account: { type: "chatgpt", email: "ada@example.com", planType: "plus" },
      });
    });
    // The same URL from our library, for the same client name (Codex uses clientInfo.name as originator).
    const ours = await startBrowserLogin({
      issuer: issuer.url,
      storage: new FileAuthStorage(codexHome.home),
      port: 1455,
      originator: "codex-auth-test",
      env: {},
    });
    ours.cancel();
    await ours.closed;
    expect(authorizeShape(ours.authUrl)).toEqual(authorizeShape(codexUrl));
    expect(authorizeShape(codexUrl).find(([k]) => k === "originator")).toEqual([
      "originator",
      "codex-auth-test",
    ]);

    // What real Codex wrote, codex-auth reads.
    const status = runOurs(["login", "status"], { home: codexHome.home });
    expect(status.stderr).toBe("Logged in using ChatGPT\n");
    const json = JSON.parse(runOurs(["status", "--json"], { home: codexHome.home }).stdout);
    expect(json).toMatchObject({
      loggedIn: true,
      email: "ada@example.com",
      plan: "plus",
      accountId: "org_ada",
    });
    const written = JSON.parse(readFileSync(join(codexHome.home, "auth.json"), "utf8"));
    expect(written.tokens.oauth_provenance).toEqual({ issuer: issuer.url, client_id: issuer.clientId });
  });
});

/** Codex's backend calls (accounts/check) go to the dev issuer. */
function writeConfig(codexHome: string, issuerUrl: string): void {
  writeFileSync(join(codexHome, "config.toml"), `chatgpt_base_url = "${issuerUrl}/backend-api/"\n`);
}
