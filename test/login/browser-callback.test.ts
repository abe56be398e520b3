/**
 * The browser sign-in's loopback callback server, attacked and misused over
 * real HTTP, against the real development issuer. Every failure must leave
 * nothing saved and the previous credentials byte-for-byte as they were.
 * Library level, on port 0 (free ports), so these run beside other files.
 */
import { createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { DevIssuer, DevUser } from "../../src/dev-issuer/index.js";
import { CodexAuthError } from "../../src/errors.js";
import { type BrowserLogin, startBrowserLogin } from "../../src/login/browser.js";
import { Browser, jwtPayload, refreshRequest } from "../dev-issuer/helpers.js";
import {
  authFileMode,
  authorizeToCallback,
  type Previous,
  pathAndQuery,
  rawGet,
  rawRequest,
  readAuthJson,
  type SeededHome,
  testResources,
  withParams,
} from "./helpers.js";

const { cleanups, issuerFor, home, closeAll } = testResources();
afterEach(async () => {
  await closeAll();
});

/** A sign-in on a free port whose server is always closed after the test. */
async function login(
  issuer: DevIssuer,
  seeded: SeededHome,
  extra: Partial<Parameters<typeof startBrowserLogin>[0]> = {},
): Promise<BrowserLogin> {
  const l = await startBrowserLogin({
    issuer: issuer.url,
    storage: seeded.storage,
    port: 0,
    env: {},
    successGraceMs: 50,
    ...extra,
  });
  cleanups.push(async () => {
    l.cancel();
    await l.closed;
  });
  return l;
}

/** The error `done` rejected with. */
async function failure(l: BrowserLogin): Promise<CodexAuthError> {
  const err = await l.done.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof CodexAuthError)) throw new Error(`expected a CodexAuthError, got ${String(err)}`);
  return err;
}

function expectUntouched(seeded: SeededHome): void {
  expect(seeded.now()).toEqual(seeded.before);
}

const PREVIOUS: Previous[] = ["none", "apiKey", "chatgpt"];

describe("browser sign-in: the happy path over the callback server", () => {
  it("a real callback saves the tokens (0600, chatgpt, provenance, API key), 302s to /success and closes", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("none", issuer);
    const l = await login(issuer, seeded, { successGraceMs: 60_000 });
    expect(l.redirectUri).toBe(`http://127.0.0.1:${l.port}/auth/callback`);
    const callback = await authorizeToCallback(l.authUrl, issuer.url);
    const res = await rawGet(l.port, pathAndQuery(callback));
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(`http://127.0.0.1:${l.port}/success`);
    const record = await l.done;
    const page = await rawGet(l.port, "/success");
    expect(page.status).toBe(200);
    expect(page.body).toContain("Signed in to Codex");
    await l.closed;

    const saved = readAuthJson(seeded.home);
    expect(saved).toEqual(JSON.parse(JSON.stringify(record)));
    expect(authFileMode(seeded.home)).toBe(0o600);
    expect(saved.auth_mode).toBe("chatgpt");
    expect(saved.OPENAI_API_KEY).toMatch(/^sk-dev-/); // the API-key token exchange Codex also makes
    expect(saved.tokens.oauth_provenance).toEqual({ issuer: issuer.url, client_id: issuer.clientId });
    expect(saved.tokens.account_id).toBe("org_dev");
    expect(saved.last_refresh).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(jwtPayload(saved.tokens.id_token).email).toBe("dev@example.com");
    expect(
      issuer.requests.filter((r) => r.path === "/oauth/token").map((r) => `${r.grant_type} ${r.outcome}`),
    ).toEqual([
      "authorization_code issued", // seeding none: this is the sign-in's own exchange
      "urn:ietf:params:oauth:grant-type:token-exchange issued",
    ]);
  });

  it("over previous ChatGPT credentials: saved first, then the old refresh token is revoked at the issuer", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("chatgpt", issuer);
    const l = await login(issuer, seeded);
    const callback = await authorizeToCallback(l.authUrl, issuer.url);
    expect((await rawGet(l.port, pathAndQuery(callback))).status).toBe(302);
    const record = await l.done;
    expect(readAuthJson(seeded.home).tokens.refresh_token).toBe(record.tokens?.refresh_token);
    expect(record.tokens?.refresh_token).not.toBe(seeded.previousRefreshToken);
    const revokes = issuer.requests.filter((r) => r.path === "/oauth/revoke");
    expect(revokes.map((r) => `${r.status} ${r.outcome}`)).toEqual(["200 revoked"]);
    // Revoked after the save: the revoke is the last thing the sign-in did.
    expect(issuer.requests.at(-1)?.path).toBe("/oauth/revoke");
    const old = await refreshRequest(issuer.url, seeded.previousRefreshToken!);
    expect(old.status).toBe(401);
    expect(((await old.json()) as { error: { code: string } }).error.code).toBe("refresh_token_invalidated");
  });

  it("over a previous API key: replaced, and nothing is revoked", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("apiKey", issuer);
    const l = await login(issuer, seeded);
    const callback = await authorizeToCallback(l.authUrl, issuer.url);
    expect((await rawGet(l.port, pathAndQuery(callback))).status).toBe(302);
    await l.done;
    expect(readAuthJson(seeded.home).auth_mode).toBe("chatgpt");
    expect(issuer.requests.some((r) => r.path === "/oauth/revoke")).toBe(false);
  });
});

describe("browser sign-in: attacks and mistakes leave the previous credentials alone", () => {
  for (const previous of PREVIOUS) {
    describe(`previous credentials: ${previous}`, () => {
      it("wrong or missing state answers 400 State mismatch, the login goes on, and the real callback still works", async () => {
        const issuer = await issuerFor({ autoApprove: true });
        const seeded = await home(previous, issuer);
        const l = await login(issuer, seeded);
        const callback = await authorizeToCallback(l.authUrl, issuer.url);
        const state = callback.searchParams.get("state")!;
        const code = callback.searchParams.get("code")!;
        const forged = [
          `/auth/callback?code=${code}`,
          `/auth/callback?code=${code}&state=`,
          `/auth/callback?code=${code}&state=${state.slice(0, -1)}`,
          `/auth/callback?code=${code}&state=${state}x`,
          `/auth/callback?code=${code}&state=${state.toUpperCase()}`,
          `/auth/callback?error=access_denied&state=nope`,
        ];
        for (const path of forged) {
          const res = await rawGet(l.port, path);
          expect(res.status, path).toBe(400);
          expect(res.body).toBe("State mismatch");
        }
        expectUntouched(seeded);
        // The code was not spent by the forged requests.
        const good = await rawGet(l.port, pathAndQuery(callback));
        expect(good.status).toBe(302);
        await l.done;
        expect(readAuthJson(seeded.home).tokens.refresh_token).toBeTruthy();
      });

      it("a replayed callback is refused: the first use wins, the second gets 400", async () => {
        const issuer = await issuerFor({ autoApprove: true });
        const seeded = await home(previous, issuer);
        // The server stays up (waiting for the browser to load /success) until /success is loaded.
        const l = await login(issuer, seeded, { successGraceMs: 60_000 });
        const callback = await authorizeToCallback(l.authUrl, issuer.url);
        // Both at once: exactly one is accepted.
        const [a, b] = await Promise.all([
          rawGet(l.port, pathAndQuery(callback)),
          rawGet(l.port, pathAndQuery(callback)),
        ]);
        expect([a.status, b.status].sort()).toEqual([302, 400]);
        const saved = await l.done;
        // And later, while the server still waits for the browser to load /success.
        const again = await rawGet(l.port, pathAndQuery(callback));
        expect(again.status).toBe(400);
        expect(again.body).toMatch(/already completed/);
        expect(await l.submitPasted(callback.href)).toMatch(/already completed/);
        expect((await rawGet(l.port, "/success")).status).toBe(200);
        await l.closed; // loading /success closes the server at once
        expect(readAuthJson(seeded.home).tokens.refresh_token).toBe(saved.tokens?.refresh_token);
        expect(issuer.requests.filter((r) => r.grant_type === "authorization_code").length).toBe(
          previous === "chatgpt" ? 2 : 1, // the seeding's own exchange, plus exactly one
        );
      });

      it("a code minted for another PKCE challenge fails the token exchange: error page, nothing saved", async () => {
        const issuer = await issuerFor({ autoApprove: true });
        const seeded = await home(previous, issuer);
        const l = await login(issuer, seeded);
        // An attacker's authorize request: our state and redirect, their challenge.
        const attackerChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        const callback = await authorizeToCallback(
          withParams(l.authUrl, { code_challenge: attackerChallenge }),
          issuer.url,
        );
        const res = await rawGet(l.port, pathAndQuery(callback));
        expect(res.status).toBe(200);
        expect(res.body).toContain("Codex Sign-in Error");
        expect(res.body).toContain("Token exchange failed");
        const err = await failure(l);
        expect(err.code).toBe("ERR_TOKEN_EXCHANGE");
        expect(err.message).toMatch(/^Token exchange failed: token endpoint returned status 400/);
        await l.closed;
        expectUntouched(seeded);
        expect(
          issuer.requests.find((r) => r.grant_type === "authorization_code" && r.status === 400),
        ).toBeTruthy();
      });

      it("the issuer's access_denied (person pressed Cancel) shows the error page and ends with ERR_LOGIN_DENIED", async () => {
        const issuer = await issuerFor(); // interactive: a person signs in, or cancels
        const seeded = await home(previous, issuer);
        const l = await login(issuer, seeded);
        const browser = new Browser();
        const page = await browser.follow(await browser.request(l.authUrl), issuer.url, l.redirectUri);
        if (page instanceof URL) throw new Error("expected the sign-in page");
        const abort = /<form method="post" action="([^"]+\/abort)"/.exec(await page.text())?.[1];
        expect(abort).toBeTruthy();
        const back = await browser.follow(
          await browser.post(new URL(abort!, issuer.url).href, {}),
          issuer.url,
          l.redirectUri,
        );
        if (!(back instanceof URL)) throw new Error("expected a redirect back to the callback");
        expect(back.searchParams.get("error")).toBe("access_denied");
        const res = await rawGet(l.port, pathAndQuery(back));
        expect(res.status).toBe(200);
        expect(res.body).toContain("Codex Sign-in Error");
        const err = await failure(l);
        expect(err.code).toBe("ERR_LOGIN_DENIED");
        expect(err.message).toMatch(/^Sign-in failed: /);
        await l.closed;
        expectUntouched(seeded);
      });

      it("a callback carrying a foreign Host header (DNS rebinding) gets 400 and is ignored", async () => {
        const issuer = await issuerFor({ autoApprove: true });
        const seeded = await home(previous, issuer);
        const l = await login(issuer, seeded);
        const callback = await authorizeToCallback(l.authUrl, issuer.url);
        for (const host of [
          `evil.example:${l.port}`,
          `127.0.0.1.evil.example:${l.port}`,
          `localhost.evil.example:${l.port}`,
          "127.0.0.1",
          `127.0.0.1:${l.port + 1}`,
          `0.0.0.0:${l.port}`,
        ]) {
          const res = await rawGet(l.port, pathAndQuery(callback), host);
          expect(res.status, host).toBe(400);
        }
        // No Host at all, in HTTP/1.0 (where it is optional) and HTTP/1.1.
        for (const version of ["1.0", "1.1"]) {
          const res = await rawRequest(
            l.port,
            `GET ${pathAndQuery(callback)} HTTP/${version}\r\nConnection: close\r\n\r\n`,
          );
          expect(res.status, `HTTP/${version} without Host`).toBe(400);
        }
        expect((await rawGet(l.port, "/cancel", `evil.example:${l.port}`)).status).toBe(400);
        expectUntouched(seeded);
        // Neither the code nor the login was spent.
        expect((await rawGet(l.port, pathAndQuery(callback), `localhost:${l.port}`)).status).toBe(302);
        await l.done;
      });

      it("GET /cancel ends the login with ERR_LOGIN_CANCELLED and closes the server", async () => {
        const issuer = await issuerFor({ autoApprove: true });
        const seeded = await home(previous, issuer);
        const l = await login(issuer, seeded);
        const callback = await authorizeToCallback(l.authUrl, issuer.url);
        const res = await rawGet(l.port, "/cancel");
        expect(res.status).toBe(200);
        expect(res.body).toBe("Login cancelled");
        const err = await failure(l);
        expect(err.code).toBe("ERR_LOGIN_CANCELLED");
        expect(err.message).toBe("Login cancelled");
        await l.closed;
        await expect(rawGet(l.port, pathAndQuery(callback))).rejects.toThrow(/ECONNREFUSED/);
        expectUntouched(seeded);
      });

      it("a token for a workspace outside forced_chatgpt_workspace_id is refused before saving", async () => {
        const users: DevUser[] = [
          {
            email: "lead@example.com",
            plan: "team",
            workspaces: [
              { id: "org_home", name: "Home" },
              { id: "org_team", name: "Team" },
            ],
          },
        ];
        const issuer = await issuerFor({ autoApprove: true, users });
        const seeded = await home(previous, issuer);
        const l = await login(issuer, seeded, { allowedWorkspaceIds: ["org_team"] });
        expect(new URL(l.authUrl).searchParams.get("allowed_workspace_id")).toBe("org_team");
        // A tampered authorize request without the restriction: the issuer picks org_home.
        const url = new URL(l.authUrl);
        url.searchParams.delete("allowed_workspace_id");
        const callback = await authorizeToCallback(url.href, issuer.url);
        const res = await rawGet(l.port, pathAndQuery(callback));
        expect(res.body).toContain("Codex Sign-in Error");
        const err = await failure(l);
        expect(err.code).toBe("ERR_LOGIN_RESTRICTED");
        expect(err.message).toBe("Login is restricted to workspace id(s) org_team.");
        expectUntouched(seeded);
      });
    });
  }

  it("with the restriction in place the issuer offers only that workspace and the login succeeds", async () => {
    const users: DevUser[] = [
      {
        email: "lead@example.com",
        plan: "team",
        workspaces: [
          { id: "org_home", name: "Home" },
          { id: "org_team", name: "Team" },
        ],
      },
    ];
    const issuer = await issuerFor({ autoApprove: true, users });
    const seeded = await home("none", issuer);
    const l = await login(issuer, seeded, { allowedWorkspaceIds: ["org_team"] });
    const callback = await authorizeToCallback(l.authUrl, issuer.url);
    expect((await rawGet(l.port, pathAndQuery(callback))).status).toBe(302);
    expect((await l.done).tokens?.account_id).toBe("org_team");
  });

  it("login.cancel() (Ctrl-C in the CLI) ends it with ERR_LOGIN_CANCELLED and frees the port", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("chatgpt", issuer);
    const l = await login(issuer, seeded);
    l.cancel();
    expect((await failure(l)).code).toBe("ERR_LOGIN_CANCELLED");
    await l.closed;
    expectUntouched(seeded);
    expect(issuer.requests.some((r) => r.path === "/oauth/revoke")).toBe(false);
  });

  it("a cancel that arrives while the code is being exchanged wins: nothing saved, the dropped tokens revoked, the old login live", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("chatgpt", issuer);
    let exchangeStarted!: () => void;
    const started = new Promise<void>((r) => (exchangeStarted = r));
    let releaseExchange!: () => void;
    const released = new Promise<void>((r) => (releaseExchange = r));
    // The issuer is slow to answer the code exchange; the person cancels meanwhile.
    const slowExchange: typeof fetch = async (input, init) => {
      if (String(init?.body).includes("grant_type=authorization_code")) {
        exchangeStarted();
        await released;
      }
      return fetch(input, init);
    };
    const l = await login(issuer, seeded, { fetch: slowExchange });
    const callback = await authorizeToCallback(l.authUrl, issuer.url);
    const inFlight = rawGet(l.port, pathAndQuery(callback)).catch((e: unknown) => e);
    await started;
    l.cancel();
    releaseExchange();
    expect((await failure(l)).code).toBe("ERR_LOGIN_CANCELLED");
    await inFlight;
    await l.closed;
    // The exchange itself went through at the issuer; its tokens were dropped and revoked
    // (Codex drops them unrevoked), the previous login is neither touched nor revoked.
    await expect
      .poll(() => issuer.requests.filter((r) => r.grant_type === "authorization_code").length)
      .toBe(2);
    expect(issuer.requests.filter((r) => r.path === "/oauth/revoke").length).toBe(1);
    expectUntouched(seeded);
    expect((await refreshRequest(issuer.url, seeded.previousRefreshToken!)).status).toBe(200);
  });

  it("unknown paths answer 404 and do not disturb the login", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("none", issuer);
    const l = await login(issuer, seeded);
    for (const path of ["/", "/auth", "/auth/callback/", "/success/x", "/favicon.ico"]) {
      expect((await rawGet(l.port, path)).status, path).toBe(404);
    }
    const callback = await authorizeToCallback(l.authUrl, issuer.url);
    expect((await rawGet(l.port, pathAndQuery(callback))).status).toBe(302);
    await l.done;
  });
});

/** A plain TCP listener, like an unrelated program: accepts, records what it is sent, never answers HTTP. */
async function squatter(): Promise<{ port: number; received: () => string; close: () => Promise<void> }> {
  let received = "";
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("data", (d) => (received += d.toString("latin1")));
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as { port: number }).port,
    received: () => received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe("browser sign-in: the callback port", () => {
  it("both ports held by an unrelated program: ERR_PORT_IN_USE naming them, after one polite /cancel", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("apiKey", issuer);
    const a = await squatter();
    const b = await squatter();
    cleanups.push(a.close, b.close);
    const err = await startBrowserLogin({
      issuer: issuer.url,
      storage: seeded.storage,
      port: a.port,
      fallbackPort: b.port,
      bindAttempts: 2,
      env: {},
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CodexAuthError);
    expect((err as CodexAuthError).code).toBe("ERR_PORT_IN_USE");
    expect((err as CodexAuthError).message).toMatch(
      new RegExp(`^Port 127\\.0\\.0\\.1:${b.port} is already in use\\. .*127\\.0\\.0\\.1:${a.port}`),
    );
    // Like Codex: a previous login server on the main port is asked to stop, once.
    expect(a.received()).toMatch(/^GET \/cancel HTTP\/1\.1\r\n/);
    expect(a.received().match(/GET \/cancel/g)).toHaveLength(1);
    expect(b.received()).toBe("");
    expectUntouched(seeded);
  });

  it("main port held by an unrelated program: falls back to the other port and works there", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("none", issuer);
    const a = await squatter();
    const b = await squatter();
    await b.close(); // a port that was free a moment ago
    cleanups.push(a.close);
    const l = await login(issuer, seeded, { port: a.port, fallbackPort: b.port, bindAttempts: 2 });
    expect(l.port).toBe(b.port);
    expect(new URL(l.authUrl).searchParams.get("redirect_uri")).toBe(
      `http://127.0.0.1:${b.port}/auth/callback`,
    );
    const callback = await authorizeToCallback(l.authUrl, issuer.url);
    expect((await rawGet(l.port, pathAndQuery(callback))).status).toBe(302);
    await l.done;
  });

  it("a previous sign-in on the port is cancelled by a new one, which takes the port over", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("chatgpt", issuer);
    const first = await login(issuer, seeded);
    const second = await login(issuer, seeded, { port: first.port, bindAttempts: 10 });
    expect((await failure(first)).code).toBe("ERR_LOGIN_CANCELLED");
    expect(second.port).toBe(first.port);
    expectUntouched(seeded);
    const callback = await authorizeToCallback(second.authUrl, issuer.url);
    expect((await rawGet(second.port, pathAndQuery(callback))).status).toBe(302);
    await second.done;
  });
});
