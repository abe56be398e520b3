/**
 * Differential: every plan name Codex 0.169's protocol knows, as a ChatGPT
 * account's `chatgpt_plan_type` claim, through account/read — and names it
 * does not know, in odd cases.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import { findCodexBinary } from "../support/env.js";
import { compared, differential } from "./support/differential.js";
import { seedChatgpt } from "./support/seed.js";

const codex = findCodexBinary();
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
  // Business, education and enterprise plans load workspace requirements
  // (wham/config/bundle) first; the dev issuer answers 404 there, so both
  // answer account/read with `failed to load workspace requirements: …`.
  it.each(PLANS.map((plan, i) => [plan, i] as const))(
    "plan-names-as-codex-reports-them: %s",
    async (_plan, i) => {
      const { codex: theirs, ours } = await differential(
        { codex: codex!, issuer, seed: seedChatgpt({ email: `user${i}@example.com` }) },
        async (s) => {
          await s.initialize();
          await s.call("account/read", {});
        },
      );
      expect(compared(ours)).toEqual(compared(theirs));
    },
  );
});
