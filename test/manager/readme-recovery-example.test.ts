/**
 * The manual UnauthorizedRecovery loop (what createAuthenticatedFetch does for
 * fetch; the README now shows that), run against a 401-then-200 API and the
 * real dev issuer.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import { AuthManager, bearerToken } from "../../src/index.js";
import { makeCodexHome, removeCodexHome } from "../support/env.js";
import { type ScriptedServer, startScriptedServer } from "../support/scripted-server.js";

let issuer: DevIssuer;
let api: ScriptedServer;
let home: string;
beforeAll(async () => {
  issuer = await startDevIssuer({ port: 0, autoApprove: true });
  api = await startScriptedServer();
  home = makeCodexHome("readme");
});
afterAll(async () => {
  await issuer.close();
  await api.close();
  removeCodexHome(home);
});

async function callApi(manager: AuthManager, url: string): Promise<Response> {
  const send = async () =>
    fetch(url, { headers: { authorization: `Bearer ${bearerToken((await manager.auth())!)}` } });
  let response = await send();
  const recovery = manager.unauthorizedRecovery();
  while (response.status === 401 && recovery.hasNext()) {
    await recovery.next();
    response = await send();
  }
  return response;
}

it("unauthorized-recovery-refreshes-once-then-retries: 401 → reload → refresh → 200", async () => {
  const tokens = await issuer.issueTokens();
  const record = {
    auth_mode: "chatgpt",
    OPENAI_API_KEY: null,
    tokens: { ...tokens, account_id: "org_dev" },
    last_refresh: new Date().toISOString(),
  };
  writeFileSync(join(home, "auth.json"), JSON.stringify(record, null, 2), { mode: 0o600 });
  const manager = await AuthManager.create({
    codexHome: home,
    env: { CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/token` },
  });
  const first = tokens.access_token;
  // The API rejects the first token it sees and accepts any other.
  api.script((req, res) => {
    res.statusCode = req.headers.authorization === `Bearer ${first}` ? 401 : 200;
    res.end();
  });
  const response = await callApi(manager, `${api.url}/v1/things`);
  expect(response.status).toBe(200);
  const auths = api.requests.map((r) => r.headers.authorization);
  expect(auths).toHaveLength(3); // original, after reload (same token), after refresh
  expect(auths[2]).not.toBe(auths[0]);
  expect(issuer.requests.filter((r) => r.grant_type === "refresh_token").map((r) => r.outcome)).toEqual([
    "rotated",
  ]);
});
