import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type PlanType, planTypeFromRaw } from "../../src/record/plan.js";

describe("planTypeFromRaw", () => {
  it.each<[string, PlanType]>([
    // the seed's plans
    ["free", "free"],
    ["plus", "plus"],
    ["pro", "pro"],
    ["team", "team"],
    ["business", "business"],
    ["enterprise", "enterprise"],
    ["edu", "edu"],
    // added by Codex since
    ["go", "go"],
    ["prolite", "prolite"],
    ["self_serve_business_usage_based", "self_serve_business_usage_based"],
    ["enterprise_cbp_usage_based", "enterprise_cbp_usage_based"],
    // in Codex 0.169's app-server PlanType (checked with account/read, test/app-server/differential-plans.test.ts)
    ["promax", "promax"],
    ["self_serve_business_prolite", "self_serve_business_prolite"],
    ["ent26", "ent26"],
    ["enterprise_cbp_automation", "enterprise_cbp_automation"],
    ["edu_plus", "edu_plus"],
    ["edu_pro", "edu_pro"],
    ["sci", "sci"],
    ["sci_plus", "sci_plus"],
    // aliases
    ["hc", "enterprise"],
    ["education", "edu"],
  ])("%s → %s", (raw, plan) => {
    expect(planTypeFromRaw(raw)).toBe(plan);
  });

  // SPEC §1 says case-insensitive, but Codex 0.169 reports an ID token's "Pro" or
  // "TEAM" as unknown (its serde enum is lower-case only; observed with
  // `account/read`, see src/record/plan.ts), and we report what Codex reports.
  it.each(["PRO", "Plus", "HC", "Education", "EnTeRpRiSe_CbP_UsAgE_BaSeD"])(
    "matches case-sensitively, as Codex 0.169 does: %s → unknown",
    (raw) => {
      expect(planTypeFromRaw(raw)).toBe("unknown");
    },
  );

  it.each([
    "weird",
    "",
    " pro",
    "pro ",
    "pro-lite",
    "enterprise-cbp",
    "constructor",
    "__proto__",
    "toString",
    "hasOwnProperty",
  ])("%j → unknown", (raw) => {
    expect(planTypeFromRaw(raw)).toBe("unknown");
  });

  it("maps every string to a PlanType without throwing (property)", () => {
    const plans = new Set<PlanType>([
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
      "unknown",
    ]);
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (raw) => {
        expect(plans.has(planTypeFromRaw(raw))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
