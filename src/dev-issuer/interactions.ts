/**
 * The sign-in and consent pages oidc-provider sends the browser to during
 * `/oauth/authorize` (`/interaction/:uid`), and the auto-approve shortcut
 * that signs the default user in without showing them.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { InteractionResults } from "oidc-provider";
import { createGrant, type IssuerContext, type RequestNote } from "./context.js";
import { consentPage, errorPage, loginPage, workspaceRestrictedPage } from "./html.js";
import { parseParams, readBody, sendHtml } from "./http.js";
import { API_SCOPES, OIDC_SCOPES } from "./provider.js";
import type { ResolvedUser, ResolvedWorkspace } from "./users.js";

type Interaction = Awaited<ReturnType<IssuerContext["provider"]["interactionDetails"]>>;

/** The workspaces `user` may sign in to under the request's `allowed_workspace_id` (comma-separated). */
export function allowedWorkspaces(user: ResolvedUser, interaction: Interaction): ResolvedWorkspace[] {
  const raw = interaction.params.allowed_workspace_id;
  if (typeof raw !== "string" || raw.trim() === "") return user.workspaces;
  const allowed = new Set(
    raw
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );
  return user.workspaces.filter((w) => allowed.has(w.id));
}

function allowedList(interaction: Interaction): string[] {
  const raw = interaction.params.allowed_workspace_id;
  return typeof raw === "string" ? raw.split(",").map((s) => s.trim()) : [];
}

function requestedScopes(interaction: Interaction): string[] {
  const raw = interaction.params.scope;
  return typeof raw === "string" ? raw.split(" ").filter(Boolean) : `${OIDC_SCOPES} ${API_SCOPES}`.split(" ");
}

async function finish(
  ctx: IssuerContext,
  req: IncomingMessage,
  res: ServerResponse,
  result: InteractionResults,
  merge = false,
): Promise<void> {
  await ctx.provider.interactionFinished(req, res, result, { mergeWithLastSubmission: merge });
}

async function details(ctx: IssuerContext, req: IncomingMessage, res: ServerResponse, note: RequestNote) {
  try {
    return await ctx.provider.interactionDetails(req, res);
  } catch {
    note.outcome = "interaction_not_found";
    sendHtml(
      res,
      400,
      errorPage(
        "Sign-in expired",
        "This sign-in page is no longer valid (or cookies are blocked). Start the sign-in again from Codex.",
      ),
    );
    return undefined;
  }
}

/** `GET /interaction/:uid`. */
export async function handleInteractionPage(
  ctx: IssuerContext,
  uid: string,
  req: IncomingMessage,
  res: ServerResponse,
  note: RequestNote,
): Promise<void> {
  const interaction = await details(ctx, req, res, note);
  if (!interaction) return;
  const base = `/interaction/${encodeURIComponent(uid)}`;
  if (ctx.autoApprove) {
    const user = ctx.users.defaultUser;
    const workspace = allowedWorkspaces(user, interaction)[0];
    if (!workspace) {
      note.outcome = "workspace_restricted";
      await finish(ctx, req, res, {
        error: "access_denied",
        error_description: `Login is restricted to workspace id(s) ${allowedList(interaction).join(", ")}; ${user.email} is not a member.`,
      });
      return;
    }
    const grantId = await createGrant(ctx, user, workspace);
    note.outcome = "auto_approved";
    await finish(ctx, req, res, { login: { accountId: user.sub }, consent: { grantId } });
    return;
  }
  if (interaction.prompt.name === "login") {
    note.outcome = "login_shown";
    sendHtml(
      res,
      200,
      loginPage({
        action: `${base}/login`,
        abortAction: `${base}/abort`,
        users: ctx.users.users,
        clientName: "Codex CLI",
      }),
    );
    return;
  }
  const user = interaction.session ? ctx.users.bySub(interaction.session.accountId) : undefined;
  if (!user) {
    note.outcome = "unknown_account";
    await finish(ctx, req, res, { error: "login_required", error_description: "Unknown account." });
    return;
  }
  const workspaces = allowedWorkspaces(user, interaction);
  if (workspaces.length === 0) {
    note.outcome = "workspace_restricted";
    sendHtml(
      res,
      403,
      workspaceRestrictedPage({
        loginAction: `${base}/login`,
        abortAction: `${base}/abort`,
        users: ctx.users.users,
        user,
        allowed: allowedList(interaction),
      }),
    );
    return;
  }
  note.outcome = "consent_shown";
  sendHtml(
    res,
    200,
    consentPage({
      action: `${base}/confirm`,
      abortAction: `${base}/abort`,
      clientName: "Codex CLI",
      user,
      workspaces,
      scopes: requestedScopes(interaction),
    }),
  );
}

/** `POST /interaction/:uid/login` (form: `email`, `password`). */
export async function handleInteractionLogin(
  ctx: IssuerContext,
  uid: string,
  req: IncomingMessage,
  res: ServerResponse,
  note: RequestNote,
): Promise<void> {
  const params = parseParams(req, await readBody(req));
  const interaction = await details(ctx, req, res, note);
  if (!interaction) return;
  const base = `/interaction/${encodeURIComponent(uid)}`;
  const user = ctx.users.byEmail(params.email ?? "");
  let problem: { status: number; outcome: string; message: string } | undefined;
  if (!user) problem = { status: 401, outcome: "unknown_account", message: "No such account." };
  else if (user.password !== undefined && params.password !== user.password) {
    problem = { status: 401, outcome: "bad_password", message: "Wrong password." };
  } else if (allowedWorkspaces(user, interaction).length === 0) {
    problem = {
      status: 403,
      outcome: "workspace_restricted",
      message: `This sign-in is restricted to workspace ${allowedList(interaction).join(", ")}, and ${user.email} is not a member of it.`,
    };
  }
  if (!user || problem) {
    note.outcome = problem?.outcome ?? "unknown_account";
    sendHtml(
      res,
      problem?.status ?? 401,
      loginPage({
        action: `${base}/login`,
        abortAction: `${base}/abort`,
        users: ctx.users.users,
        clientName: "Codex CLI",
        ...(params.email ? { email: params.email } : {}),
        error: problem?.message ?? "Sign-in failed.",
      }),
    );
    return;
  }
  note.outcome = "signed_in";
  await finish(ctx, req, res, { login: { accountId: user.sub } });
}

/** `POST /interaction/:uid/confirm` (form: `workspace`). */
export async function handleInteractionConfirm(
  ctx: IssuerContext,
  req: IncomingMessage,
  res: ServerResponse,
  note: RequestNote,
): Promise<void> {
  const params = parseParams(req, await readBody(req));
  const interaction = await details(ctx, req, res, note);
  if (!interaction) return;
  const user = interaction.session ? ctx.users.bySub(interaction.session.accountId) : undefined;
  const workspaces = user ? allowedWorkspaces(user, interaction) : [];
  const workspace = workspaces.find((w) => w.id === params.workspace) ?? workspaces[0];
  if (!user || !workspace || interaction.prompt.name !== "consent") {
    note.outcome = "invalid_consent";
    sendHtml(res, 400, errorPage("Sign-in could not be completed", "Nothing to consent to here."));
    return;
  }
  const grantId = await createGrant(ctx, user, workspace);
  note.outcome = "consented";
  await finish(ctx, req, res, { consent: { grantId } }, true);
}

/** `POST /interaction/:uid/abort`: the person cancelled; Codex gets `error=access_denied`. */
export async function handleInteractionAbort(
  ctx: IssuerContext,
  req: IncomingMessage,
  res: ServerResponse,
  note: RequestNote,
): Promise<void> {
  await readBody(req);
  const interaction = await details(ctx, req, res, note);
  if (!interaction) return;
  note.outcome = "denied";
  await finish(ctx, req, res, {
    error: "access_denied",
    error_description: "The user cancelled the sign-in.",
  });
}
