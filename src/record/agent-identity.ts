/**
 * Agent Identity material as Codex 0.169 reads it (`codex-agent-identity`):
 * the JWT's claims (decoded here without verification; the signature is
 * checked against OpenAI's JWKS by `manager/agent-identity`) and the Ed25519
 * private key (PKCS#8 DER, standard base64). Pure, no I/O. Error messages are
 * Codex's and never quote the token or the key.
 */
import { UnsupportedAuthModeError } from "../errors.js";
import { nodeCrypto } from "../lazy-require.js";
import type { AgentIdentityRecord } from "./auth-record.js";
import { typeName } from "./claims.js";

/** The issuer and audience Codex requires of an Agent Identity JWT. */
export const AGENT_IDENTITY_JWT_ISSUER = "https://chatgpt.com/codex-backend/agent-identity";
export const AGENT_IDENTITY_JWT_AUDIENCE = "codex-app-server";

/** Claims of an Agent Identity JWT (Codex's `AgentIdentityJwtClaims`). */
export interface AgentIdentityClaims {
  iss: string;
  aud: string;
  iat: number;
  exp: number;
  record: AgentIdentityRecord;
}

/**
 * An Agent Identity that cannot be used, in Codex 0.169's words
 * (`failed to decode agent identity JWT: invalid agent identity JWT format`,
 * `stored agent identity private key is not valid base64`, …).
 */
export class AgentIdentityError extends UnsupportedAuthModeError {}

const B64URL = /^[A-Za-z0-9_-]*$/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes an Agent Identity JWT's payload as Codex does before verifying it:
 * exactly three non-empty dot-separated parts, an unpadded base64url payload,
 * a JSON object with `iss`, `aud` (strings), `iat`, `exp` (whole numbers) and
 * the record's fields.
 *
 * @throws {AgentIdentityError} `failed to decode agent identity JWT: …`.
 */
export function decodeAgentIdentityJwt(jwt: string): AgentIdentityClaims {
  const bad = (problem: string) => new AgentIdentityError(`failed to decode agent identity JWT: ${problem}`);
  const parts = jwt.split(".");
  if (parts.length !== 3 || parts.some((p) => p === "")) throw bad("invalid agent identity JWT format");
  const payload = parts[1]!;
  if (!B64URL.test(payload) || payload.length % 4 === 1) {
    throw bad("agent identity JWT payload is not valid base64url");
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  } catch {
    throw bad("agent identity JWT payload is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw bad(`invalid credential JSON (expected an object, found ${typeName(value)})`);
  }
  const o = value as Record<string, unknown>;
  for (const key of [
    "iss",
    "aud",
    "agent_runtime_id",
    "agent_private_key",
    "account_id",
    "chatgpt_user_id",
  ]) {
    if (typeof o[key] !== "string") throw bad(`invalid credential JSON ("${key}" must be a string)`);
  }
  for (const key of ["iat", "exp"]) {
    if (typeof o[key] !== "number" || !Number.isInteger(o[key]) || (o[key] as number) < 0) {
      throw bad(`invalid credential JSON ("${key}" must be a whole number of seconds)`);
    }
  }
  if (o.email !== undefined && o.email !== null && typeof o.email !== "string") {
    throw bad(`invalid credential JSON ("email" must be a string)`);
  }
  if (typeof o.plan_type !== "string") throw bad(`invalid credential JSON ("plan_type" must be a string)`);
  if (typeof o.chatgpt_account_is_fedramp !== "boolean") {
    throw bad(`invalid credential JSON ("chatgpt_account_is_fedramp" must be true or false)`);
  }
  return {
    iss: o.iss as string,
    aud: o.aud as string,
    iat: o.iat as number,
    exp: o.exp as number,
    record: {
      agent_runtime_id: o.agent_runtime_id as string,
      agent_private_key: o.agent_private_key as string,
      account_id: o.account_id as string,
      chatgpt_user_id: o.chatgpt_user_id as string,
      email: (o.email as string | null | undefined) ?? null,
      plan_type: o.plan_type as string,
      chatgpt_account_is_fedramp: o.chatgpt_account_is_fedramp as boolean,
    },
  };
}

/**
 * The Ed25519 signing key of an Agent Identity (`agent_private_key`:
 * PKCS#8 DER in standard base64), as Codex reads it.
 *
 * @throws {AgentIdentityError} `stored agent identity private key is not valid base64` / `… is not valid PKCS#8`.
 */
export function agentIdentitySigningKey(privateKeyBase64: string): import("node:crypto").KeyObject {
  if (!B64.test(privateKeyBase64) || privateKeyBase64.length % 4 !== 0) {
    throw new AgentIdentityError("stored agent identity private key is not valid base64");
  }
  try {
    const key = nodeCrypto().createPrivateKey({
      key: Buffer.from(privateKeyBase64, "base64"),
      format: "der",
      type: "pkcs8",
    });
    if (key.asymmetricKeyType !== "ed25519") throw new Error("not Ed25519");
    return key;
  } catch {
    throw new AgentIdentityError("stored agent identity private key is not valid PKCS#8");
  }
}
