import { JwtMalformedError } from "../errors.js";
import { decodeJwtPayload } from "./jwt.js";
import { type PlanType, planTypeFromRaw } from "./plan.js";

/** Claim namespace OpenAI uses for ChatGPT account data. */
export const AUTH_CLAIMS_NAMESPACE = "https://api.openai.com/auth";
const PROFILE_CLAIMS_NAMESPACE = "https://api.openai.com/profile";

/** What codex-auth reads from a ChatGPT ID token. */
export interface IdTokenInfo {
  email: string | undefined;
  /** Raw `chatgpt_plan_type` claim, when present. */
  rawPlanType: string | undefined;
  planType: PlanType | undefined;
  /** `chatgpt_user_id`, falling back to `user_id`. */
  chatgptUserId: string | undefined;
  /** `chatgpt_account_id`: the workspace the tokens belong to. */
  chatgptAccountId: string | undefined;
}

function optionalString(obj: Record<string, unknown>, key: string, where: string): string | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") {
    throw new JwtMalformedError(`claim ${where}${key} must be a string, found ${typeName(value)}`);
  }
  return value;
}

function optionalObject(obj: Record<string, unknown>, key: string): Record<string, unknown> | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new JwtMalformedError(`claim "${key}" must be an object, found ${typeName(value)}`);
  }
  return value as Record<string, unknown>;
}

/** A JSON value's kind, for error messages that must not quote the value. */
export function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/**
 * Parses the claims codex-auth uses from an ID token. Claims are typed as in
 * Codex (a non-string `email` is an error); missing claims are fine.
 *
 * @throws {JwtMalformedError}
 */
export function parseIdToken(idToken: string): IdTokenInfo {
  const cached = decoded.get(idToken);
  if (cached) return cached;
  const info = decodeIdToken(idToken);
  if (decoded.size >= DECODED_CACHE_SIZE) decoded.delete(decoded.keys().next().value as string);
  decoded.set(idToken, info);
  return info;
}

// Validating a record decodes its ID token; the snapshot built from the
// record right after reuses that result instead of decoding again.
const DECODED_CACHE_SIZE = 16;
const decoded = new Map<string, IdTokenInfo>();

function decodeIdToken(idToken: string): IdTokenInfo {
  const claims = decodeJwtPayload(idToken);
  const auth = optionalObject(claims, AUTH_CLAIMS_NAMESPACE) ?? {};
  const profile = optionalObject(claims, PROFILE_CLAIMS_NAMESPACE) ?? {};
  const ns = `"${AUTH_CLAIMS_NAMESPACE}".`;
  const rawPlanType = optionalString(auth, "chatgpt_plan_type", ns);
  const userId = optionalString(auth, "user_id", ns);
  return Object.freeze({
    email:
      optionalString(claims, "email", "") ??
      optionalString(profile, "email", `"${PROFILE_CLAIMS_NAMESPACE}".`),
    rawPlanType,
    planType: rawPlanType === undefined ? undefined : planTypeFromRaw(rawPlanType),
    chatgptUserId: optionalString(auth, "chatgpt_user_id", ns) ?? userId,
    chatgptAccountId: optionalString(auth, "chatgpt_account_id", ns),
  });
}
