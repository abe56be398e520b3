/**
 * ChatGPT plan of the signed-in account, as Codex 0.169 names them (lower
 * case; the app-server protocol's `PlanType`, see
 * contract/codex-0.169/app-server/ts/PlanType.ts).
 */
export type PlanType =
  | "free"
  | "go"
  | "plus"
  | "pro"
  | "prolite"
  | "promax"
  | "team"
  | "self_serve_business_prolite"
  | "self_serve_business_usage_based"
  | "business"
  | "ent26"
  | "enterprise_cbp_automation"
  | "enterprise_cbp_usage_based"
  | "enterprise"
  | "edu"
  | "edu_plus"
  | "edu_pro"
  | "sci"
  | "sci_plus"
  | "unknown";

const PLAN_ALIASES: Readonly<Record<string, PlanType>> = {
  free: "free",
  go: "go",
  plus: "plus",
  pro: "pro",
  prolite: "prolite",
  promax: "promax",
  team: "team",
  self_serve_business_prolite: "self_serve_business_prolite",
  self_serve_business_usage_based: "self_serve_business_usage_based",
  business: "business",
  ent26: "ent26",
  enterprise_cbp_automation: "enterprise_cbp_automation",
  enterprise_cbp_usage_based: "enterprise_cbp_usage_based",
  enterprise: "enterprise",
  hc: "enterprise",
  edu: "edu",
  education: "edu",
  edu_plus: "edu_plus",
  edu_pro: "edu_pro",
  sci: "sci",
  sci_plus: "sci_plus",
};

/**
 * Maps the raw `chatgpt_plan_type` claim to a {@link PlanType}; unrecognised
 * values map to `"unknown"`. The match is case-sensitive: upstream Codex
 * source has a case-insensitive `from_raw_value`, but Codex 0.169 reading an
 * ID token reports `"Pro"` or `"TEAM"` as `unknown` (checked against the
 * binary with `account/read`), and we report what Codex reports.
 */
export function planTypeFromRaw(raw: string): PlanType {
  return Object.hasOwn(PLAN_ALIASES, raw) ? PLAN_ALIASES[raw]! : "unknown";
}
