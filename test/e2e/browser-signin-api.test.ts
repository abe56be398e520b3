/**
 * The browser sign-in API driven the way a host application uses it, with
 * real parts: Codex's callback port 1455, the development issuer's sign-in
 * and consent pages, and headless Debian Chromium as the user's browser.
 * Runs under holdCallbackPorts() so it takes turns with the other files that
 * bind 1455. All traffic stays on 127.0.0.1.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DevUser } from "../../src/dev-issuer/index.js";
import { AuthManager, type ChatgptSignInOptions, startChatgptSignIn } from "../../src/index.js";
import { jwtPayload } from "../dev-issuer/helpers.js";
import { readAuthJson, type SeededHome, testResources } from "../login/helpers.js";
import { rejection } from "../signin/gates.js";
import {
  CALLBACK_PORTS,
  chromiumAvailable,
  type HeadlessChromium,
  holdCallbackPorts,
  launchChromium,
} from "../support/browser.js";

const hasChromium = chromiumAvailable();

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
  await closeAll();
  await chromium?.context.clearCookies();
  for (const page of chromium?.context.pages() ?? []) await page.close();
  releasePorts?.();
  releasePorts = undefined;
});

const managerFor = (seeded: SeededHome) =>
  AuthManager.create({ codexHome: seeded.home, storage: seeded.storage, env: {} });

/** Starts a sign-in through the API; always cancelled and its port freed after the test. */
async function start(o: ChatgptSignInOptions) {
  const signIn = await startChatgptSignIn(o);
  cleanups.push(async () => {
    signIn.cancel();
    await signIn.closed;
  });
  return signIn;
}

/** A person signs in as Ada on the issuer's pages (once per browser session) and reaches the consent page. */
async function signInAsAda(authUrl: string) {
  const page = await chromium!.newPage();
  await page.goto(authUrl);
  if ((await page.title()) === "Authorize") return page; // already signed in at the issuer
  expect(await page.title()).toBe("Sign in");
  await page.selectOption("#email", "ada@example.com");
  await page.fill("#password", "analytical-engine");
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL(/\/interaction\//);
  return page;
}

describe.skipIf(!hasChromium)("browser sign-in API in real Chromium (port 1455)", () => {
  it("api-browser-signin-chromium: the host opens authUrl, the person signs in and consents, done gives the account", async () => {
    const issuer = await issuerFor({ users: USERS });
    const seeded = await home("chatgpt", issuer);
    const manager = await managerFor(seeded);
    const completing: string[] = [];
    const signIn = await start({
      manager,
      issuer: issuer.url,
      onCompleting: () => completing.push("completing"),
    });
    expect(signIn.port).toBe(CALLBACK_PORTS[0]);
    expect(signIn.redirectUri).toBe("http://127.0.0.1:1455/auth/callback");
    const page = await signInAsAda(signIn.authUrl);
    expect(seeded.now()).toEqual(seeded.before); // nothing saved until the callback
    await page.getByRole("button", { name: "Allow" }).click();
    await page.waitForURL("http://127.0.0.1:1455/success");
    expect(await page.title()).toBe("Signed in to Codex");
    expect(await signIn.done).toEqual({
      mode: "chatgpt",
      email: "ada@example.com",
      planType: "plus",
      accountId: "org_ada",
      userId: expect.stringMatching(/^user-/),
    });
    await signIn.closed;
    expect(completing).toEqual(["completing"]);
    const saved = readAuthJson(seeded.home);
    expect(jwtPayload(saved.tokens.id_token).email).toBe("ada@example.com");
    const cached = manager.authCached();
    expect(cached?.mode === "chatgpt" && cached.tokens?.account_id).toBe("org_ada");
  });

  it("api-browser-second-cancels-first-chromium: a second start cancels the first, rebinds 1455, and completes", async () => {
    const issuer = await issuerFor({ users: USERS });
    const seeded = await home("apiKey");
    const manager = await managerFor(seeded);
    const first = await start({ manager, issuer: issuer.url });
    const stalePage = await signInAsAda(first.authUrl);
    const second = await start({ manager, issuer: issuer.url });
    expect((await rejection(first.done)).code).toBe("ERR_LOGIN_CANCELLED");
    expect(second.port).toBe(1455);
    // The first sign-in's consent now reaches the second's server, whose state differs: refused.
    await stalePage.getByRole("button", { name: "Allow" }).click();
    await stalePage.waitForURL(/127\.0\.0\.1:1455\/auth\/callback/);
    expect(await stalePage.locator("body").textContent()).toContain("State mismatch");
    expect(seeded.now()).toEqual(seeded.before);
    const page = await signInAsAda(second.authUrl);
    await page.getByRole("button", { name: "Allow" }).click();
    await page.waitForURL("http://127.0.0.1:1455/success");
    expect((await second.done).email).toBe("ada@example.com");
    await second.closed;
  });

  it("api-browser-abort-on-consent-page: the host aborts while the person is on the consent page; nothing changes", async () => {
    const issuer = await issuerFor({ users: USERS });
    const seeded = await home("chatgpt", issuer);
    const manager = await managerFor(seeded);
    const controller = new AbortController();
    const signIn = await start({ manager, issuer: issuer.url, signal: controller.signal });
    const page = await signInAsAda(signIn.authUrl);
    controller.abort();
    expect((await rejection(signIn.done)).code).toBe("ERR_LOGIN_CANCELLED");
    await signIn.closed;
    // Allowing now lands on a closed port: the browser shows its own error, nothing is saved.
    await page
      .getByRole("button", { name: "Allow" })
      .click()
      .catch(() => undefined);
    await page.waitForLoadState().catch(() => undefined);
    expect(seeded.now()).toEqual(seeded.before);
    expect(issuer.requests.some((r) => r.path === "/oauth/revoke")).toBe(false);
  });
});
