/**
 * A stand-in for the ChatGPT backend (`chatgpt_base_url`):
 * - `GET …/wham/accounts/check`, which Codex calls before it uses ChatGPT
 *   credentials (workspace routing discovery; `account/read` in the app
 *   server fails without it). Codex 0.169 requires `workspace_backend_origin`
 *   to be an https origin and `account_routing_override` to be
 *   `NO_CONSTRAINT`, `us` or `us_cr`;
 * - `GET …/wham/usage` (`account/rateLimits/read`), with plausible figures
 *   that grow with the workspace's requests;
 * - `…/dev/echo`, any method: a protected endpoint for clients under test —
 *   it checks the bearer (an access token this issuer signed and nobody
 *   revoked, or an API key it minted) and answers what it received.
 *
 * A personal access token the issuer minted (and did not revoke) is a
 * bearer for the first two as well, acting for its workspace.
 *
 * Access tokens stop working when revoked one by one
 * (`DevIssuer.revokeAccessTokens`) or when the grant they came with is
 * revoked (a logout revoking the refresh token).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type IssuerContext, type RequestNote, verifyIssuedJwt } from "./context.js";
import { BadRequestError, readBody, sendJson } from "./http.js";
import { API_AUDIENCE } from "./provider.js";
import type { ResolvedUser, ResolvedWorkspace } from "./users.js";

/** What accounts/check answers as each workspace's backend origin (never contacted by the issuer). */
export const WORKSPACE_BACKEND_ORIGIN = "https://chatgpt.com";

/** Who a backend request acts for. */
interface Caller {
  user: ResolvedUser;
  workspace: ResolvedWorkspace;
  /** `access-token` (ChatGPT), `api-key` (minted by the API-key exchange) or `personal-access-token` (`at-…`). */
  kind: "access-token" | "api-key" | "personal-access-token";
}

function bearerOf(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization ?? "";
  return header.toLowerCase().startsWith("bearer ") ? header.slice(7).trim() : undefined;
}

/** Whether an access token was revoked, alone or with its grant. */
function accessTokenRevoked(ctx: IssuerContext, claims: Record<string, unknown>): boolean {
  const jti = typeof claims.jti === "string" ? claims.jti : undefined;
  if (jti === undefined) return false;
  if (ctx.backend.revokedAccessTokens.has(jti)) return true;
  const refreshToken = ctx.backend.accessTokens.get(jti);
  return refreshToken !== undefined && ctx.store.refreshTokenRevoked(refreshToken);
}

async function authenticate(
  ctx: IssuerContext,
  req: IncomingMessage,
  res: ServerResponse,
  note: RequestNote,
  accept: { apiKeys?: boolean } = {},
): Promise<Caller | undefined> {
  const token = bearerOf(req);
  const minted = token !== undefined && accept.apiKeys ? ctx.backend.apiKeys.get(token) : undefined;
  if (minted) {
    const user = ctx.users.byEmail(minted.email);
    const workspace = user && ctx.users.workspaceOf(user, minted.workspaceId);
    if (user && workspace) return { user, workspace, kind: "api-key" };
  }
  const pat = token?.startsWith("at-") ? ctx.backend.personalAccessTokens?.lookup(token) : undefined;
  if (pat) return { user: pat.user, workspace: pat.workspace, kind: "personal-access-token" };
  const verified = await verifyIssuedJwt(ctx, token, API_AUDIENCE);
  const revoked = verified.ok && accessTokenRevoked(ctx, verified.claims);
  if (verified.ok && !revoked)
    return { user: verified.user, workspace: verified.workspace, kind: "access-token" };
  const reason = verified.ok ? "revoked" : verified.reason;
  note.outcome = `unauthorized_${reason}`;
  sendJson(res, 401, {
    detail:
      reason === "expired"
        ? "Your authentication token has expired. Please try signing in again."
        : reason === "revoked"
          ? "Your authentication token has been invalidated. Please try signing in again."
          : "Could not parse your authentication token. Please try signing in again.",
  });
  return undefined;
}

/** `GET /backend-api/wham/accounts/check` with `Authorization: Bearer <access token>`. */
export async function handleAccountsCheck(
  ctx: IssuerContext,
  req: IncomingMessage,
  res: ServerResponse,
  note: RequestNote,
): Promise<void> {
  const caller = await authenticate(ctx, req, res, note);
  if (!caller) return;
  const { user, workspace } = caller;
  note.outcome = "ok";
  sendJson(res, 200, {
    accounts: user.workspaces.map((w) => ({
      id: w.id,
      name: w.name,
      profile_picture_url: null,
      structure: w.structure,
      plan_type: w.plan,
      workspace_backend_origin: WORKSPACE_BACKEND_ORIGIN,
      account_routing_override: "NO_CONSTRAINT",
    })),
    account_ordering: user.workspaces.map((w) => w.id),
    default_account_id: workspace.id,
  });
}

/**
 * `GET /backend-api/ps/plugins/installed`: the Codex 0.169 app server lists
 * remote plugins after sign-in; the dev issuer has none (an empty page, as
 * Codex's own tests mock it).
 */
export async function handleInstalledPlugins(
  ctx: IssuerContext,
  req: IncomingMessage,
  res: ServerResponse,
  note: RequestNote,
): Promise<void> {
  if (!(await authenticate(ctx, req, res, note))) return;
  note.outcome = "empty";
  sendJson(res, 200, { plugins: [], pagination: { limit: 50, next_page_token: null } });
}

/** The dev usage windows: 5 hours and a week, as ChatGPT plans have them. */
const PRIMARY_WINDOW_SECONDS = 5 * 3600;
const SECONDARY_WINDOW_SECONDS = 7 * 24 * 3600;

function usageWindow(ctx: IssuerContext, usedPercent: number, seconds: number) {
  const now = Math.floor(ctx.now() / 1000);
  const start = Math.floor(ctx.backend.startedAtMs / 1000);
  const resetAt = start + seconds * (Math.floor((now - start) / seconds) + 1);
  return {
    used_percent: usedPercent,
    limit_window_seconds: seconds,
    reset_after_seconds: resetAt - now,
    reset_at: resetAt,
  };
}

/**
 * `GET /backend-api/wham/usage` (and `/api/codex/usage`): the workspace's
 * rate limits in the backend's shape. The short window's use is one
 * percent per authenticated backend request of the workspace (`dev/echo`),
 * the week's a tenth of that; at 100 % requests count as refused
 * (`rate_limit_reached`).
 */
export async function handleUsage(
  ctx: IssuerContext,
  req: IncomingMessage,
  res: ServerResponse,
  note: RequestNote,
): Promise<void> {
  const caller = await authenticate(ctx, req, res, note);
  if (!caller) return;
  const { workspace } = caller;
  const requests = ctx.backend.requestsByWorkspace.get(workspace.id) ?? 0;
  const primary = Math.min(100, requests);
  const reached = primary >= 100;
  note.outcome = "ok";
  sendJson(res, 200, {
    plan_type: workspace.plan,
    account_id: workspace.id,
    rate_limit: {
      allowed: !reached,
      limit_reached: reached,
      primary_window: usageWindow(ctx, primary, PRIMARY_WINDOW_SECONDS),
      secondary_window: usageWindow(ctx, Math.min(100, Math.floor(requests / 10)), SECONDARY_WINDOW_SECONDS),
    },
    credits: { has_credits: false, unlimited: false, balance: "0" },
    additional_rate_limits: [],
    rate_limit_reached_type: reached ? { type: "rate_limit_reached" } : null,
  });
}

/**
 * `/backend-api/dev/echo`, any method: checks the bearer (an unrevoked
 * access token of this issuer, or an API key it minted) and a
 * `chatgpt-account-id` header, when sent, against the token's workspace;
 * answers `{ method, path, query, body, email, accountId, credential,
 * chatgptAccountId }` (the body as text, at most 64 KiB).
 */
export async function handleEcho(
  ctx: IssuerContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  note: RequestNote,
): Promise<void> {
  let body: string;
  try {
    body = await readBody(req);
  } catch (err) {
    if (err instanceof BadRequestError) throw err;
    throw new BadRequestError("request body could not be read");
  }
  const caller = await authenticate(ctx, req, res, note, { apiKeys: true });
  if (!caller) return;
  const header = req.headers["chatgpt-account-id"];
  const sentAccount = typeof header === "string" ? header : undefined;
  if (caller.kind === "access-token" && sentAccount !== undefined && sentAccount !== caller.workspace.id) {
    note.outcome = "workspace_mismatch";
    sendJson(res, 403, { detail: "The chatgpt-account-id header names another workspace than the token." });
    return;
  }
  const count = (ctx.backend.requestsByWorkspace.get(caller.workspace.id) ?? 0) + 1;
  ctx.backend.requestsByWorkspace.set(caller.workspace.id, count);
  note.outcome = "ok";
  sendJson(res, 200, {
    method: req.method ?? "GET",
    path: url.pathname,
    query: url.search,
    body,
    email: caller.user.email,
    accountId: caller.workspace.id,
    credential: caller.kind,
    chatgptAccountId: sentAccount ?? null,
  });
}

/**
 * `GET /backend-api/wham/config/bundle` (and `/api/codex/config/bundle`):
 * the workspace's cloud-delivered configuration, as configured in the users
 * file (`configBundle`); 404 for a workspace without one.
 */
export async function handleConfigBundle(
  ctx: IssuerContext,
  req: IncomingMessage,
  res: ServerResponse,
  note: RequestNote,
): Promise<void> {
  const caller = await authenticate(ctx, req, res, note);
  if (!caller) return;
  const bundle = caller.workspace.configBundle;
  if (bundle === undefined) {
    note.outcome = "none";
    sendJson(res, 404, { detail: "Not Found" });
    return;
  }
  const raw = bundle as { status?: unknown; text?: unknown };
  if (typeof raw.status === "number" && typeof raw.text === "string") {
    note.outcome = `status_${raw.status}`;
    res.writeHead(raw.status, { "content-type": "application/json" }).end(raw.text);
    return;
  }
  note.outcome = "ok";
  sendJson(res, 200, bundle);
}
