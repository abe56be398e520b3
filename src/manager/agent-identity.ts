/**
 * Checking an Agent Identity as Codex 0.169 does when it loads one: a JWT is
 * verified against OpenAI's JWKS (RS256, `kid`, issuer, audience, expiry);
 * the private key must be an Ed25519 PKCS#8 key; and when the identity has
 * no task yet, a task is registered (`POST
 * {authapi}/v1/agent/<runtime id>/task/register`, signed with the key).
 * Endpoints: `CODEX_AGENT_IDENTITY_JWKS_BASE_URL` +
 * `/agent-identities/jwks` (else derived from `chatgpt_base_url`) and
 * `CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL`. Failures carry Codex's words.
 */
import { type Env, processEnv } from "../config/env.js";
import type { Deps } from "../deps.js";
import { httpReasonPhrase, nodeCrypto } from "../lazy-require.js";
import { httpRequest } from "../oauth/http.js";
import {
  AGENT_IDENTITY_JWT_AUDIENCE,
  AGENT_IDENTITY_JWT_ISSUER,
  AgentIdentityError,
  agentIdentitySigningKey,
  decodeAgentIdentityJwt,
} from "../record/agent-identity.js";
import type { AgentIdentityRecord } from "../record/auth-record.js";
import type { AgentIdentityAuth } from "../record/codex-auth.js";

const DEFAULT_CHATGPT_BASE_URL = "https://chatgpt.com/backend-api";
/** Codex 0.169's production account API for agent tasks (from the binary). */
const DEFAULT_AGENT_AUTHAPI_BASE_URL = "https://auth.api.openai.org/api/accounts";
const JWKS_TIMEOUT_MS = 10_000;
const TASK_REGISTRATION_TIMEOUT_MS = 30_000;

const trimmed = (v: string | undefined) => v?.trim().replace(/\/+$/, "") || undefined;

/** Where Agent Identity JWT signing keys are fetched, as Codex 0.169 chooses. */
export function agentIdentityJwksUrl(env: Env, chatgptBaseUrl?: string): string {
  const override = trimmed(env.CODEX_AGENT_IDENTITY_JWKS_BASE_URL);
  if (override) return `${override}/agent-identities/jwks`;
  const base = trimmed(chatgptBaseUrl) ?? DEFAULT_CHATGPT_BASE_URL;
  if (base.includes("/backend-api")) return `${base}/wham/agent-identities/jwks`;
  if (base.includes("/api/codex")) return `${base}/agent-identities/jwks`;
  return `${base}/api/codex/agent-identities/jwks`;
}

/** The account API where agent tasks are registered, as Codex 0.169 chooses. */
export function agentIdentityAuthapiBaseUrl(env: Env, chatgptBaseUrl?: string): string {
  const override = trimmed(env.CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL);
  if (override) return override;
  const base = trimmed(chatgptBaseUrl);
  if (base && /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])/.test(base)) return base;
  return DEFAULT_AGENT_AUTHAPI_BASE_URL;
}

/** Hosts of the ChatGPT environments Codex 0.169 lets an Agent Identity work with (and their subdomains, except for chat.openai.com). */
const AGENT_IDENTITY_HOSTS =
  /^(?:(?:[a-z0-9-]+\.)*chatgpt\.com|(?:[a-z0-9-]+\.)*chatgpt-staging\.com|chat\.openai\.com)$/;
/** The `chatgpt_base_url` paths Codex 0.169 accepts on those hosts. */
const AGENT_IDENTITY_PATHS = new Set(["", "/backend-api", "/backend-api/codex", "/codex", "/api/codex"]);

/**
 * Whether `chatgpt_base_url` (unset: production) names a ChatGPT environment
 * Codex 0.169 accepts an Agent Identity in: https, a chatgpt.com,
 * chatgpt-staging.com or chat.openai.com host on the default port, and a
 * base path Codex knows. Observed against the binary (loopback, http,
 * `openai.com`, `xchatgpt.com`, `chatgpt.com/foo` are refused); anything
 * else Codex refuses with `Agent Identity only supports production and
 * staging ChatGPT environments`.
 */
export function agentIdentityEnvironmentSupported(chatgptBaseUrl: string | undefined): boolean {
  const base = chatgptBaseUrl?.trim();
  if (!base) return true;
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    return false;
  }
  if (url.protocol !== "https:" || url.port !== "" || url.search || url.hash) return false;
  if (!AGENT_IDENTITY_HOSTS.test(url.hostname)) return false;
  return AGENT_IDENTITY_PATHS.has(url.pathname.replace(/\/+$/, ""));
}

/** Options of {@link checkAgentIdentity}. */
export interface AgentIdentityCheckOptions extends Partial<Pick<Deps, "env" | "fetch" | "now">> {
  /** config.toml's `chatgpt_base_url`. */
  chatgptBaseUrl?: string;
  originator?: string;
  /** Register a task when the identity has none (default true; sign-in only verifies, as Codex). */
  registerTask?: boolean;
}

/** A usable Agent Identity: its record and the task registered for this process (or stored). */
export interface CheckedAgentIdentity {
  record: AgentIdentityRecord;
  /** Undefined when `registerTask` was false and the identity has none. */
  taskId: string | undefined;
}

/**
 * Verifies an Agent Identity as Codex 0.169 does on load, registering a task
 * when it has none.
 *
 * @throws {AgentIdentityError} `ERR_UNSUPPORTED_AUTH_MODE`, with Codex's words (`Agent Identity only supports
 *   production and staging ChatGPT environments`, `failed to verify agent identity JWT`, `agent task
 *   registration failed with status 401 Unauthorized: …`, …).
 */
export async function checkAgentIdentity(
  auth: AgentIdentityAuth,
  options: AgentIdentityCheckOptions = {},
): Promise<CheckedAgentIdentity> {
  if (!agentIdentityEnvironmentSupported(options.chatgptBaseUrl)) {
    throw new AgentIdentityError("Agent Identity only supports production and staging ChatGPT environments");
  }
  const env = options.env ?? processEnv();
  const record =
    typeof auth.identity === "string" ? await verifiedRecord(auth.identity, env, options) : auth.identity;
  const key = agentIdentitySigningKey(record.agent_private_key);
  if (typeof record.task_id === "string") return { record, taskId: record.task_id };
  if (options.registerTask === false) return { record, taskId: undefined };
  return { record, taskId: await registerTask(record, key, env, options) };
}

async function verifiedRecord(
  jwt: string,
  env: Env,
  options: AgentIdentityCheckOptions,
): Promise<AgentIdentityRecord> {
  const claims = decodeAgentIdentityJwt(jwt);
  const [headerPart, payloadPart, signaturePart] = jwt.split(".") as [string, string, string];
  let kid: unknown;
  try {
    kid = (JSON.parse(Buffer.from(headerPart, "base64url").toString("utf8")) as { kid?: unknown }).kid;
  } catch {
    throw new AgentIdentityError("failed to decode agent identity JWT header");
  }
  if (typeof kid !== "string")
    throw new AgentIdentityError("agent identity JWT header does not include a kid");
  let response: Awaited<ReturnType<typeof httpRequest>>;
  try {
    response = await httpRequest(
      {
        url: agentIdentityJwksUrl(env, options.chatgptBaseUrl),
        method: "GET",
        timeoutMs: JWKS_TIMEOUT_MS,
        identify: true,
      },
      { env, fetch: options.fetch, originator: options.originator },
    );
  } catch (err) {
    throw new AgentIdentityError("failed to request agent identity JWKS", { cause: err });
  }
  if (!response.ok) throw new AgentIdentityError("failed to fetch agent identity JWKS");
  let keys: unknown;
  try {
    keys = (JSON.parse(response.text) as { keys?: unknown }).keys;
  } catch {
    keys = undefined;
  }
  if (!Array.isArray(keys)) throw new AgentIdentityError("failed to decode agent identity JWKS");
  const jwk = keys.find((k) => (k as { kid?: unknown })?.kid === kid) as Record<string, unknown> | undefined;
  if (!jwk) {
    const shown = /^[\w.-]{1,80}$/.test(kid) ? kid : "(unprintable)";
    throw new AgentIdentityError(`agent identity JWT kid ${shown} is not trusted`);
  }
  const crypto = nodeCrypto();
  let valid = false;
  try {
    const key = crypto.createPublicKey({ key: jwk as import("node:crypto").JsonWebKey, format: "jwk" });
    valid = crypto.verify(
      "sha256",
      Buffer.from(`${headerPart}.${payloadPart}`),
      key,
      Buffer.from(signaturePart, "base64url"),
    );
  } catch {
    valid = false;
  }
  const nowSeconds = Math.floor((options.now ?? Date.now)() / 1000);
  // jsonwebtoken's defaults: RS256 only, 60 s of leeway on `exp`.
  if (
    !valid ||
    claims.iss !== AGENT_IDENTITY_JWT_ISSUER ||
    claims.aud !== AGENT_IDENTITY_JWT_AUDIENCE ||
    claims.exp + 60 < nowSeconds
  ) {
    throw new AgentIdentityError("failed to verify agent identity JWT");
  }
  return claims.record;
}

async function registerTask(
  record: AgentIdentityRecord,
  key: import("node:crypto").KeyObject,
  env: Env,
  options: AgentIdentityCheckOptions,
): Promise<string> {
  const timestamp = `${new Date((options.now ?? Date.now)()).toISOString().slice(0, 19)}Z`;
  const signature = nodeCrypto()
    .sign(null, Buffer.from(`${record.agent_runtime_id}:${timestamp}`), key)
    .toString("base64");
  const base = agentIdentityAuthapiBaseUrl(env, options.chatgptBaseUrl);
  let response: Awaited<ReturnType<typeof httpRequest>>;
  try {
    response = await httpRequest(
      {
        url: `${base}/v1/agent/${encodeURIComponent(record.agent_runtime_id)}/task/register`,
        body: { kind: "json", value: { timestamp, signature } },
        timeoutMs: TASK_REGISTRATION_TIMEOUT_MS,
        identify: true,
      },
      { env, fetch: options.fetch, originator: options.originator },
    );
  } catch (err) {
    throw new AgentIdentityError("failed to register agent task", { cause: err });
  }
  if (!response.ok) {
    const reason = httpReasonPhrase(response.status);
    // Codex appends the answer's body, cut at 512 characters.
    const body =
      response.text.length > 512 ? `${[...response.text].slice(0, 512).join("")}...` : response.text;
    // Codex calls server errors (5xx, 429) retryable and says so first.
    const retryable = response.status >= 500 || response.status === 429;
    throw new AgentIdentityError(
      `${retryable ? "retryable agent identity registration failure: " : ""}agent task registration failed with status ${response.status}${reason ? ` ${reason}` : ""}: ${body}`,
    );
  }
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(response.text) as Record<string, unknown>;
    if (typeof body !== "object" || body === null) throw new Error("not an object");
  } catch {
    throw new AgentIdentityError("failed to decode agent task registration response");
  }
  const taskId = body.task_id ?? body.taskId;
  if (typeof taskId === "string") return taskId;
  if (typeof (body.encrypted_task_id ?? body.encryptedTaskId) === "string") {
    throw new AgentIdentityError(
      "agent task registration returned an encrypted task id, which codex-auth cannot decrypt; use codex with this Agent Identity",
    );
  }
  throw new AgentIdentityError("agent task registration response omitted task id");
}
