/**
 * Differential: the account methods in every credential mode Codex 0.169
 * reads besides API keys and ChatGPT tokens — personal access tokens (stored
 * and `CODEX_ACCESS_TOKEN`), Agent Identities (JWT, object, environment),
 * Amazon Bedrock keys (with and without the `amazon-bedrock` provider),
 * unknown modes and records missing their credential — and the Amazon
 * Bedrock sign-ins. The same conversation with the real `codex app-server`
 * and with ours; every answer, account notification, auth.json and
 * config.toml compared after masking. Where codex-auth deliberately differs
 * (README, "Where codex-auth deliberately differs"), both sides are asserted.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import { findCodexBinary } from "../support/env.js";
import { runCodexAsync, runOursAsync } from "../support/run.js";
import {
  compared,
  differential,
  NO_INTERNET,
  type ServerSetup,
  type Session,
  type Transcript,
} from "./support/differential.js";
import { seedApiKey, seedChatgpt } from "./support/seed.js";

const codex = findCodexBinary();
let issuer: DevIssuer;
let pat: string;
let revokedPat: string;
let agentJwt: string;
let agentObject: Record<string, unknown>;

beforeAll(async () => {
  issuer = await startDevIssuer({
    autoApprove: true,
    users: [
      { email: "pro@example.com", plan: "pro", workspaces: [{ id: "org_pro", name: "Pro Workspace" }] },
    ],
  });
  pat = issuer.issuePersonalAccessToken();
  revokedPat = issuer.issuePersonalAccessToken();
  issuer.revokePersonalAccessToken(revokedPat);
  agentJwt = (await issuer.issueAgentIdentity()).jwt;
  const claims = JSON.parse(Buffer.from(agentJwt.split(".")[1]!, "base64url").toString()) as Record<
    string,
    unknown
  >;
  const fields = [
    "agent_runtime_id",
    "agent_private_key",
    "account_id",
    "chatgpt_user_id",
    "email",
    "plan_type",
    "chatgpt_account_is_fedramp",
  ];
  agentObject = Object.fromEntries(fields.map((k) => [k, claims[k]]));
});
afterAll(async () => {
  await issuer?.close();
});

/** Production ChatGPT: the only kind of `chatgpt_base_url` Codex lets an Agent Identity work with. */
const PRODUCTION = "https://chatgpt.com/backend-api/";
const env = () => ({
  ...NO_INTERNET,
  CODEX_AUTHAPI_BASE_URL: `${issuer.url}/api/accounts`,
  CODEX_AGENT_IDENTITY_JWKS_BASE_URL: issuer.url,
  CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL: `${issuer.url}/api/accounts`,
});
const EXPERIMENTAL = {
  clientInfo: { name: "codex_auth_difftest", title: null, version: "0.0.1" },
  capabilities: { experimentalApi: true },
};

function seedRecord(record: unknown) {
  return (home: string) =>
    writeFileSync(join(home, "auth.json"), JSON.stringify(record, null, 2), { mode: 0o600 });
}

interface Outcome {
  theirs: Transcript & { config: string };
  ours: Transcript & { config: string };
}

/** Plays the scenario against both; config.toml is read at the end of each. */
async function play(
  setup: Partial<Omit<ServerSetup, "kind" | "codex">>,
  scenario: (s: Session) => Promise<void>,
): Promise<Outcome> {
  const configs: Record<string, string> = {};
  const { codex: theirs, ours } = await differential(
    { codex: codex!, issuer, ...setup, env: { ...env(), ...setup.env } },
    async (s) => {
      await scenario(s);
      const path = join(s.home, "config.toml");
      configs[s.kind] = existsSync(path) ? readFileSync(path, "utf8") : "<none>";
    },
  );
  if (process.env.DIFF_DUMP)
    console.log(JSON.stringify({ theirs: compared(theirs), ours: compared(ours) }, null, 2));
  return { theirs: { ...theirs, config: configs.codex! }, ours: { ...ours, config: configs.ours! } };
}

const view = (t: Outcome["theirs"]) => ({ ...compared(t), config: t.config });

async function same(
  setup: Partial<Omit<ServerSetup, "kind" | "codex">>,
  scenario: (s: Session) => Promise<void>,
): Promise<Outcome> {
  const outcome = await play(setup, scenario);
  expect(view(outcome.ours)).toEqual(view(outcome.theirs));
  return outcome;
}

/** The answer to the first request for `method` (after `skip` earlier ones). */
function answerTo(t: Transcript, method: string, skip = 0): string {
  const found = t.responses.filter((r) => r.request.includes(`"method":"${method}"`))[skip];
  if (!found) throw new Error(`no ${method} request in the transcript`);
  return found.answer;
}

/** The transcript up to (not including) the first `method` request: what must be the same before a deliberate difference. */
function before(t: Transcript, method: string): Transcript["responses"] {
  const index = t.responses.findIndex((r) => r.request.includes(`"method":"${method}"`));
  if (index < 0) throw new Error(`no ${method} request in the transcript`);
  return t.responses.slice(0, index);
}

/** Every read, with and without the refresh and token flags. */
async function reads(s: Session): Promise<void> {
  await s.call("account/read", {});
  await s.call("account/read", { refreshToken: true });
  await s.call("getAuthStatus", { includeToken: true, refreshToken: false });
  await s.call("getAuthStatus", { includeToken: false, refreshToken: false });
  await s.call("getAuthStatus", { includeToken: true, refreshToken: true });
  await s.call("getAuthStatus", {});
}

/** Reads, rate limits, logout and its announcement, reads again. */
async function lifecycle(s: Session, o: { startupAnnouncement?: boolean } = {}): Promise<void> {
  await s.initialize();
  if (o.startupAnnouncement) await s.notification("account/updated");
  await reads(s);
  await s.call("account/rateLimits/read", {});
  await s.call("account/logout", {});
  await s.notification("account/updated");
  await reads(s);
}

/** Reads and rate limits only (the logout differs on purpose). */
async function readsThenLogout(s: Session): Promise<void> {
  await s.initialize();
  await reads(s);
  await s.call("account/rateLimits/read", {});
  await s.call("account/logout", {});
  // Codex's logout fails and announces nothing; ours announces the removal.
  if (s.kind === "ours") await s.notification("account/updated");
  await reads(s);
}

const LOGGED_OUT_READ =
  '"result":{"account":null,"userId":null,"requiresOpenaiAuth":true,"workspaceRouting":null}';

/**
 * Records Codex cannot load: it reports them as logged out and its logout
 * fails (the file stays); ours reports them the same way and its logout
 * removes them.
 */
async function unloadableRecord(
  setup: Partial<Omit<ServerSetup, "kind" | "codex">>,
  codexLogoutError: string,
): Promise<void> {
  const { theirs, ours } = await play(setup, readsThenLogout);
  expect(before(ours, "account/logout")).toEqual(before(theirs, "account/logout"));
  expect(answerTo(theirs, "account/logout")).toBe(
    `{"error":{"code":-32603,"message":"logout failed: ${codexLogoutError}"},"id":9}`,
  );
  expect(answerTo(ours, "account/logout")).toBe('{"id":9,"result":{}}');
  expect(theirs.authFile).not.toBe("<none>");
  expect(ours.authFile).toBe("<none>");
  expect(theirs.notifications).toEqual([]);
  expect(ours.notifications).toEqual([
    '{"method":"account/updated","params":{"authMode":null,"planType":null},"emittedAtMs":"<ms>"}',
  ]);
  // Afterwards both are logged out.
  expect(ours.responses.slice(9)).toEqual(theirs.responses.slice(9));
  expect(answerTo(ours, "account/read", 2)).toContain(LOGGED_OUT_READ);
}

describe.skipIf(!codex)("differential against codex app-server 0.169: personal access tokens", () => {
  it("a stored token: account from whoami and accounts/check, never handed out, rate limits, logout", async () => {
    const { ours } = await same(
      { seed: seedRecord({ OPENAI_API_KEY: null, personal_access_token: pat }) },
      (s) => lifecycle(s, { startupAnnouncement: true }),
    );
    expect(answerTo(ours, "account/read")).toContain('"email":"pro@example.com","planType":"pro"');
    expect(answerTo(ours, "getAuthStatus")).toContain('"authMethod":"personalAccessToken","authToken":null');
  });

  it("CODEX_ACCESS_TOKEN over a stored API key: wins, and outlives logout (announced without a plan)", async () => {
    const { ours } = await same(
      { seed: seedApiKey("sk-stored-1234567890ABCDEF"), env: { CODEX_ACCESS_TOKEN: ` ${pat}\n` } },
      (s) => lifecycle(s, { startupAnnouncement: true }),
    );
    expect(ours.notifications.at(-1)).toContain('"authMode":"personalAccessToken","planType":null');
    expect(ours.authFile).toBe("<none>");
  });

  it("a revoked token is logged out for both; our logout removes it where Codex's fails", async () => {
    await unloadableRecord(
      { seed: seedRecord({ OPENAI_API_KEY: null, personal_access_token: revokedPat }) },
      "personal access token metadata request failed with status 401 Unauthorized",
    );
  });
});

describe.skipIf(!codex)("differential against codex app-server 0.169: Agent Identities", () => {
  const cases: Array<[string, () => Partial<Omit<ServerSetup, "kind" | "codex">>]> = [
    [
      "a stored JWT",
      () => ({
        seed: seedRecord({ auth_mode: "agentIdentity", OPENAI_API_KEY: null, agent_identity: agentJwt }),
      }),
    ],
    [
      "a stored object",
      () => ({
        seed: seedRecord({ auth_mode: "agentIdentity", OPENAI_API_KEY: null, agent_identity: agentObject }),
      }),
    ],
    ["CODEX_ACCESS_TOKEN with a JWT", () => ({ env: { CODEX_ACCESS_TOKEN: agentJwt } })],
  ];

  for (const [name, setup] of cases) {
    it(`${name} on production ChatGPT: a ChatGPT account from its claims, no token, logout; rate limits refused`, async () => {
      const { theirs, ours } = await play({ ...setup(), chatgptBaseUrl: PRODUCTION }, (s) => lifecycle(s));
      // Codex signs a usage request as the agent (here it cannot reach chatgpt.com); codex-auth sends nothing as an agent.
      expect(answerTo(theirs, "account/rateLimits/read")).toBe(
        '{"error":{"code":-32603,"message":"failed to fetch codex rate limits: error sending request for url (https://chatgpt.com/backend-api/wham/usage)"},"id":8}',
      );
      expect(answerTo(ours, "account/rateLimits/read")).toBe(
        '{"error":{"code":-32603,"message":"failed to fetch codex rate limits: codex-auth does not send requests as an Agent Identity"},"id":8}',
      );
      const withoutRateLimits = (t: Outcome["theirs"]) => ({
        ...view(t),
        responses: t.responses.filter((r) => !r.request.includes("account/rateLimits/read")),
      });
      expect(withoutRateLimits(ours)).toEqual(withoutRateLimits(theirs));
      expect(answerTo(ours, "account/read")).toContain(
        '"account":{"type":"chatgpt","email":"pro@example.com","planType":"pro","workspaceName":null}',
      );
      expect(answerTo(ours, "getAuthStatus")).toContain('"authMethod":"agentIdentity","authToken":null');
    });
  }

  it("a stored JWT with a loopback chatgpt_base_url is refused as Codex refuses it; our logout removes it", async () => {
    await unloadableRecord(
      { seed: seedRecord({ auth_mode: "agentIdentity", OPENAI_API_KEY: null, agent_identity: agentJwt }) },
      "Agent Identity only supports production and staging ChatGPT environments",
    );
  });
});

const BEDROCK_KEY_RECORD = {
  auth_mode: "bedrockApiKey",
  OPENAI_API_KEY: null,
  bedrock_api_key: { api_key: "bedrock-key-123", region: "us-west-2" },
};
const BEDROCK_ACCESS_KEYS_RECORD = {
  auth_mode: "bedrockAccessKeys",
  OPENAI_API_KEY: null,
  bedrock_access_keys: { access_key_id: "AKIA1", secret_access_key: "sec", session_token: "st" },
};
const BEDROCK_PROVIDER = ['model = "o3"', 'model_provider = "amazon-bedrock"'];

describe.skipIf(!codex)("differential against codex app-server 0.169: Amazon Bedrock records", () => {
  it("an API key under the amazon-bedrock provider: a Bedrock account needing no OpenAI auth; logout takes config.toml off Bedrock", async () => {
    const { ours } = await same({ seed: seedRecord(BEDROCK_KEY_RECORD), config: BEDROCK_PROVIDER }, (s) =>
      lifecycle(s),
    );
    expect(answerTo(ours, "account/read")).toContain(
      '"account":{"type":"amazonBedrock","usesCodexManagedCredentials":true},"userId":null,"requiresOpenaiAuth":false',
    );
    expect(ours.config).not.toContain("amazon-bedrock");
  });

  it("access keys with their region table under the provider: the same, and the table removed on logout", async () => {
    const config = [
      ...BEDROCK_PROVIDER,
      "",
      "[model_providers.amazon-bedrock.aws]",
      'region = "eu-central-1"',
    ];
    const { ours } = await same({ seed: seedRecord(BEDROCK_ACCESS_KEYS_RECORD), config }, (s) =>
      lifecycle(s),
    );
    expect(ours.config).not.toContain("region");
  });

  it("Bedrock keys without the provider: account/read refused in Codex's words, getAuthStatus logged out", async () => {
    for (const record of [BEDROCK_KEY_RECORD, BEDROCK_ACCESS_KEYS_RECORD]) {
      const { ours } = await same({ seed: seedRecord(record) }, (s) => lifecycle(s));
      expect(answerTo(ours, "account/read")).toContain(
        '"code":-32600,"message":"Bedrock API key auth is only supported by the Amazon Bedrock model provider"',
      );
    }
  });

  it("the provider alone, or with an API key or ChatGPT tokens: a Bedrock account not managed by Codex", async () => {
    for (const seed of [undefined, seedApiKey("sk-stored-1234567890ABCDEF")]) {
      const { ours } = await same({ config: BEDROCK_PROVIDER, ...(seed ? { seed } : {}) }, (s) =>
        lifecycle(s),
      );
      expect(answerTo(ours, "account/read")).toContain('"usesCodexManagedCredentials":false');
    }
    // ChatGPT under Bedrock: no start-up lookup, but rate limits still come from ChatGPT.
    await same({ config: BEDROCK_PROVIDER, seed: seedChatgpt() }, async (s) => {
      await s.initialize();
      await reads(s);
      await s.call("account/rateLimits/read", {});
    });
  });
});

describe.skipIf(!codex)("differential against codex app-server 0.169: records Codex cannot use", () => {
  it("an unknown auth_mode: logged out for both; logout refuses and keeps the file (our words name it)", async () => {
    const { theirs, ours } = await play(
      { seed: seedRecord({ auth_mode: "futureMode", OPENAI_API_KEY: null }) },
      async (s) => {
        await s.initialize();
        await reads(s);
        await s.call("account/rateLimits/read", {});
        await s.call("account/logout", {});
        await reads(s);
      },
    );
    expect(before(ours, "account/logout")).toEqual(before(theirs, "account/logout"));
    expect(answerTo(theirs, "account/logout")).toContain("logout failed: failed to deserialize CLI auth");
    expect(answerTo(ours, "account/logout")).toMatch(
      /"code":-32603,"message":"<home>\/auth.json is not a valid auth record: \\"auth_mode\\" must be one of/,
    );
    expect(ours.authFile).toBe(theirs.authFile);
    expect(ours.responses.slice(9)).toEqual(theirs.responses.slice(9));
    expect(ours.notifications).toEqual(theirs.notifications);
  });

  const missing: Array<[string, Record<string, unknown>, string]> = [
    [
      "bedrockApiKey without its key",
      { auth_mode: "bedrockApiKey", OPENAI_API_KEY: null },
      "Bedrock API key auth is missing a Bedrock API key.",
    ],
    [
      "personalAccessToken without its token",
      { auth_mode: "personalAccessToken", OPENAI_API_KEY: null },
      "personal access token auth is missing a personal access token.",
    ],
    [
      "agentIdentity without its material",
      { auth_mode: "agentIdentity", OPENAI_API_KEY: null },
      "agent identity auth is missing agent identity auth material.",
    ],
    [
      "headers (host-supplied only)",
      { auth_mode: "headers", OPENAI_API_KEY: null },
      "externally provided auth cannot be loaded from auth storage.",
    ],
  ];
  for (const [name, record, codexWords] of missing) {
    it(`${name}: logged out for both; our logout removes it where Codex's fails`, async () => {
      await unloadableRecord({ seed: seedRecord(record) }, codexWords);
    });
  }
});

describe.skipIf(!codex)("differential against codex app-server 0.169: Amazon Bedrock sign-in", () => {
  it("needs the experimentalApi capability", async () => {
    await same({}, async (s) => {
      await s.initialize();
      await s.call("account/login/start", { type: "amazonBedrock", apiKey: "k", region: "us-west-2" });
      await s.call("account/login/start", {
        type: "amazonBedrockAccessKeys",
        accessKeyId: "a",
        secretAccessKey: "b",
        region: "us-west-2",
      });
    });
  });

  it("refuses empty keys, unsupported regions and missing fields in Codex's words, and saves nothing", async () => {
    const { ours } = await same({ config: ['model = "o3"'] }, async (s) => {
      await s.initialize(EXPERIMENTAL);
      const bedrock = (apiKey: string, region: string) =>
        s.call("account/login/start", { type: "amazonBedrock", apiKey, region });
      const keys = (accessKeyId: string, secretAccessKey: string, region: string) =>
        s.call("account/login/start", {
          type: "amazonBedrockAccessKeys",
          accessKeyId,
          secretAccessKey,
          region,
        });
      await bedrock("", "us-west-2");
      await bedrock("   ", "us-west-2");
      await bedrock("k", "mars-1");
      await bedrock("k", "");
      await bedrock("", "mars-1");
      await keys("", "b", "us-west-2");
      await keys("a", " ", "us-west-2");
      await keys("a", "b", "xx");
      await s.call("account/login/start", { type: "amazonBedrock", region: "us-west-2" });
      await reads(s);
    });
    expect(ours.authFile).toBe("<none>");
    expect(ours.config).not.toContain("amazon-bedrock");
  });

  it("forced_login_method = chatgpt refuses both kinds before looking at them", async () => {
    await same({ config: ['forced_login_method = "chatgpt"'] }, async (s) => {
      await s.initialize(EXPERIMENTAL);
      await s.call("account/login/start", { type: "amazonBedrock", apiKey: "k", region: "us-west-2" });
      await s.call("account/login/start", {
        type: "amazonBedrockAccessKeys",
        accessKeyId: "a",
        secretAccessKey: "b",
        region: "us-west-2",
      });
      await s.call("account/login/start", { type: "amazonBedrock", apiKey: "", region: "mars" });
    });
  });

  it("an API key (forced_login_method = api allows it): trimmed record, provider in config.toml, completed + updated", async () => {
    const { ours } = await same({ config: ['model = "o3"', 'forced_login_method = "api"'] }, async (s) => {
      await s.initialize(EXPERIMENTAL);
      await s.call("account/login/start", {
        type: "amazonBedrock",
        apiKey: " bedrock-key-123 ",
        region: " us-west-2 ",
      });
      await s.notification("account/login/completed");
      await s.notification("account/updated");
      await reads(s);
      await s.call("account/rateLimits/read", {});
    });
    expect(ours.notifications.at(-1)).toContain('"authMode":"bedrockApiKey","planType":null');
    expect(ours.config).toContain('model_provider = "amazon-bedrock"');
  });

  it("access keys (with and without a session token), then an API key, then logout: every file as Codex leaves it", async () => {
    await same({}, async (s) => {
      await s.initialize(EXPERIMENTAL);
      await s.call("account/login/start", {
        type: "amazonBedrockAccessKeys",
        accessKeyId: " AKIA1 ",
        secretAccessKey: "sec ",
        sessionToken: "st",
        region: "eu-central-1",
      });
      await s.notification("account/login/completed");
      await s.notification("account/updated");
      await reads(s);
      await s.call("account/login/start", {
        type: "amazonBedrockAccessKeys",
        accessKeyId: "AKIA2",
        secretAccessKey: "s",
        sessionToken: "  ",
        region: "us-gov-west-1",
      });
      await s.notification("account/login/completed");
      await s.notification("account/updated");
      await s.call("account/login/start", { type: "amazonBedrock", apiKey: "k2", region: "us-east-1" });
      await s.notification("account/login/completed");
      await s.notification("account/updated");
      await reads(s);
      await s.call("account/logout", {});
      await s.notification("account/updated");
      await reads(s);
    });
  });

  it("over a ChatGPT login: replaced without a revoke; an API key sign-in afterwards keeps the provider", async () => {
    const revokesBefore = issuer.requests.filter((r) => r.path === "/oauth/revoke").length;
    await same({ seed: seedChatgpt() }, async (s) => {
      await s.initialize(EXPERIMENTAL);
      await s.notification("account/updated");
      await s.call("account/login/start", { type: "amazonBedrock", apiKey: "k", region: "us-west-2" });
      await s.notification("account/login/completed");
      await s.notification("account/updated");
      await reads(s);
      await s.call("account/login/start", { type: "apiKey", apiKey: "sk-after-bedrock-123456" });
      await s.notification("account/login/completed");
      await s.notification("account/updated");
      await reads(s);
    });
    expect(issuer.requests.filter((r) => r.path === "/oauth/revoke").length).toBe(revokesBefore);
  });
});

describe.skipIf(!codex)("a Bedrock sign-in through one app server is read by the other program", () => {
  const signIns: Array<[string, Record<string, unknown>, string]> = [
    [
      "API key",
      { type: "amazonBedrock", apiKey: "bedrock-key-123", region: "us-west-2" },
      "Logged in using Amazon Bedrock API key\n",
    ],
    [
      "access keys",
      {
        type: "amazonBedrockAccessKeys",
        accessKeyId: "AKIA1",
        secretAccessKey: "sec",
        region: "eu-central-1",
      },
      "Logged in using Amazon Bedrock AWS access keys\n",
    ],
  ];
  for (const [name, params, words] of signIns) {
    it(`${name}: ours writes → codex login status; codex writes → our login status`, async () => {
      const statuses: Record<string, { code: number | null; stderr: string }> = {};
      await play({}, async (s) => {
        await s.initialize(EXPERIMENTAL);
        await s.call("account/login/start", params);
        await s.notification("account/updated");
        // The other program reads what this server wrote.
        const other =
          s.kind === "ours"
            ? await runCodexAsync(codex!, ["login", "status"], { home: s.home })
            : await runOursAsync(["login", "status"], { home: s.home });
        statuses[s.kind] = { code: other.code, stderr: other.stderr.replace(/^WARNING: .*\n/gm, "") };
      });
      expect(statuses.ours).toEqual({ code: 0, stderr: words });
      expect(statuses.codex).toEqual({ code: 0, stderr: words });
    });
  }
});
