/**
 * Differential: every plan name Codex 0.169's protocol knows, as a ChatGPT
 * account's `chatgpt_plan_type` claim, through account/read — and names it
 * does not know, in odd cases.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLOUD_CONFIG_PLANS } from "../../src/backend/config-bundle.js";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import { findCodexBinary } from "../support/env.js";
import { compared, differential } from "./support/differential.js";
import { seedChatgpt } from "./support/seed.js";

const codex = findCodexBinary();
/**
 * Plans for which Codex 0.169 loads workspace requirements (the cloud
 * config bundle) at start-up, with retries taking ~20 s per server against
 * the dev issuer's 404: their answers are compared in
 * differential-cloud-config.test.ts (404, 5xx, garbage, unreachable, PAT),
 * not once per plan here.
 */
const WORKSPACE_REQUIREMENT_PLANS = CLOUD_CONFIG_PLANS;
const PLANS = [
  "free",
  "go",
  "plus",
  "pro",
  "prolite",
  "promax",
  "team",
  "self_serve_business_prolite",
  "self_serve_business_usage_based",
  "business",
  "ent26",
  "enterprise_cbp_automation",
  "enterprise_cbp_usage_based",
  "enterprise",
  "edu",
  "edu_plus",
  "edu_pro",
  "sci",
  "sci_plus",
  "hc",
  "education",
  "Pro",
  "unknown",
  "weird",
];
let issuer: DevIssuer;

beforeAll(async () => {
  issuer = await startDevIssuer({
    autoApprove: true,
    users: PLANS.map((plan, i) => ({
      email: `user${i}@example.com`,
      plan,
      workspaces: [{ id: `org_${i}`, name: `Workspace ${i}` }],
    })),
  });
});
afterAll(async () => {
  await issuer?.close();
});

describe.skipIf(!codex)("differential against codex app-server 0.169: plan names", () => {
  it.each(
    PLANS.map((plan, i) => [plan, i] as const).filter(([plan]) => !WORKSPACE_REQUIREMENT_PLANS.has(plan)),
  )("plan-names-as-codex-reports-them: %s", async (_plan, i) => {
    const { codex: theirs, ours } = await differential(
      { codex: codex!, issuer, seed: seedChatgpt({ email: `user${i}@example.com` }) },
      async (s) => {
        await s.initialize();
        await s.call("account/read", {});
      },
    );
    // Answers only: at start-up Codex also loads workspace-managed policies for some plans, which
    // decides whether it announces the account (not an account method, not served here).
    expect(compared(ours).responses).toEqual(compared(theirs).responses);
  });
});
