/**
 * Property tests (fast-check) for what reaches a browser sign-in from
 * outside: callback query strings over HTTP and text pasted into the
 * terminal. Whatever arrives, the login never crashes, never saves, and the
 * state is never accepted unless it is exactly the one sent.
 */

import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import { type BrowserLogin, parsePasted, startBrowserLogin } from "../../src/login/browser.js";
import { EphemeralAuthStorage } from "../../src/storage/ephemeral.js";
import { removeCodexHome } from "../support/env.js";
import { authorizeToCallback, pathAndQuery, rawGet, type SeededHome, seedHome } from "./helpers.js";

let issuer: DevIssuer;
let seeded: SeededHome;

beforeAll(async () => {
  issuer = await startDevIssuer({ autoApprove: true });
});

afterAll(async () => {
  await issuer.close();
});

// Each test signs in over its own previous ChatGPT credentials.
beforeEach(async () => {
  seeded = await seedHome("chatgpt", issuer);
});

afterEach(() => {
  removeCodexHome(seeded.home);
});

/** Characters a URL query may carry, plus the ones that make parsers stumble. */
const QUERY_CHARS = [
  ..."abcXYZ019-._~",
  ..."%&=?#+;/:@!$'()*,[]",
  "%00",
  "%zz",
  "%E2%82",
  "%C3%A9",
  "\u00e9",
  "state",
  "code",
  "error",
];

/** Raw query strings: well-formed pairs with known keys, and junk. */
function queryString(realState: string): fc.Arbitrary<string> {
  const key = fc.oneof(
    fc.constantFrom("state", "code", "error", "error_description", "State", "STATE", "state[]", "state "),
    fc.string({ maxLength: 8 }),
  );
  const stateLike = fc.oneof(
    fc.string({ maxLength: 60 }),
    fc.constantFrom(
      "",
      realState.slice(0, -1),
      `${realState}=`,
      `${realState} `,
      ` ${realState}`,
      realState.toUpperCase(),
      realState.toLowerCase(),
      encodeURIComponent(`${realState}\n`),
    ),
  );
  const pairs = fc
    .array(fc.tuple(key, fc.oneof(stateLike, fc.string({ maxLength: 20 }))), { maxLength: 6 })
    .map((entries) => new URLSearchParams(entries).toString());
  const junk = fc.array(fc.constantFrom(...QUERY_CHARS), { maxLength: 40 }).map((parts) => parts.join(""));
  return fc.oneof(pairs, junk);
}

/** What http.request accepts on a request line (no spaces or controls); junk is percent-encoded instead. */
function requestTarget(query: string): string {
  return `/auth/callback?${query.replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c))}`;
}

describe("callback query strings (property)", () => {
  it("random callback queries get 400 (or 404), never 302; the login survives them and a real callback then works", async () => {
    const l = await startBrowserLogin({
      issuer: issuer.url,
      storage: seeded.storage,
      port: 0,
      env: {},
      successGraceMs: 0,
    });
    try {
      const realState = new URL(l.authUrl).searchParams.get("state")!;
      const callback = await authorizeToCallback(l.authUrl, issuer.url);
      const realCode = callback.searchParams.get("code")!;
      const exchangesBefore = issuer.requests.filter((r) => r.grant_type === "authorization_code").length;
      await fc.assert(
        fc.asyncProperty(queryString(realState), fc.boolean(), async (query, withRealCode) => {
          // A valid code must not help: only the exact state opens the door.
          const q = withRealCode ? `code=${realCode}&${query}` : query;
          const params = new URLSearchParams(q);
          fc.pre(params.get("state") !== realState);
          const res = await rawGet(l.port, requestTarget(q));
          expect([400, 404]).toContain(res.status);
          expect(res.body).not.toContain(realCode);
        }),
        { numRuns: 150 },
      );
      expect(seeded.now()).toEqual(seeded.before);
      // Nothing but the seeding redeemed a code.
      expect(issuer.requests.filter((r) => r.grant_type === "authorization_code").length).toBe(
        exchangesBefore,
      );
      expect((await rawGet(l.port, pathAndQuery(callback))).status).toBe(302);
      await l.done;
    } finally {
      l.cancel();
      await l.closed;
    }
  });
});

describe("pasted text (property)", () => {
  it("parsePasted never throws, whatever is pasted", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.webUrl({ withQueryParameters: true })),
        (text) => {
          const parsed = parsePasted(text);
          if (parsed) expect(parsed.params).toBeInstanceOf(URLSearchParams);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("a URL pasted with or without its scheme, a query string with or without '?', or a bare code all parse", () => {
    const expectParams = (text: string, code: string, state: string | null) => {
      const parsed = parsePasted(text);
      expect(parsed, text).toBeDefined();
      expect(parsed!.params.get("code")).toBe(code);
      expect(parsed!.params.get("state")).toBe(state);
    };
    expectParams("http://127.0.0.1:1455/auth/callback?code=c1&state=s1", "c1", "s1");
    expectParams("  http://localhost:1455/auth/callback?code=c1&state=s1#frag \n", "c1", "s1");
    expectParams("127.0.0.1:1455/auth/callback?code=c1&state=s1", "c1", "s1");
    expectParams("?code=c1&state=s1", "c1", "s1");
    expectParams("code=c1&state=s1", "c1", "s1");
    expectParams("ac_Abc-123.x~y", "ac_Abc-123.x~y", null);
    expect(parsePasted("")).toBeUndefined();
    expect(parsePasted("   ")).toBeUndefined();
    expect(parsePasted("hello world")).toBeUndefined();
  });

  it("random pasted text is refused with a message and the login goes on; the state is never accepted unless equal", async () => {
    const l = await startBrowserLogin({
      issuer: issuer.url,
      storage: seeded.storage,
      port: 0,
      env: {},
      successGraceMs: 0,
    });
    try {
      const realState = new URL(l.authUrl).searchParams.get("state")!;
      const callback = await authorizeToCallback(l.authUrl, issuer.url);
      const realCode = callback.searchParams.get("code")!;
      const pasted = fc.oneof(
        // Junk and query strings (a bare code is a separate property: it ends the login when wrong).
        fc.string({ maxLength: 80 }),
        queryString(realState),
        queryString(realState).map((q) => `http://127.0.0.1:${l.port}/auth/callback?${q}`),
        queryString(realState).map((q) => `code=${realCode}&${q}`),
        fc
          .string({ maxLength: 40 })
          .map((s) => `${callback.origin}${callback.pathname}?code=${realCode}&state=${s}`),
      );
      await fc.assert(
        fc.asyncProperty(pasted, async (text) => {
          const parsed = parsePasted(text);
          fc.pre(parsed === undefined || (!parsed.bareCode && parsed.params.get("state") !== realState));
          const rejected = await l.submitPasted(text);
          expect(typeof rejected).toBe("string");
        }),
        { numRuns: 200 },
      );
      expect(seeded.now()).toEqual(seeded.before);
      // Still pending, and the real redirect URL is accepted.
      expect(await l.submitPasted(callback.href)).toBeUndefined();
      const record = await l.done;
      expect(record.tokens?.refresh_token).toBeTruthy();
    } finally {
      l.cancel();
      await l.closed;
    }
  });

  it("a random bare code is exchanged, refused by the issuer, and nothing is saved", async () => {
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[A-Za-z0-9._~-]{1,64}$/), async (code) => {
        const storage = new EphemeralAuthStorage(`property-${randomUUID()}`);
        let l: BrowserLogin | undefined;
        try {
          l = await startBrowserLogin({ issuer: issuer.url, storage, port: 0, env: {} });
          const message = await l.submitPasted(code);
          expect(message).toMatch(/^Token exchange failed: token endpoint returned status 400/);
          const err = await l.done.then(
            () => undefined,
            (e: { code?: string }) => e,
          );
          expect(err?.code).toBe("ERR_TOKEN_EXCHANGE");
          expect(await storage.load()).toBeUndefined();
        } finally {
          l?.cancel();
          await l?.closed;
        }
      }),
      { numRuns: 25 },
    );
  });
});
