/**
 * Agent Identities against the real codex 0.169: `login status` verifies
 * them as Codex does — the JWT against a JWKS (RS256, kid, issuer, audience,
 * expiry), the Ed25519 key, and a task registration when the identity has
 * none — and says the same words with the same exit code. A local server
 * plays OpenAI's JWKS and agent-task endpoints.
 */
import { createSign, generateKeyPairSync, verify } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codexWords, ourWords } from "../fixtures/auth-modes.js";
import { findCodexBinary, makeCodexHome, removeCodexHome } from "../support/env.js";
import { runCodexAsync, runOursAsync } from "../support/run.js";
import { type ScriptedServer, startScriptedServer } from "../support/scripted-server.js";

const codex = findCodexBinary();
const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const otherRsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ed = generateKeyPairSync("ed25519");
const AGENT_KEY = ed.privateKey.export({ format: "der", type: "pkcs8" }).toString("base64");
const RSA_PKCS8 = rsa.privateKey.export({ format: "der", type: "pkcs8" }).toString("base64");
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

function agentJwt(
  over: Record<string, unknown> = {},
  opts: { kid?: string; key?: typeof rsa.privateKey } = {},
) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64({ alg: "RS256", typ: "JWT", kid: opts.kid ?? "k1" });
  const payload = b64({
    iss: "https://chatgpt.com/codex-backend/agent-identity",
    aud: "codex-app-server",
    iat: now,
    exp: now + 3600,
    agent_runtime_id: "rt_1",
    agent_private_key: AGENT_KEY,
    account_id: "org_agent",
    chatgpt_user_id: "user-agent",
    email: "agent@example.com",
    plan_type: "business",
    chatgpt_account_is_fedramp: false,
    ...over,
  });
  const signer = createSign("RSA-SHA256");
  signer.update(`${header}.${payload}`);
  return `${header}.${payload}.${signer.sign(opts.key ?? rsa.privateKey).toString("base64url")}`;
}

const record = (over: Record<string, unknown> = {}) => ({
  agent_runtime_id: "rt_1",
  agent_private_key: AGENT_KEY,
  account_id: "org_agent",
  chatgpt_user_id: "user-agent",
  email: "agent@example.com",
  plan_type: "business",
  chatgpt_account_is_fedramp: false,
  ...over,
});

let server: ScriptedServer;
let registration: { status: number; body: unknown } = { status: 200, body: { task_id: "task_1" } };
const signatures: boolean[] = [];
const homes: string[] = [];
beforeAll(async () => {
  server = await startScriptedServer();
  const jwk = { ...rsa.publicKey.export({ format: "jwk" }), kid: "k1", alg: "RS256", use: "sig" };
  server.script((req, res) => {
    res.setHeader("content-type", "application/json");
    if (req.method === "GET" && req.path === "/jwks/agent-identities/jwks") {
      res.end(JSON.stringify({ keys: [jwk] }));
      return;
    }
    if (req.method === "POST" && req.path === "/authapi/v1/agent/rt_1/task/register") {
      const { timestamp, signature } = JSON.parse(req.body) as { timestamp: string; signature: string };
      signatures.push(
        verify(null, Buffer.from(`rt_1:${timestamp}`), ed.publicKey, Buffer.from(signature, "base64")),
      );
      res.statusCode = registration.status;
      res.end(typeof registration.body === "string" ? registration.body : JSON.stringify(registration.body));
      return;
    }
    res.statusCode = 404;
    res.end("{}");
  });
});
afterAll(async () => {
  await server?.close();
  for (const h of homes) removeCodexHome(h);
});

function home(auth?: unknown): string {
  const h = makeCodexHome("agent");
  homes.push(h);
  if (auth !== undefined) writeFileSync(join(h, "auth.json"), JSON.stringify(auth, null, 2), { mode: 0o600 });
  return h;
}

const env = () => ({
  CODEX_AGENT_IDENTITY_JWKS_BASE_URL: `${server.url}/jwks`,
  CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL: `${server.url}/authapi/`,
});

describe.runIf(codex)("Agent Identity: codex 0.169 and codex-auth say the same", () => {
  const cases: Array<
    [string, () => { auth?: unknown; env?: Record<string, string>; reg?: typeof registration }]
  > = [
    [
      "a verified JWT (a task is registered)",
      () => ({ auth: { auth_mode: "agentIdentity", agent_identity: agentJwt() } }),
    ],
    [
      "a JWT signed by an unknown kid",
      () => ({ auth: { auth_mode: "agentIdentity", agent_identity: agentJwt({}, { kid: "k9" }) } }),
    ],
    [
      "a JWT whose signature does not verify",
      () => ({
        auth: { auth_mode: "agentIdentity", agent_identity: agentJwt({}, { key: otherRsa.privateKey }) },
      }),
    ],
    [
      "an expired JWT",
      () => ({ auth: { auth_mode: "agentIdentity", agent_identity: agentJwt({ exp: 1_000_000 }) } }),
    ],
    [
      "a JWT for another audience",
      () => ({ auth: { auth_mode: "agentIdentity", agent_identity: agentJwt({ aud: "x" }) } }),
    ],
    ["not a JWT", () => ({ auth: { auth_mode: "agentIdentity", agent_identity: "a.b" } })],
    ["an empty JWT", () => ({ auth: { auth_mode: "agentIdentity", agent_identity: "" } })],
    [
      "a record with its task",
      () => ({ auth: { auth_mode: "agentIdentity", agent_identity: record({ task_id: "t0" }) } }),
    ],
    [
      "a record without a task: one is registered",
      () => ({ auth: { auth_mode: "agentIdentity", agent_identity: record() } }),
    ],
    [
      "a key that is not base64",
      () => ({
        auth: { auth_mode: "agentIdentity", agent_identity: record({ agent_private_key: "not base64!" }) },
      }),
    ],
    [
      "a key that is not Ed25519 PKCS#8",
      () => ({
        auth: { auth_mode: "agentIdentity", agent_identity: record({ agent_private_key: RSA_PKCS8 }) },
      }),
    ],
    [
      "task registration refused",
      () => ({
        auth: { auth_mode: "agentIdentity", agent_identity: record() },
        reg: { status: 500, body: "boom" },
      }),
    ],
    [
      "task registration refused for good (401)",
      () => ({
        auth: { auth_mode: "agentIdentity", agent_identity: record() },
        reg: { status: 401, body: "no" },
      }),
    ],
    [
      "task registration without a task id",
      () => ({
        auth: { auth_mode: "agentIdentity", agent_identity: record() },
        reg: { status: 200, body: {} },
      }),
    ],
    ["CODEX_ACCESS_TOKEN holding the JWT", () => ({ env: { CODEX_ACCESS_TOKEN: agentJwt() } })],
  ];
  it.each(cases)("%s", async (_name, make) => {
    const c = make();
    registration = c.reg ?? { status: 200, body: { task_id: "task_1" } };
    const e = { ...env(), ...c.env };
    const [theirs, ours] = await Promise.all([
      runCodexAsync(codex!, ["login", "status"], { home: home(c.auth), env: e }),
      runOursAsync(["login", "status"], { home: home(c.auth), env: e }),
    ]);
    const words = codexWords(theirs.stderr);
    expect({ code: ours.code, words: ourWords(ours.stderr, words) }).toEqual({ code: theirs.code, words });
    expect(ours.stderr).not.toContain(AGENT_KEY);
    expect(signatures.every(Boolean)).toBe(true);
  });
});

describe.runIf(codex)("login --with-access-token with an Agent Identity JWT matches codex 0.169", () => {
  const cases: Array<[string, () => string]> = [
    ["a verified JWT: saved as Codex saves it", () => agentJwt()],
    ["a JWT that does not verify: nothing saved", () => agentJwt({}, { key: otherRsa.privateKey })],
    ["not a JWT", () => "a.b"],
  ];
  it.each(cases)("%s", async (_name, token) => {
    const input = `${token()}\n`;
    const [a, b] = [home(), home()];
    const [theirs, ours] = await Promise.all([
      runCodexAsync(codex!, ["login", "--with-access-token"], { home: a, input, env: env() }),
      runOursAsync(["login", "--with-access-token"], { home: b, input, env: env() }),
    ]);
    expect([ours.code, ours.stderr]).toEqual([theirs.code, theirs.stderr]);
    const read = (h: string) =>
      existsSync(join(h, "auth.json")) ? readFileSync(join(h, "auth.json"), "utf8") : undefined;
    expect(read(b)).toBe(read(a));
    if (theirs.code === 0) {
      const status = await runCodexAsync(codex!, ["login", "status"], { home: b, env: env() });
      expect(status.stderr).toBe("Logged in using access token\n");
    }
  });
});

describe.runIf(codex)("the development issuer's Agent Identities work with codex 0.169 and with us", () => {
  it("codex signs in with a minted JWT; both verify it and register tasks at the dev issuer", async () => {
    const { startDevIssuer } = await import("../../src/dev-issuer/index.js");
    const issuer = await startDevIssuer();
    try {
      const { jwt } = await issuer.issueAgentIdentity({ workspaceId: "org_dev" });
      const e = {
        CODEX_AGENT_IDENTITY_JWKS_BASE_URL: issuer.url,
        CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL: `${issuer.url}/api/accounts`,
      };
      const h = home();
      const login = await runCodexAsync(codex!, ["login", "--with-access-token"], {
        home: h,
        input: jwt,
        env: e,
      });
      expect([login.code, login.stderr]).toEqual([
        0,
        "Reading access token from stdin...\nSuccessfully logged in\n",
      ]);
      const theirs = await runCodexAsync(codex!, ["login", "status"], { home: h, env: e });
      const ours = await runOursAsync(["login", "status"], { home: h, env: e });
      expect([theirs.code, theirs.stderr]).toEqual([0, "Logged in using access token\n"]);
      expect([ours.code, ours.stderr]).toEqual([0, "Logged in using access token\n"]);
      const registered = issuer.requests.filter((r) => r.path.endsWith("/task/register"));
      expect(registered.map((r) => r.outcome)).toEqual(["registered", "registered"]);
      // Another issuer's key is not trusted.
      const other = await startDevIssuer();
      try {
        const stranger = (await other.issueAgentIdentity()).jwt;
        const r = await runOursAsync(["login", "--with-access-token"], {
          home: home(),
          input: stranger,
          env: e,
        });
        expect(r.stderr).toMatch(
          /Error logging in with access token: (agent identity JWT kid \S+ is not trusted|failed to verify agent identity JWT)/,
        );
      } finally {
        await other.close();
      }
    } finally {
      await issuer.close();
    }
  });
});
