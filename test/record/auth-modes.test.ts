/**
 * The auth modes beyond API keys and ChatGPT, without I/O: how a record
 * resolves to a mode (Codex 0.169's order), how each is written, the
 * snapshot and bearer token of each, and the `whoami` answer parser. The
 * same decisions are compared with the real binary in
 * test/cli/auth-modes-codex.test.ts.
 */
import { inspect } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ApiKeyMissingError,
  AuthFileMalformedError,
  CredentialMissingError,
  NotLoggedInError,
  PersonalAccessTokenError,
  UnsupportedAuthModeError,
} from "../../src/errors.js";
import { loginRestrictionViolation } from "../../src/manager/restrictions.js";
import { parseWhoamiBody } from "../../src/oauth/whoami.js";
import {
  type AuthRecord,
  parseAuthRecord,
  resolvedMode,
  serializeAuthRecord,
  writtenMode,
} from "../../src/record/auth-record.js";
import {
  authFromAccessToken,
  authFromRecord,
  bearerToken,
  type CodexAuth,
  planTypeOf,
  withPersonalAccessTokenMetadata,
  workspaceIdOf,
} from "../../src/record/codex-auth.js";
import { fakeChatgptRecord } from "../support/jwt.js";

const SOURCE = "/home/someone/.codex/auth.json";
const PAT = "at-SECRET-pat-0123456789";
const BEDROCK = { api_key: "bedrock-SECRET-0123456789", region: "eu-west-1" };
const ACCESS_KEYS = { access_key_id: "AKIA-SECRET-ID", secret_access_key: "aws-SECRET-0123" };
const AGENT = {
  agent_runtime_id: "rt_1",
  agent_private_key: "agent-SECRET-key",
  account_id: "org_agent",
  chatgpt_user_id: "user-agent",
  email: "agent@example.com",
  plan_type: "business",
  chatgpt_account_is_fedramp: false,
};
const parse = (value: unknown) => parseAuthRecord(JSON.stringify(value), SOURCE);

describe("resolvedMode: Codex 0.169's order", () => {
  const cases: Array<[string, unknown, string]> = [
    ["nothing", {}, "chatgpt"],
    ["API key", { OPENAI_API_KEY: "sk-x" }, "apikey"],
    ["personal access token", { personal_access_token: PAT }, "personalAccessToken"],
    ["PAT over an API key", { OPENAI_API_KEY: "sk-x", personal_access_token: PAT }, "personalAccessToken"],
    ["PAT over Bedrock", { personal_access_token: PAT, bedrock_api_key: BEDROCK }, "personalAccessToken"],
    [
      "Bedrock key over access keys",
      { bedrock_api_key: BEDROCK, bedrock_access_keys: ACCESS_KEYS },
      "bedrockApiKey",
    ],
    ["Bedrock key over an API key", { OPENAI_API_KEY: "sk-x", bedrock_api_key: BEDROCK }, "bedrockApiKey"],
    [
      "access keys over an API key",
      { OPENAI_API_KEY: "sk-x", bedrock_access_keys: ACCESS_KEYS },
      "bedrockAccessKeys",
    ],
    ["an Agent Identity alone is not a mode", { agent_identity: AGENT }, "chatgpt"],
    ["an Agent Identity beside a key", { OPENAI_API_KEY: "sk-x", agent_identity: "a.b.c" }, "apikey"],
    [
      "explicit auth_mode wins",
      { auth_mode: "apikey", OPENAI_API_KEY: "sk-x", bedrock_api_key: BEDROCK },
      "apikey",
    ],
    [
      "null fields are absent",
      { personal_access_token: null, bedrock_api_key: null, OPENAI_API_KEY: "sk" },
      "apikey",
    ],
  ];
  it.each(cases)("%s", (_name, value, mode) => {
    expect(resolvedMode(parse(value))).toBe(mode);
  });
});

describe("writing records as Codex writes them", () => {
  it("a personal access token record has no auth_mode (older Codex builds can still read it)", () => {
    const record: AuthRecord = { OPENAI_API_KEY: null, personal_access_token: PAT };
    expect(serializeAuthRecord(record)).toBe(
      `{\n  "OPENAI_API_KEY": null,\n  "personal_access_token": "${PAT}"\n}`,
    );
    expect(writtenMode(record)).toBeUndefined();
  });

  it("known fields in Codex's key order, unknown fields after, sub-fields kept", () => {
    const record = parse({
      zzz: 1,
      bedrock_access_keys: { ...ACCESS_KEYS, extra: true },
      bedrock_api_key: BEDROCK,
      personal_access_token: PAT,
      agent_identity: { ...AGENT, future: [1] },
      last_refresh: "2026-01-22T16:48:43Z",
      OPENAI_API_KEY: null,
      auth_mode: "bedrockApiKey",
    });
    expect(Object.keys(JSON.parse(serializeAuthRecord(record)))).toEqual([
      "auth_mode",
      "OPENAI_API_KEY",
      "last_refresh",
      "agent_identity",
      "personal_access_token",
      "bedrock_api_key",
      "bedrock_access_keys",
      "zzz",
    ]);
    const again = JSON.parse(serializeAuthRecord(record));
    expect(again.agent_identity.future).toEqual([1]);
    expect(again.bedrock_access_keys.extra).toBe(true);
  });

  it("API-key and ChatGPT records still always get their auth_mode", () => {
    expect(writtenMode({ OPENAI_API_KEY: "sk-x" })).toBe("apikey");
    expect(writtenMode({ OPENAI_API_KEY: null })).toBe("chatgpt");
    expect(writtenMode({ OPENAI_API_KEY: null, bedrock_api_key: BEDROCK })).toBeUndefined();
  });
});

describe("validation of the new fields (never quoting a value)", () => {
  const refused: Array<[string, unknown, RegExp]> = [
    ["PAT not a string", { personal_access_token: 5 }, /"personal_access_token" must be a string or null/],
    [
      "Bedrock key not an object",
      { bedrock_api_key: BEDROCK.api_key },
      /"bedrock_api_key" must be an object/,
    ],
    [
      "Bedrock key without region",
      { bedrock_api_key: { api_key: BEDROCK.api_key } },
      /"bedrock_api_key.region" is missing/,
    ],
    [
      "access keys without secret",
      { bedrock_access_keys: { access_key_id: ACCESS_KEYS.access_key_id } },
      /secret_access_key" is missing/,
    ],
    [
      "session token a number",
      { bedrock_access_keys: { ...ACCESS_KEYS, session_token: 5 } },
      /session_token" must be a string or null/,
    ],
    [
      "agent identity a number",
      { agent_identity: 5 },
      /"agent_identity" must be a JWT string, an object or null/,
    ],
    [
      "agent identity without fedramp",
      { agent_identity: { ...AGENT, chatgpt_account_is_fedramp: undefined } },
      /chatgpt_account_is_fedramp" is missing/,
    ],
    [
      "agent identity plan a number",
      { agent_identity: { ...AGENT, plan_type: 5 } },
      /plan_type" must be a string/,
    ],
  ];
  it.each(refused)("%s", (_name, value, problem) => {
    let error: unknown;
    try {
      parse(value);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(AuthFileMalformedError);
    expect((error as Error).message).toMatch(problem);
    for (const secret of [
      PAT,
      BEDROCK.api_key,
      ACCESS_KEYS.access_key_id,
      ACCESS_KEYS.secret_access_key,
      AGENT.agent_private_key,
    ]) {
      expect(inspect(error, { depth: 10 })).not.toContain(secret);
    }
  });

  it("an unknown auth_mode is reported as one, never guessed; odd values are not quoted", () => {
    const err = (() => {
      try {
        parse({ auth_mode: "quantumLink", OPENAI_API_KEY: null });
      } catch (e) {
        return e as AuthFileMalformedError;
      }
    })();
    expect(err?.unknownAuthMode).toBe("quantumLink");
    expect(err?.message).toMatch(/found "quantumLink" \(a mode this version does not know/);
    const odd = (() => {
      try {
        parse({ auth_mode: "sk-live secret value" });
      } catch (e) {
        return e as AuthFileMalformedError;
      }
    })();
    expect(odd?.unknownAuthMode).toBeUndefined();
    expect(odd?.message).not.toContain("secret value");
  });
});

describe("snapshots and bearer tokens", () => {
  const snapshot = (value: unknown): CodexAuth => authFromRecord(parse(value), SOURCE);

  it("personal access token: the token is the bearer credential", () => {
    const auth = snapshot({ personal_access_token: PAT });
    expect(auth).toMatchObject({
      mode: "personalAccessToken",
      source: "storage",
      accessToken: PAT,
      metadata: undefined,
    });
    expect(bearerToken(auth)).toBe(PAT);
    expect(workspaceIdOf(auth)).toBeUndefined();
    const checked = withPersonalAccessTokenMetadata(auth as never, {
      email: "pat@example.com",
      chatgptUserId: "user-pat",
      chatgptAccountId: "org_pat",
      rawPlanType: "enterprise",
      planType: "enterprise",
      fedramp: false,
    });
    expect(workspaceIdOf(checked)).toBe("org_pat");
    expect(planTypeOf(checked)).toBe("enterprise");
  });

  it("Bedrock keys and Agent Identities are not OpenAI bearer tokens", () => {
    for (const value of [
      { bedrock_api_key: BEDROCK },
      { bedrock_access_keys: ACCESS_KEYS },
      { auth_mode: "agentIdentity", agent_identity: AGENT },
    ]) {
      const auth = snapshot(value);
      let error: unknown;
      try {
        bearerToken(auth);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(UnsupportedAuthModeError);
      expect((error as Error).message).toMatch(/does not expose a (Codex )?bearer token/);
      for (const secret of [BEDROCK.api_key, ACCESS_KEYS.secret_access_key, AGENT.agent_private_key]) {
        expect((error as Error).message).not.toContain(secret);
      }
    }
    expect(snapshot({ bedrock_api_key: BEDROCK })).toMatchObject({
      mode: "bedrockApiKey",
      region: "eu-west-1",
    });
    const agent = snapshot({ auth_mode: "agentIdentity", agent_identity: AGENT });
    expect(workspaceIdOf(agent)).toBe("org_agent");
    expect(planTypeOf(agent)).toBe("business");
  });

  it("a mode without its credential fails with Codex's words", () => {
    const cases: Array<[unknown, string]> = [
      [
        { auth_mode: "personalAccessToken" },
        "personal access token auth is missing a personal access token.",
      ],
      [
        { auth_mode: "bedrockApiKey", OPENAI_API_KEY: "sk-x" },
        "Bedrock API key auth is missing a Bedrock API key.",
      ],
      [{ auth_mode: "bedrockAccessKeys" }, "Bedrock access keys auth is missing AWS access keys."],
      [{ auth_mode: "agentIdentity" }, "agent identity auth is missing agent identity auth material."],
    ];
    for (const [value, words] of cases) {
      expect(() => snapshot(value)).toThrow(CredentialMissingError);
      expect(() => snapshot(value)).toThrow(words);
    }
    expect(() => snapshot({ auth_mode: "apikey" })).toThrow(ApiKeyMissingError);
    expect(() => snapshot({ auth_mode: "apikey" })).toThrow(/^API key auth is missing a key\. /);
    expect(() => snapshot({ auth_mode: "headers" })).toThrow(
      /^externally provided auth cannot be loaded from auth storage\./,
    );
  });

  it("ChatGPT without tokens has no bearer token (Codex: Token data is not available.)", () => {
    expect(() => bearerToken(snapshot({}))).toThrow(NotLoggedInError);
    expect(bearerToken(snapshot(fakeChatgptRecord()))).toMatch(/^eyJ/);
  });

  it("CODEX_ACCESS_TOKEN is classified as Codex does: at- is a personal access token, else an Agent Identity JWT", () => {
    expect(authFromAccessToken(PAT)).toMatchObject({
      mode: "personalAccessToken",
      source: "env:CODEX_ACCESS_TOKEN",
    });
    expect(authFromAccessToken("h.p.s")).toMatchObject({ mode: "agentIdentity", identity: "h.p.s" });
    expect(authFromAccessToken("At-x").mode).toBe("agentIdentity");
  });
});

describe("login restrictions for the new modes (as Codex 0.169 decides)", () => {
  const snap = (value: unknown) => authFromRecord(parse(value), SOURCE);
  it("Bedrock keys count as API login; personal access tokens and Agent Identities as ChatGPT login", () => {
    expect(
      loginRestrictionViolation(snap({ bedrock_api_key: BEDROCK }), {
        forcedLoginMethod: "api",
        forcedChatgptWorkspaceIds: undefined,
      }),
    ).toBeUndefined();
    expect(
      loginRestrictionViolation(snap({ bedrock_access_keys: ACCESS_KEYS }), {
        forcedLoginMethod: "chatgpt",
        forcedChatgptWorkspaceIds: undefined,
      })?.kind,
    ).toBe("chatgpt-required");
    expect(
      loginRestrictionViolation(snap({ personal_access_token: PAT }), {
        forcedLoginMethod: "api",
        forcedChatgptWorkspaceIds: undefined,
      })?.kind,
    ).toBe("api-key-required");
    expect(
      loginRestrictionViolation(snap({ personal_access_token: PAT }), {
        forcedLoginMethod: "chatgpt",
        forcedChatgptWorkspaceIds: undefined,
      }),
    ).toBeUndefined();
  });
  it("workspaces: Bedrock belongs to none; an unchecked personal access token cannot pass; an Agent Identity record names its own", () => {
    const ws = { forcedLoginMethod: undefined, forcedChatgptWorkspaceIds: ["org_agent"] };
    expect(loginRestrictionViolation(snap({ bedrock_api_key: BEDROCK }), ws)).toBeUndefined();
    expect(loginRestrictionViolation(snap({ personal_access_token: PAT }), ws)?.kind).toBe(
      "workspace-unreadable",
    );
    expect(
      loginRestrictionViolation(snap({ auth_mode: "agentIdentity", agent_identity: AGENT }), ws),
    ).toBeUndefined();
    expect(
      loginRestrictionViolation(
        snap({ auth_mode: "agentIdentity", agent_identity: { ...AGENT, account_id: "org_x" } }),
        ws,
      ),
    ).toEqual({ kind: "workspace-mismatch", message: "Login is restricted to workspace id(s) org_agent." });
  });
});

describe("whoami answers", () => {
  const ok = {
    email: "pat@example.com",
    chatgpt_user_id: "user-pat",
    chatgpt_account_id: "org_pat",
    chatgpt_plan_type: "enterprise",
    chatgpt_account_is_fedramp: false,
  };
  it("reads Codex's PersonalAccessTokenMetadata (email optional, extra fields ignored)", () => {
    expect(parseWhoamiBody(JSON.stringify({ ...ok, extra: 1 }))).toEqual({
      email: "pat@example.com",
      chatgptUserId: "user-pat",
      chatgptAccountId: "org_pat",
      rawPlanType: "enterprise",
      planType: "enterprise",
      fedramp: false,
    });
    expect(parseWhoamiBody(JSON.stringify({ ...ok, email: null })).email).toBeUndefined();
    const { email: _e, ...noEmail } = ok;
    expect(parseWhoamiBody(JSON.stringify(noEmail)).email).toBeUndefined();
  });
  it("refuses what Codex refuses, in its words", () => {
    const { chatgpt_account_is_fedramp: _f, ...noFedramp } = ok;
    for (const body of [
      "notjson",
      "[]",
      JSON.stringify(noFedramp),
      JSON.stringify({ ...ok, chatgpt_plan_type: 5 }),
    ]) {
      expect(() => parseWhoamiBody(body)).toThrow(/^failed to decode personal access token metadata: /);
    }
  });
  it("any body: a metadata object or a PersonalAccessTokenError that quotes nothing", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.jsonValue().map((v) => JSON.stringify(v)),
          fc
            .record(
              {
                email: fc.oneof(fc.string(), fc.jsonValue()),
                chatgpt_user_id: fc.oneof(fc.string(), fc.jsonValue()),
                chatgpt_account_id: fc.string().map((s) => `SECRET${s}`),
                chatgpt_plan_type: fc.oneof(fc.string(), fc.jsonValue()),
                chatgpt_account_is_fedramp: fc.oneof(fc.boolean(), fc.jsonValue()),
              },
              { requiredKeys: [] },
            )
            .map((v) => JSON.stringify(v)),
        ),
        (body) => {
          try {
            const m = parseWhoamiBody(body);
            expect(typeof m.chatgptAccountId).toBe("string");
          } catch (err) {
            expect(err).toBeInstanceOf(PersonalAccessTokenError);
            expect((err as PersonalAccessTokenError).reason).toBe("response");
            expect((err as Error).message).not.toContain("SECRET");
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
