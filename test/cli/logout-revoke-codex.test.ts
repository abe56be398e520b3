/**
 * Which token logout revokes, compared with the real codex 0.169 request by
 * request: the refresh token (with `client_id`) when the record has one —
 * even one made of spaces, Codex does not trim — else the access token
 * (`token_type_hint: "access_token"`, no `client_id`); nothing for host-managed
 * tokens. Then the same against the development issuer, which accepts both.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import { findCodexBinary, makeCodexHome, removeCodexHome } from "../support/env.js";
import { fakeChatgptRecord } from "../support/jwt.js";
import { runCodexAsync, runOursAsync } from "../support/run.js";
import { type ScriptedServer, startScriptedServer } from "../support/scripted-server.js";

const codex = findCodexBinary();
let server: ScriptedServer;
const homes: string[] = [];
beforeAll(async () => {
  server = await startScriptedServer();
  server.script({ status: 200, body: {} });
});
afterAll(async () => {
  await server?.close();
  for (const h of homes) removeCodexHome(h);
});

function home(record: unknown): string {
  const h = makeCodexHome("revoke");
  homes.push(h);
  writeFileSync(join(h, "auth.json"), JSON.stringify(record, null, 2), { mode: 0o600 });
  return h;
}

function withRefreshToken(refreshToken: string, extra: Record<string, unknown> = {}) {
  const record = fakeChatgptRecord({ refreshToken });
  return { ...record, ...extra };
}

async function revokeBodies(run: (h: string) => Promise<unknown>, record: unknown): Promise<unknown[]> {
  server.requests.length = 0;
  await run(home(record));
  return server.requests.map((r) => ({ path: r.path, body: JSON.parse(r.body) }));
}

describe.runIf(codex)("logout revokes the token codex 0.169 revokes", () => {
  const env = () => ({ CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${server.url}/oauth/revoke` });
  const cases: Array<[string, unknown]> = [
    ["a refresh token", withRefreshToken("rt_present")],
    ["no refresh token: the access token", withRefreshToken("")],
    ["a refresh token of spaces is still sent", withRefreshToken("  ")],
    ["host-managed tokens: nothing", withRefreshToken("", { auth_mode: "chatgptAuthTokens" })],
    ["a personal access token: nothing", { OPENAI_API_KEY: null, personal_access_token: "at-x" }],
  ];
  it.each(cases)("%s", async (_name, record) => {
    const theirs = await revokeBodies(
      (h) => runCodexAsync(codex!, ["logout"], { home: h, env: env() }),
      record,
    );
    const ours = await revokeBodies((h) => runOursAsync(["logout"], { home: h, env: env() }), record);
    expect(ours).toEqual(theirs);
  });
});

describe("the development issuer accepts an access-token revocation without client_id", () => {
  let issuer: DevIssuer;
  beforeAll(async () => {
    issuer = await startDevIssuer();
  });
  afterAll(() => issuer?.close());

  it("logout of a record without a refresh token: revoked, no warning", async () => {
    const tokens = await issuer.issueTokens();
    const h = home({
      OPENAI_API_KEY: null,
      tokens: {
        id_token: tokens.id_token,
        access_token: tokens.access_token,
        refresh_token: "",
        account_id: null,
      },
      last_refresh: new Date().toISOString(),
    });
    const r = await runOursAsync(["logout"], {
      home: h,
      env: { CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/revoke` },
    });
    expect([r.code, r.stderr]).toEqual([0, "Successfully logged out\n"]);
    expect(issuer.requests.at(-1)).toMatchObject({ path: "/oauth/revoke", status: 200 });
  });

  it("an issuer that refuses: the warning names the access token", async () => {
    server.script({ status: 500, body: { error: "nope" } });
    try {
      const r = await runOursAsync(["logout"], {
        home: home(withRefreshToken("")),
        env: { CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${server.url}/oauth/revoke` },
      });
      expect(r.stderr).toBe(
        "Successfully logged out\nWarning: the issuer did not confirm that the access token was revoked; it stays valid until it expires.\n",
      );
    } finally {
      server.script({ status: 200, body: {} });
    }
  });
});
