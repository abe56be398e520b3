/**
 * The ChatGPT backend call Codex makes before it uses ChatGPT credentials:
 * `GET <chatgpt_base_url>/wham/accounts/check` (workspace routing discovery;
 * `account/read` in the app server fails without it). Codex 0.169 requires
 * `workspace_backend_origin` to be an https origin and
 * `account_routing_override` to be `NO_CONSTRAINT`, `us` or `us_cr`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type IssuerContext, type RequestNote, verifyIssuedJwt } from "./context.js";
import { sendJson } from "./http.js";
import { API_AUDIENCE } from "./provider.js";

/** What accounts/check answers as each workspace's backend origin (never contacted by the issuer). */
export const WORKSPACE_BACKEND_ORIGIN = "https://chatgpt.com";

async function authenticate(
  ctx: IssuerContext,
  req: IncomingMessage,
  res: ServerResponse,
  note: RequestNote,
) {
  const header = req.headers.authorization ?? "";
  const token = header.toLowerCase().startsWith("bearer ") ? header.slice(7).trim() : undefined;
  const verified = await verifyIssuedJwt(ctx, token, API_AUDIENCE);
  if (verified.ok) return verified;
  note.outcome = `unauthorized_${verified.reason}`;
  sendJson(res, 401, {
    detail:
      verified.reason === "expired"
        ? "Your authentication token has expired. Please try signing in again."
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
  const verified = await authenticate(ctx, req, res, note);
  if (!verified) return;
  const { user, workspace } = verified;
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
