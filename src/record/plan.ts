/** ChatGPT plan of the signed-in account, as Codex names them (lower case). */
export type PlanType =
  | "free"
  | "go"
  | "plus"
  | "pro"
  | "prolite"
  | "team"
  | "self_serve_business_usage_based"
  | "business"
  | "enterprise_cbp_usage_based"
  | "enterprise"
  | "edu"
  | "unknown";

const PLAN_ALIASES: Readonly<Record<string, PlanType>> = {
  free: "free",
  go: "go",
  plus: "plus",
  pro: "pro",
  prolite: "prolite",
  team: "team",
  self_serve_business_usage_based: "self_serve_business_usage_based",
  business: "business",
  enterprise_cbp_usage_based: "enterprise_cbp_usage_based",
  enterprise: "enterprise",
  hc: "enterprise",
  edu: "edu",
  education: "edu",
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
