/**
 * Differential: the workspace's cloud-delivered configuration
 * (`wham/config/bundle`), which Codex 0.169's app server loads at start-up
 * for business, education and enterprise workspaces, and an invalid
 * config.toml at start-up — the same conversation with the real
 * `codex app-server` and ours, every answer, account notification and
 * "using defaults" `configWarning` compared.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import { findCodexBinary } from "../support/env.js";
import {
  compared,
  differential,
  NO_INTERNET,
  type ServerSetup,
  type Session,
} from "./support/differential.js";
import { seedChatgpt, seedRaw } from "./support/seed.js";

const codex = findCodexBinary();
let issuer: DevIssuer;

const fragment = (contents: string) => ({ id: "req-1", name: "Workspace policy", contents });
const RESTRICTING = {
  requirements_toml: {
    enterprise_managed: [
      fragment('allowed_login_methods = ["chatgpt"]\nallowed_chatgpt_workspaces = ["org_other"]\n'),
    ],
  },
};
const WORKSPACES: Record<string, { plan: string; configBundle?: unknown }> = {
  none: { plan: "business" },
  restricting: { plan: "enterprise", configBundle: RESTRICTING },
  server_error: { plan: "enterprise", configBundle: { status: 503, text: '{"detail":"unavailable"}' } },
  garbage: { plan: "edu", configBundle: { status: 200, text: "not json{" } },
  invalid_fragment: {
    plan: "enterprise",
    configBundle: { requirements_toml: { enterprise_managed: [fragment("this = = not toml")] } },
  },
  pat: { plan: "enterprise" },
  pro: { plan: "pro", configBundle: { status: 500, text: "never asked" } },
};
let pat: string;

beforeAll(async () => {
  issuer = await startDevIssuer({
    autoApprove: true,
    users: Object.entries(WORKSPACES).map(([name, w]) => ({
      email: `${name}@example.com`,
      plan: w.plan,
      workspaces: [
        {
          id: `org_${name}`,
          name: `Workspace ${name}`,
          structure: "workspace" as const,
          ...(w.configBundle !== undefined ? { configBundle: w.configBundle } : {}),
        },
      ],
    })),
  });
  pat = issuer.issuePersonalAccessToken({ email: "pat@example.com" });
});
afterAll(async () => {
  await issuer?.close();
});

const env = () => ({ ...NO_INTERNET, CODEX_AUTHAPI_BASE_URL: `${issuer.url}/api/accounts` });

async function same(setup: Partial<Omit<ServerSetup, "kind" | "codex">>) {
  const { codex: theirs, ours } = await differential(
    { codex: codex!, issuer, env: env(), ...setup },
    conversation,
  );
  if (process.env.DIFF_DUMP) console.log(JSON.stringify(compared(theirs), null, 2));
  expect(compared(ours)).toEqual(compared(theirs));
  return { theirs, ours };
}

/** Every account answer a client sees, then an API-key sign-in and the same again. */
async function conversation(s: Session): Promise<void> {
  await s.initialize();
  await s.call("account/read", {});
  await s.call("getAuthStatus", { includeToken: true });
  await s.call("account/rateLimits/read", undefined, { noParams: true });
  await s.call("account/login/start", { type: "apiKey", apiKey: "sk-policy-1234567890ABCDEF" });
  await s.notification("account/login/completed");
  await s.notification("account/updated");
  await s.call("account/read", {});
  await s.call("getAuthStatus", {});
}

const chatgpt = (name: string) => seedChatgpt({ email: `${name}@example.com` });

describe.skipIf(!codex)(
  "differential against codex app-server 0.169: cloud-delivered workspace config",
  () => {
    it("workspace-without-cloud-config: a 404 bundle runs on defaults, account/read and rate limits refused in Codex's words", async () => {
      const { ours } = await same({ seed: chatgpt("none") });
      expect(ours.configWarnings).toHaveLength(1);
      expect(ours.responses[1]!.answer).toContain(
        "failed to load workspace requirements: cloud config: request failed",
      );
    });

    it("cloud-sign-in-requirements-not-applied: a bundle restricting login methods and workspaces changes no answer (as Codex 0.169)", async () => {
      const { ours } = await same({ seed: chatgpt("restricting") });
      expect(ours.configWarnings).toEqual([]);
    });

    it("cloud-config-5xx: a failing backend, after every attempt, is answered as Codex answers it", async () => {
      await same({ seed: chatgpt("server_error") });
    });

    it("cloud-config-garbage: a body that is not a bundle is a failed load", async () => {
      await same({ seed: chatgpt("garbage") });
    });

    it("cloud-config-invalid-fragment: a requirements fragment that is not TOML is an invalid bundle", async () => {
      const { ours } = await same({ seed: chatgpt("invalid_fragment") });
      expect(ours.configWarnings[0]).toContain("invalid cloud config bundle: invalid requirements");
    });

    it("cloud-config-unreachable: a backend nobody answers is a failed load; the credentials stay", async () => {
      const { ours } = await same({
        seed: chatgpt("restricting"),
        chatgptBaseUrl: "http://127.0.0.1:9/backend-api/",
      });
      expect(ours.configWarnings).toHaveLength(1);
    });

    it("personal-access-token-loads-cloud-config: a token in an enterprise workspace fetches the bundle (404: defaults)", async () => {
      await same({ seed: seedRaw(JSON.stringify({ OPENAI_API_KEY: null, personal_access_token: pat })) });
    });

    it("personal-plans-never-fetch-cloud-config: a pro workspace is served normally", async () => {
      const { ours } = await same({ seed: chatgpt("pro") });
      expect(ours.configWarnings).toEqual([]);
    });
  },
);

describe.skipIf(!codex)(
  "differential against codex app-server 0.169: invalid config.toml at start-up",
  () => {
    it("invalid-config-starts-on-defaults: an invalid value is a configWarning with its file and range, not an exit", async () => {
      const { ours } = await same({ seed: chatgpt("pro"), config: ['forced_login_method = "bogus"'] });
      expect(ours.exit.code).toBe(0);
      expect(ours.configWarnings[0]).toContain(
        '"range":{"start":{"line":2,"column":23},"end":{"line":2,"column":29}}',
      );
    });
  },
);
