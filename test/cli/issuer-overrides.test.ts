/**
 * Issuer and client-id overrides as Codex 0.169 names them:
 * `--experimental_issuer` / `--experimental_client-id` apply to `--device-auth`
 * only; our `--issuer` and `CODEX_AUTH_ISSUER` to both flows;
 * `CODEX_APP_SERVER_LOGIN_CLIENT_ID` replaces the client id of refresh and
 * revocation, not of the CLI's sign-ins (compared with the binary request by
 * request);
 * `CODEX_APP_SERVER_LOGIN_ISSUER` is the app server's issuer.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCommandLine } from "../../src/cli/args.js";
import { signInTarget } from "../../src/cli/login-chatgpt.js";
import { appServerClientId, appServerLoginIssuer, oauthClientId } from "../../src/config/endpoints.js";
import { buildAuthorizeUrl } from "../../src/oauth/authorize.js";
import { CLIENT_ID, DEFAULT_ISSUER } from "../../src/oauth/constants.js";
import { findCodexBinary, makeCodexHome, removeCodexHome } from "../support/env.js";
import { fakeChatgptRecord } from "../support/jwt.js";
import { runCodexAsync, runOursAsync } from "../support/run.js";
import { type ScriptedServer, startScriptedServer } from "../support/scripted-server.js";

const codex = findCodexBinary();

describe("which issuer and client id a sign-in uses", () => {
  const parse = (args: string[]) => {
    const p = parseCommandLine(["login", ...args]);
    if (p.kind !== "login") throw new Error(p.kind);
    return p;
  };
  it("--experimental_issuer and --experimental_client-id: device sign-in only, as Codex", () => {
    const flags = ["--experimental_issuer", "http://127.0.0.1:7", "--experimental_client-id", "app_x"];
    expect(signInTarget(parse(["--device-auth", ...flags]), {})).toEqual({
      issuer: "http://127.0.0.1:7",
      clientId: "app_x",
    });
    expect(signInTarget(parse(flags), {})).toEqual({ issuer: DEFAULT_ISSUER, clientId: undefined });
  });
  it("--issuer and CODEX_AUTH_ISSUER (ours): both flows; the flag wins", () => {
    for (const device of [[], ["--device-auth"]]) {
      expect(
        signInTarget(parse([...device, "--issuer", "http://a"]), { CODEX_AUTH_ISSUER: "http://b" }).issuer,
      ).toBe("http://a");
      expect(signInTarget(parse(device), { CODEX_AUTH_ISSUER: "http://b" }).issuer).toBe("http://b");
    }
  });
  it("app server: CODEX_APP_SERVER_LOGIN_ISSUER, then CODEX_AUTH_ISSUER as an alias", () => {
    expect(
      appServerLoginIssuer({ CODEX_APP_SERVER_LOGIN_ISSUER: "http://a", CODEX_AUTH_ISSUER: "http://b" }),
    ).toBe("http://a");
    expect(appServerLoginIssuer({ CODEX_AUTH_ISSUER: "http://b" })).toBe("http://b");
    expect(appServerLoginIssuer({})).toBe(DEFAULT_ISSUER);
  });
  it("client id of refresh and revoke: CODEX_APP_SERVER_LOGIN_CLIENT_ID (kept as written unless blank), else Codex's", () => {
    expect(oauthClientId({ CODEX_APP_SERVER_LOGIN_CLIENT_ID: "app_env" })).toBe("app_env");
    expect(oauthClientId({ CODEX_APP_SERVER_LOGIN_CLIENT_ID: " app_env " })).toBe(" app_env ");
    expect(oauthClientId({ CODEX_APP_SERVER_LOGIN_CLIENT_ID: "  " })).toBe(CLIENT_ID);
    expect(appServerClientId({ CODEX_APP_SERVER_LOGIN_CLIENT_ID: "app_env" })).toBe("app_env");
    const authorize = (clientId?: string) =>
      new URL(
        buildAuthorizeUrl({
          issuer: "http://i",
          redirectUri: "http://127.0.0.1:1455/auth/callback",
          codeChallenge: "c",
          state: "s",
          env: { CODEX_APP_SERVER_LOGIN_CLIENT_ID: "app_env" },
          ...(clientId ? { clientId } : {}),
        }),
      ).searchParams.get("client_id");
    expect(authorize()).toBe(CLIENT_ID);
    expect(authorize("app_x")).toBe("app_x");
  });
});

describe.runIf(codex)("the client id on the wire, compared with codex 0.169", () => {
  let server: ScriptedServer;
  const homes: string[] = [];
  beforeAll(async () => {
    server = await startScriptedServer();
  });
  afterAll(async () => {
    await server?.close();
    for (const h of homes) removeCodexHome(h);
  });
  const home = (files: Record<string, string> = {}) => {
    const h = makeCodexHome("client-id");
    homes.push(h);
    for (const [k, v] of Object.entries(files)) writeFileSync(join(h, k), v, { mode: 0o600 });
    return h;
  };
  const bodies = () => server.requests.map((r) => ({ path: r.path, body: JSON.parse(r.body || "{}") }));

  it("device code request: --experimental_client-id", async () => {
    server.script({ status: 404, body: {} });
    const args = [
      "login",
      "--device-auth",
      "--experimental_issuer",
      server.url,
      "--experimental_client-id",
      "app_flag",
    ];
    server.requests.length = 0;
    const theirs = await runCodexAsync(codex!, args, { home: home() });
    const theirBodies = bodies();
    server.requests.length = 0;
    const ours = await runOursAsync(args, { home: home() });
    expect(bodies()).toEqual(theirBodies);
    expect(theirBodies[0]).toEqual({
      path: "/api/accounts/deviceauth/usercode",
      body: { client_id: "app_flag" },
    });
    expect([ours.code, ours.stderr]).toEqual([theirs.code, theirs.stderr]);
  });

  it("device code request and logout's revoke: CODEX_APP_SERVER_LOGIN_CLIENT_ID", async () => {
    server.script({ status: 404, body: {} });
    const env = {
      CODEX_APP_SERVER_LOGIN_CLIENT_ID: "app_env",
      CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${server.url}/oauth/revoke`,
    };
    const auth = JSON.stringify(fakeChatgptRecord({ refreshToken: "rt_env" }));
    const run = async (runner: (args: string[], h: string) => Promise<unknown>) => {
      server.requests.length = 0;
      await runner(["login", "--device-auth", "--experimental_issuer", server.url], home());
      server.script({ status: 200, body: {} });
      await runner(["logout"], home({ "auth.json": auth }));
      server.script({ status: 404, body: {} });
      return bodies();
    };
    const theirs = await run((args, h) => runCodexAsync(codex!, args, { home: h, env }));
    const ours = await run((args, h) => runOursAsync(args, { home: h, env }));
    expect(ours).toEqual(theirs);
    // Codex's CLI sign-in ignores the variable; its revoke sends it.
    expect(theirs.map((b) => (b.body as { client_id?: string }).client_id)).toEqual([CLIENT_ID, "app_env"]);
  });
});
