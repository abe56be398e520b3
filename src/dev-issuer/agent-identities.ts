/**
 * Agent Identities, as OpenAI serves them to Codex: identities minted here
 * (an Ed25519 key pair and a runtime id, wrapped in an RS256 JWT signed with
 * the issuer's key), the JWKS Codex verifies them with, and agent-task
 * registration (`POST /api/accounts/v1/agent/<runtime id>/task/register`,
 * body `{timestamp, signature}` signed with the identity's key). Point Codex
 * here with `CODEX_AGENT_IDENTITY_JWKS_BASE_URL=<issuer>` and
 * `CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL=<issuer>/api/accounts`.
 */
import { generateKeyPairSync, type KeyObject, randomBytes, verify } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { SignJWT } from "jose";
import type { RequestNote } from "./context.js";
import { readBody, sendJson } from "./http.js";
import type { ResolvedUser, ResolvedWorkspace } from "./users.js";

/** JWKS paths: under `CODEX_AGENT_IDENTITY_JWKS_BASE_URL=<issuer>`, and under `chatgpt_base_url=<issuer>/backend-api`. */
export const AGENT_JWKS_PATHS = ["/agent-identities/jwks", "/backend-api/wham/agent-identities/jwks"];
/** Task registration, under `CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL=<issuer>/api/accounts`. */
export const TASK_REGISTER = /^\/api\/accounts\/v1\/agent\/([^/]+)\/task\/register$/;

/** A minted Agent Identity: the JWT to hand to Codex, and its runtime id. */
export interface IssuedAgentIdentity {
  jwt: string;
  agentRuntimeId: string;
}

/** The identities one issuer minted (public keys only kept), in memory. */
export class AgentIdentityStore {
  private readonly runtimes = new Map<string, { publicKey: KeyObject; tasks: number }>();

  constructor(
    private readonly signingKey: { privateJwk: Record<string, unknown>; kid: string },
    private readonly publicJwk: Record<string, unknown>,
  ) {}

  /** The JWKS Codex fetches: the issuer's RS256 public key. */
  jwks(): { keys: Record<string, unknown>[] } {
    return { keys: [{ ...this.publicJwk, kid: this.signingKey.kid, alg: "RS256", use: "sig" }] };
  }

  async issue(
    user: ResolvedUser,
    workspace: ResolvedWorkspace,
    ttlSeconds: number,
  ): Promise<IssuedAgentIdentity> {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const agentRuntimeId = `agent_rt_${randomBytes(9).toString("base64url")}`;
    this.runtimes.set(agentRuntimeId, { publicKey, tasks: 0 });
    const { importJWK } = await import("jose");
    const key = await importJWK(this.signingKey.privateJwk as never, "RS256");
    const jwt = await new SignJWT({
      agent_runtime_id: agentRuntimeId,
      agent_private_key: privateKey.export({ format: "der", type: "pkcs8" }).toString("base64"),
      account_id: workspace.id,
      chatgpt_user_id: user.userId,
      email: user.email,
      plan_type: workspace.plan,
      chatgpt_account_is_fedramp: false,
    })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: this.signingKey.kid })
      .setIssuer("https://chatgpt.com/codex-backend/agent-identity")
      .setAudience("codex-app-server")
      .setIssuedAt()
      .setExpirationTime(`${ttlSeconds}s`)
      .sign(key);
    return { jwt, agentRuntimeId };
  }

  /**
   * `POST …/agent/<id>/task/register` `{timestamp, signature}`: 200
   * `{task_id}` when the Ed25519 signature of `<id>:<timestamp>` verifies and
   * the timestamp is within 5 minutes; 404 for an unknown runtime, 401 otherwise.
   */
  async handleRegister(
    runtimeId: string,
    req: IncomingMessage,
    res: ServerResponse,
    note: RequestNote,
    nowMs: number,
  ): Promise<void> {
    const runtime = this.runtimes.get(runtimeId);
    if (!runtime) {
      note.outcome = "unknown_agent";
      sendJson(res, 404, { error: { code: "agent_not_found", message: "Unknown agent runtime." } });
      return;
    }
    let body: { timestamp?: unknown; signature?: unknown } = {};
    try {
      body = JSON.parse(await readBody(req)) as typeof body;
    } catch {
      body = {};
    }
    const fresh =
      typeof body.timestamp === "string" && Math.abs(Date.parse(body.timestamp) - nowMs) <= 5 * 60_000;
    const signed =
      typeof body.signature === "string" &&
      typeof body.timestamp === "string" &&
      verify(
        null,
        Buffer.from(`${runtimeId}:${body.timestamp}`),
        runtime.publicKey,
        Buffer.from(body.signature, "base64"),
      );
    if (!fresh || !signed) {
      note.outcome = "bad_signature";
      sendJson(res, 401, {
        error: { code: "invalid_signature", message: "The agent signature is not valid." },
      });
      return;
    }
    runtime.tasks++;
    note.outcome = "registered";
    sendJson(res, 200, { task_id: `task_${randomBytes(9).toString("base64url")}` });
  }
}
