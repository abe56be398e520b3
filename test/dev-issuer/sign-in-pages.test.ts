import { afterEach, describe, expect, it } from "vitest";
import { type DevIssuer, type DevUser, startDevIssuer } from "../../src/dev-issuer/index.js";
import { authorizeUrl, Browser, CALLBACK, jwtPayload, pkce, redeemCode } from "./helpers.js";

const USERS: DevUser[] = [
  { email: "dev@example.com", name: "Dev" },
  {
    email: "lead@example.com",
    password: "s3cret",
    plan: "plus",
    workspaces: [
      { id: "org_home", name: "Home" },
      { id: "org_team", name: "Team", plan: "team", structure: "workspace" },
    ],
  },
];

let issuer: DevIssuer | undefined;

afterEach(async () => {
  await issuer?.close();
  issuer = undefined;
});

/** Starts a sign-in and returns the browser sitting on the first page (the login form). */
async function startSignIn(i: DevIssuer, extra: Record<string, string> = {}) {
  const { verifier, challenge } = pkce();
  const browser = new Browser();
  const page = await browser.follow(
    await browser.request(authorizeUrl(i.url, challenge, "st", extra)),
    i.url,
    CALLBACK,
  );
  if (page instanceof URL) throw new Error("expected a page, got a redirect to the client");
  const html = await page.text();
  const action = /<form method="post" action="([^"]+\/login)"/.exec(html)?.[1];
  if (!action) throw new Error("no login form");
  return {
    browser,
    verifier,
    html,
    loginUrl: new URL(action, i.url).href,
    base: new URL(action, i.url).href.replace(/\/login$/, ""),
  };
}

async function pageOrCallback(browser: Browser, res: Response, i: DevIssuer) {
  return browser.follow(res, i.url, CALLBACK);
}

describe("dev issuer: sign-in and consent pages", () => {
  it("a person signs in, picks a workspace and consents; the tokens are for that workspace", async () => {
    issuer = await startDevIssuer({ users: USERS });
    const { browser, verifier, html, loginUrl, base } = await startSignIn(issuer);
    expect(html).toContain("lead@example.com");
    expect(issuer.requests.at(-1)).toMatchObject({
      path: "/interaction/:uid",
      status: 200,
      outcome: "login_shown",
    });

    const wrong = await browser.post(loginUrl, { email: "lead@example.com", password: "nope" });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain("Wrong password");

    const consent = await pageOrCallback(
      browser,
      await browser.post(loginUrl, { email: "lead@example.com", password: "s3cret" }),
      issuer,
    );
    if (consent instanceof URL) throw new Error("expected the consent page");
    const consentHtml = await consent.text();
    expect(consentHtml).toContain("org_team");
    expect(consentHtml).toContain("api.connectors.read");

    const done = await pageOrCallback(
      browser,
      await browser.post(`${base}/confirm`, { workspace: "org_team" }),
      issuer,
    );
    if (!(done instanceof URL)) throw new Error(`expected the callback, got HTTP ${done.status}`);
    expect(done.searchParams.get("state")).toBe("st");
    const tokens = (await (
      await redeemCode(issuer.url, done.searchParams.get("code")!, verifier)
    ).json()) as Record<string, string>;
    expect(jwtPayload(tokens.id_token!)).toMatchObject({
      email: "lead@example.com",
      "https://api.openai.com/auth": { chatgpt_account_id: "org_team", chatgpt_plan_type: "team" },
    });
    expect(jwtPayload(tokens.access_token!)).toMatchObject({
      "https://api.openai.com/auth": { chatgpt_account_id: "org_team", chatgpt_plan_type: "team" },
    });
    expect(issuer.requests.map((r) => r.outcome)).toContain("consented");
  });

  it("cancel sends access_denied back to the client", async () => {
    issuer = await startDevIssuer({ users: USERS });
    const { browser, base } = await startSignIn(issuer);
    const end = await pageOrCallback(browser, await browser.post(`${base}/abort`, {}), issuer);
    if (!(end instanceof URL)) throw new Error("expected a redirect to the client");
    expect(end.searchParams.get("error")).toBe("access_denied");
    expect(end.searchParams.get("state")).toBe("st");
    expect(issuer.requests.at(-1)).toMatchObject({ path: "/oauth/authorize/:uid", outcome: "access_denied" });
  });

  it("allowed_workspace_id: a non-member is told so on the sign-in page; a member is offered only that workspace", async () => {
    issuer = await startDevIssuer({ users: USERS });
    const { browser, loginUrl } = await startSignIn(issuer, { allowed_workspace_id: "org_team" });
    const refused = await browser.post(loginUrl, { email: "dev@example.com" });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain("restricted to workspace org_team");
    expect(issuer.requests.at(-1)?.outcome).toBe("workspace_restricted");

    const consent = await pageOrCallback(
      browser,
      await browser.post(loginUrl, { email: "lead@example.com", password: "s3cret" }),
      issuer,
    );
    if (consent instanceof URL) throw new Error("expected the consent page");
    const consentHtml = await consent.text();
    expect(consentHtml).toContain('value="org_team"');
    expect(consentHtml).not.toContain('value="org_home"');
  });

  it("already signed in as a non-member: the restriction page lets the person switch accounts", async () => {
    issuer = await startDevIssuer({ users: USERS });
    // First sign-in (no restriction) leaves a session for dev@example.com in this browser.
    const first = await startSignIn(issuer);
    const consentPage = await pageOrCallback(
      first.browser,
      await first.browser.post(first.loginUrl, { email: "dev@example.com" }),
      issuer,
    );
    if (consentPage instanceof URL) throw new Error("expected the consent page");
    const confirm = /action="([^"]+\/confirm)"/.exec(await consentPage.text())![1]!;
    expect(
      await pageOrCallback(
        first.browser,
        await first.browser.post(new URL(confirm, issuer.url).href, {}),
        issuer,
      ),
    ).toBeInstanceOf(URL);

    const { verifier, challenge } = pkce();
    const browser = first.browser;
    const page = await pageOrCallback(
      browser,
      await browser.request(authorizeUrl(issuer.url, challenge, "st2", { allowed_workspace_id: "org_team" })),
      issuer,
    );
    if (page instanceof URL) throw new Error("expected the restriction page");
    expect(page.status).toBe(403);
    const html = await page.text();
    expect(html).toContain("dev@example.com is not a member");

    const switchUrl = new URL(/<form method="post" action="([^"]+\/login)"/.exec(html)![1]!, issuer.url).href;
    let next = await pageOrCallback(
      browser,
      await browser.post(switchUrl, { email: "lead@example.com", password: "s3cret" }),
      issuer,
    );
    // oidc-provider ends the old account's session with a self-submitting form (a browser runs it).
    for (let i = 0; i < 3 && next instanceof Response; i++) {
      const body = await next.text();
      if (!body.includes("Submitting Callback")) {
        next = new Response(body, { status: next.status });
        break;
      }
      const action = /<form method="post" action="([^"]+)"/.exec(body)![1]!;
      const fields = Object.fromEntries(
        [...body.matchAll(/name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]),
      );
      next = await pageOrCallback(browser, await browser.post(action, fields), issuer);
    }
    if (next instanceof URL) throw new Error("expected the consent page");
    const consentHtml = await next.text();
    expect(consentHtml).toContain("Signed in as lead@example.com");
    const confirm2 = /action="([^"]+\/confirm)"/.exec(consentHtml)![1]!;
    const done = await pageOrCallback(
      browser,
      await browser.post(new URL(confirm2, issuer.url).href, { workspace: "org_team" }),
      issuer,
    );
    if (!(done instanceof URL)) throw new Error("expected the callback");
    const tokens = (await (
      await redeemCode(issuer.url, done.searchParams.get("code")!, verifier)
    ).json()) as Record<string, string>;
    expect(jwtPayload(tokens.id_token!)).toMatchObject({
      email: "lead@example.com",
      "https://api.openai.com/auth": { chatgpt_account_id: "org_team" },
    });
  });

  it("auto-approve with an allowed_workspace_id the default user lacks redirects with access_denied", async () => {
    issuer = await startDevIssuer({ users: USERS, autoApprove: true });
    const browser = new Browser();
    const end = await browser.follow(
      await browser.request(
        authorizeUrl(issuer.url, pkce().challenge, "st", { allowed_workspace_id: "org_team" }),
      ),
      issuer.url,
      CALLBACK,
    );
    if (!(end instanceof URL)) throw new Error("expected a redirect to the client");
    expect(end.searchParams.get("error")).toBe("access_denied");
    expect(end.searchParams.get("error_description")).toContain("org_team");
  });

  it("auto-approve with an allowed_workspace_id the default user has issues tokens for it", async () => {
    issuer = await startDevIssuer({ users: [USERS[1]!], autoApprove: true });
    const { verifier, challenge } = pkce();
    const browser = new Browser();
    const end = await browser.follow(
      await browser.request(authorizeUrl(issuer.url, challenge, "st", { allowed_workspace_id: "org_team" })),
      issuer.url,
      CALLBACK,
    );
    if (!(end instanceof URL)) throw new Error("expected a redirect to the client");
    const tokens = (await (
      await redeemCode(issuer.url, end.searchParams.get("code")!, verifier)
    ).json()) as Record<string, string>;
    expect(jwtPayload(tokens.id_token!)).toMatchObject({
      "https://api.openai.com/auth": { chatgpt_account_id: "org_team" },
    });
  });

  it("an interaction page without its cookie explains itself instead of crashing", async () => {
    issuer = await startDevIssuer({ users: USERS });
    const { base } = await startSignIn(issuer);
    const res = await fetch(base);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("Start the sign-in again");
  });
});
