/**
 * Rate limits (`wham/usage`): readRateLimits against the dev issuer, and
 * case by case against the real codex 0.169's `account/rateLimits/read`
 * (same CODEX_HOME, same local backend): the same result, the same request
 * headers, the same refusals. Plus the parser on arbitrary input.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import {
  type AccountRateLimits,
  AuthManager,
  BackendError,
  createAuthenticatedFetch,
  NotLoggedInError,
  parseUsagePayload,
  readRateLimits,
  UnsupportedAuthModeError,
} from "../../src/index.js";
import { type SeededHome, testResources } from "../login/helpers.js";
import { findCodexBinary } from "../support/env.js";
import { fakeChatgptRecord } from "../support/jwt.js";
import { withCodexAppServer } from "../support/run.js";
import { type RecordedRequest, startScriptedServer } from "../support/scripted-server.js";

const codex = findCodexBinary();
const { cleanups, issuerFor, home, closeAll } = testResources();
afterEach(async () => {
  await closeAll();
});

const managerFor = (seeded: SeededHome) =>
  AuthManager.create({ codexHome: seeded.home, storage: seeded.storage, env: {} });

function configure(seeded: SeededHome, baseUrl: string): void {
  writeFileSync(join(seeded.home, "config.toml"), `chatgpt_base_url = "${baseUrl}"\n`);
}

describe("readRateLimits against the dev issuer", () => {
  it("usage-from-dev-issuer: typed windows whose use grows with the workspace's requests", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("chatgpt", issuer);
    configure(seeded, `${issuer.url}/backend-api/`);
    const manager = await managerFor(seeded);
    const authFetch = createAuthenticatedFetch(manager);
    for (let i = 0; i < 3; i++) await authFetch(`${issuer.url}/backend-api/dev/echo`);
    const usage = await readRateLimits(manager);
    expect(usage.accountId).toBe("org_dev");
    expect(usage.rateLimits).toMatchObject({
      limitId: "codex",
      planType: "pro",
      primary: { usedPercent: 3, windowDurationMins: 300, resetsAt: expect.any(Number) },
      secondary: { usedPercent: 0, windowDurationMins: 10080, resetsAt: expect.any(Number) },
      credits: { hasCredits: false, unlimited: false, balance: "0" },
      rateLimitReachedType: null,
    });
    expect(usage.rateLimitsByLimitId).toEqual({ codex: usage.rateLimits });
    const resetsAt = usage.rateLimits.primary!.resetsAt!;
    expect(resetsAt * 1000).toBeGreaterThan(Date.now());
  });

  it("usage-401-recovers: a revoked access token is refreshed and the read retried (Codex gives up)", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const seeded = await home("chatgpt", issuer);
    configure(seeded, `${issuer.url}/backend-api`);
    const manager = await managerFor(seeded);
    issuer.revokeAccessTokens();
    const usage = await readRateLimits(manager);
    expect(usage.rateLimits.planType).toBe("pro");
    expect(
      issuer.requests
        .filter((r) => r.path.includes("usage") || r.grant_type === "refresh_token")
        .map((r) => `${r.path} ${r.status}`),
    ).toEqual(["/backend-api/wham/usage 401", "/oauth/token 200", "/backend-api/wham/usage 200"]);
  });

  it("usage-needs-chatgpt: an API key is refused with Codex's words, no credentials with NotLoggedInError", async () => {
    const issuer = await issuerFor({ autoApprove: true });
    const apiKey = await home("apiKey");
    const none = await home("none");
    const opts = { chatgptBaseUrl: `${issuer.url}/backend-api/` };
    const refused = await readRateLimits(await managerFor(apiKey), opts).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UnsupportedAuthModeError);
    expect((refused as Error).message).toBe("chatgpt authentication required to read rate limits");
    await expect(readRateLimits(await managerFor(none), opts)).rejects.toBeInstanceOf(NotLoggedInError);
    expect(issuer.requests.some((r) => r.path.includes("usage"))).toBe(false);
  });

  it("usage-backend-status: a non-2xx is a BackendError with the status, never the body", async () => {
    const server = await startScriptedServer();
    cleanups.push(() => server.close());
    server.script({ status: 503, raw: "secret-looking body sk-abc" });
    const seeded = await home("none");
    await seeded.storage.save(fakeChatgptRecord() as never);
    const err = await readRateLimits(await managerFor(seeded), {
      chatgptBaseUrl: `${server.url}/backend-api/`,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect([(err as BackendError).code, (err as BackendError).status]).toEqual(["ERR_BACKEND_STATUS", 503]);
    expect((err as Error).message).not.toContain("sk-abc");
    expect(JSON.stringify(err)).not.toContain("503"); // the status is kept, but does not serialize
  });
});

/** Payloads served to both codex and us, learned by probing codex 0.169 (an error where codex fails). */
const CASES: Array<[string, unknown]> = [
  [
    "full",
    {
      plan_type: "plus",
      account_id: "org_x",
      rate_limit: {
        allowed: true,
        limit_reached: false,
        primary_window: {
          used_percent: 42,
          limit_window_seconds: 18000,
          reset_after_seconds: 600,
          reset_at: 1795990000,
        },
        secondary_window: {
          used_percent: 7,
          limit_window_seconds: 604800,
          reset_after_seconds: 6000,
          reset_at: 1796500000,
        },
      },
      credits: { has_credits: true, unlimited: false, balance: "12.50" },
      additional_rate_limits: [
        {
          limit_name: "GPT-5 Codex Mini",
          metered_feature: "codex_mini",
          normal_model_slug: "gpt-5-codex-mini",
          rate_limit: {
            allowed: true,
            limit_reached: false,
            primary_window: {
              used_percent: 3,
              limit_window_seconds: 18001,
              reset_after_seconds: 10,
              reset_at: 1795990001,
            },
            secondary_window: null,
          },
        },
      ],
      rate_limit_reached_type: { type: "rate_limit_reached" },
    },
  ],
  ["minimal", { plan_type: "pro" }],
  ["unknown plan", { plan_type: "weird_plan" }],
  [
    "all null",
    {
      plan_type: "plus",
      rate_limit: null,
      credits: null,
      additional_rate_limits: null,
      rate_limit_reached_type: null,
    },
  ],
  [
    "zero-length window, whole float",
    {
      plan_type: "plus",
      rate_limit: {
        allowed: true,
        limit_reached: false,
        primary_window: { used_percent: 10.0, limit_window_seconds: 0, reset_after_seconds: 1, reset_at: 2 },
      },
    },
  ],
  ["unknown reached type", { plan_type: "plus", rate_limit_reached_type: { type: "something_new" } }],
  ["credits without balance", { plan_type: "plus", credits: { has_credits: false, unlimited: true } }],
  [
    "spend control and reset credits",
    {
      plan_type: "team",
      rate_limit_reset_credits: { available_count: 3 },
      spend_control: {
        reached: true,
        individual_limit: {
          limit: "100",
          used: "50",
          remaining: "50",
          remaining_percent: 50,
          used_percent: 50,
          reset_after_seconds: 9,
          reset_at: 5,
        },
      },
    },
  ],
  ["missing plan_type (error)", {}],
  [
    "fractional used_percent (error)",
    {
      plan_type: "plus",
      rate_limit: {
        allowed: true,
        limit_reached: false,
        primary_window: {
          used_percent: 100.5,
          limit_window_seconds: 60,
          reset_after_seconds: 1,
          reset_at: 2,
        },
      },
    },
  ],
  [
    "spend control limit missing fields (error)",
    { plan_type: "plus", spend_control: { reached: false, individual_limit: { limit: "1" } } },
  ],
];

describe.skipIf(!codex)("readRateLimits vs codex 0.169 account/rateLimits/read", () => {
  it("usage-matches-codex: the same result (or a refusal) for every payload, and the same request headers", async () => {
    const server = await startScriptedServer();
    cleanups.push(() => server.close());
    let current: unknown = {};
    server.script((req: RecordedRequest, res) => {
      const path = req.path.split("?")[0];
      if (path === "/backend-api/wham/usage") {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify(current));
        return;
      }
      if (path === "/backend-api/wham/accounts/check") {
        res.setHeader("content-type", "application/json");
        res.end(
          JSON.stringify({
            accounts: [
              {
                id: "org_x",
                name: "X",
                profile_picture_url: null,
                structure: "personal",
                workspace_backend_origin: "https://chatgpt.com",
                account_routing_override: "NO_CONSTRAINT",
              },
            ],
            account_ordering: ["org_x"],
            default_account_id: "org_x",
          }),
        );
        return;
      }
      res.statusCode = 404;
      res.end("{}");
    });
    const seeded = await home("none");
    await seeded.storage.save(fakeChatgptRecord() as never);
    configure(seeded, `${server.url}/backend-api/`);
    const manager = await managerFor(seeded);

    const codexResults = await withCodexAppServer(
      codex!,
      { home: seeded.home, env: { RUST_LOG: "error" } },
      async (call) => {
        const out: Array<Record<string, unknown>> = [];
        for (const [, payload] of CASES) {
          current = payload;
          out.push(await call("account/rateLimits/read", {}));
        }
        return out;
      },
    );
    const codexUsage = server.requests.filter((r) => r.path === "/backend-api/wham/usage");
    const from = server.requests.length;

    for (const [i, [name, payload]] of CASES.entries()) {
      current = payload;
      const theirs = codexResults[i]!;
      const ours = await readRateLimits(manager).then(
        (result: AccountRateLimits) => ({ result }),
        (error: unknown) => ({ error }),
      );
      if ("error" in theirs) {
        expect("error" in ours, name).toBe(true);
        expect((ours as { error: BackendError }).error.code, name).toBe("ERR_BACKEND_RESPONSE");
      } else {
        expect("result" in ours, `${name}: ${String((ours as { error?: unknown }).error)}`).toBe(true);
        expect((ours as { result: AccountRateLimits }).result, name).toEqual(theirs.result);
      }
    }
    const oursUsage = server.requests.slice(from).filter((r) => r.path === "/backend-api/wham/usage");
    // `connection` is the HTTP layer's (undici keeps connections alive; reqwest says nothing), as for every endpoint.
    const names = (r: RecordedRequest) =>
      Object.keys(r.headers)
        .filter((k) => k !== "connection")
        .sort();
    expect(oursUsage.map(names)).toEqual(codexUsage.map(names));
    expect(names(oursUsage[0]!)).toEqual([
      "accept",
      "authorization",
      "chatgpt-account-id",
      "host",
      "user-agent",
    ]);
    for (const k of ["accept", "authorization", "chatgpt-account-id"]) {
      expect(oursUsage[0]!.headers[k]).toBe(codexUsage[0]!.headers[k]);
    }
  });
});

describe("parseUsagePayload on arbitrary input", () => {
  it("usage-parser-never-throws-else: any JSON gives a result or an ERR_BACKEND_RESPONSE that quotes nothing of it", () => {
    const secret = "sk-SECRET-marker";
    const withSecret = fc.jsonValue().map((v) => JSON.stringify({ plan_type: 1, leak: secret, v }));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.jsonValue().map((v) => JSON.stringify(v)),
          withSecret,
        ),
        (text) => {
          try {
            const result = parseUsagePayload(text);
            expect(result.rateLimits.limitId).toBe("codex");
          } catch (err) {
            expect(err).toBeInstanceOf(BackendError);
            expect((err as BackendError).code).toBe("ERR_BACKEND_RESPONSE");
            expect((err as Error).message).not.toContain(secret);
          }
        },
      ),
    );
  });
});
