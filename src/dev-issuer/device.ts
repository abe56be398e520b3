/**
 * OpenAI's device-code sign-in, which is not RFC 8628: the CLI asks
 * `/api/accounts/deviceauth/usercode` for a code, a person approves it at
 * `/codex/device`, and the CLI's poll of `/api/accounts/deviceauth/token`
 * then returns an ordinary authorization code plus the PKCE verifier the
 * server made, which the CLI redeems at `/oauth/token` with
 * `redirect_uri=ISSUER/deviceauth/callback` (ISSUER as the client addressed it).
 */
import { randomInt } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { CLIENT_ID } from "../oauth/constants.js";
import { generatePkce, randomToken } from "../oauth/pkce.js";
import { type IssuerContext, mintAuthorizationCode, type RequestNote } from "./context.js";
import { deviceDonePage, devicePage } from "./html.js";
import { BadRequestError, openAiError, parseParams, readBody, sendHtml, sendJson } from "./http.js";
import type { ResolvedUser, ResolvedWorkspace } from "./users.js";

/** How long a user code stays valid (Codex says "expires in 15 minutes"). */
export const DEVICE_CODE_TTL_MS = 15 * 60 * 1000;

type DeviceStatus = "pending" | "approved" | "denied";

interface DeviceAuthorization {
  deviceAuthId: string;
  userCode: string;
  expiresAt: number;
  status: DeviceStatus;
  user?: ResolvedUser;
  workspace?: ResolvedWorkspace;
  /** Minted on the first successful poll, then answered again to later polls. */
  result?: { authorization_code: string; code_challenge: string; code_verifier: string };
}

// No 0/O, 1/I/L: codes are read off a terminal and typed by hand.
const CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";

function randomCode(length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return out;
}

/** Normalizes what a person typed: case, spaces and a missing dash. */
export function normalizeUserCode(input: string): string {
  const compact = input.toUpperCase().replace(/[^A-Z0-9]/g, "");
  return compact.length > 4 ? `${compact.slice(0, 4)}-${compact.slice(4)}` : compact;
}

/** Pending and finished device authorizations of one issuer. */
export class DeviceStore {
  private readonly byId = new Map<string, DeviceAuthorization>();
  private readonly byCode = new Map<string, DeviceAuthorization>();
  private readonly authorizationCodes = new Set<string>();

  constructor(private readonly now: () => number) {}

  create(): DeviceAuthorization {
    let userCode = `${randomCode(4)}-${randomCode(5)}`;
    while (this.byCode.has(userCode)) userCode = `${randomCode(4)}-${randomCode(5)}`;
    const auth: DeviceAuthorization = {
      deviceAuthId: `deviceauth_${randomToken(18)}`,
      userCode,
      expiresAt: this.now() + DEVICE_CODE_TTL_MS,
      status: "pending",
    };
    this.byId.set(auth.deviceAuthId, auth);
    this.byCode.set(userCode, auth);
    return auth;
  }

  byDeviceAuthId(id: string): DeviceAuthorization | undefined {
    return this.byId.get(id);
  }

  byUserCode(code: string): DeviceAuthorization | undefined {
    return this.byCode.get(normalizeUserCode(code));
  }

  isExpired(auth: DeviceAuthorization): boolean {
    return this.now() >= auth.expiresAt;
  }

  /** Records an authorization code this flow handed out. */
  rememberAuthorizationCode(code: string): void {
    this.authorizationCodes.add(code);
  }

  /** Whether `code` is an authorization code this flow handed out. */
  mintedAuthorizationCode(code: string): boolean {
    return this.authorizationCodes.has(code);
  }
}

/** The redirect URI device-flow codes are bound to: this issuer's own callback. */
export function deviceCallbackUri(issuer: string): string {
  return `${issuer}/deviceauth/callback`;
}

function isDeviceCallback(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return (
    (url.protocol === "http:" || url.protocol === "https:") &&
    url.username === "" &&
    url.password === "" &&
    url.search === "" &&
    url.hash === "" &&
    url.pathname.endsWith("/deviceauth/callback")
  );
}

/**
 * The parameters of a code redemption with the device callback named as the
 * client addressed this issuer. A client builds `redirect_uri` from the
 * issuer URL it was given (`http://localhost:PORT`, a reverse proxy in
 * front, …), which this issuer cannot reliably learn (a proxy may rewrite
 * Host), so for codes the device flow minted any `<origin>[/prefix]/deviceauth/callback`
 * stands for this issuer's own. That gives nothing away: no browser is ever
 * redirected to that URI; the code reaches the client in the poll answer
 * together with the PKCE verifier it is bound to, so the URI guards nothing
 * for these codes. Codes from `/oauth/authorize` keep oidc-provider's exact match.
 */
export function withDeviceCallbackAsAddressed(
  ctx: IssuerContext,
  params: Record<string, string>,
): Record<string, string> {
  const { code, redirect_uri: redirectUri } = params;
  if (code === undefined || redirectUri === undefined) return params;
  if (!ctx.devices.mintedAuthorizationCode(code) || !isDeviceCallback(redirectUri)) return params;
  return { ...params, redirect_uri: deviceCallbackUri(ctx.issuer) };
}

/** `POST /api/accounts/deviceauth/usercode` `{client_id}` → `{device_auth_id, user_code, interval}`. */
export async function handleUserCode(
  ctx: IssuerContext,
  req: IncomingMessage,
  res: ServerResponse,
  note: RequestNote,
  intervalSeconds: number,
): Promise<void> {
  const params = parseParams(req, await readBody(req));
  if (params.client_id !== CLIENT_ID) {
    note.outcome = "invalid_client";
    sendJson(res, 400, openAiError("invalid_client", "Unknown client_id."));
    return;
  }
  const auth = ctx.devices.create();
  if (ctx.autoApprove) {
    auth.status = "approved";
    auth.user = ctx.users.defaultUser;
    auth.workspace = ctx.users.defaultUser.workspaces[0];
  }
  note.outcome = ctx.autoApprove ? "issued+approved" : "issued";
  // `interval` is a string: Codex 0.169 refuses a JSON number.
  sendJson(res, 200, {
    device_auth_id: auth.deviceAuthId,
    user_code: auth.userCode,
    interval: String(intervalSeconds),
  });
}

/**
 * `POST /api/accounts/deviceauth/token` `{device_auth_id, user_code}`: 403 while
 * pending (Codex polls again on 403/404), then 200 with the authorization code.
 */
export async function handleDeviceToken(
  ctx: IssuerContext,
  req: IncomingMessage,
  res: ServerResponse,
  note: RequestNote,
): Promise<void> {
  const params = parseParams(req, await readBody(req));
  const auth = params.device_auth_id ? ctx.devices.byDeviceAuthId(params.device_auth_id) : undefined;
  if (!auth || normalizeUserCode(params.user_code ?? "") !== auth.userCode) {
    note.outcome = "unknown";
    sendJson(res, 404, openAiError("device_auth_not_found", "Unknown device authorization."));
    return;
  }
  if (auth.status === "denied") {
    note.outcome = "denied";
    sendJson(res, 401, openAiError("authorization_declined", "The sign-in request was declined."));
    return;
  }
  if (auth.status === "pending") {
    if (ctx.devices.isExpired(auth)) {
      note.outcome = "expired";
      sendJson(res, 400, openAiError("expired_token", "The device code has expired. Start again."));
      return;
    }
    note.outcome = "pending";
    sendJson(res, 403, openAiError("authorization_pending", "Waiting for the user to approve this code."));
    return;
  }
  if (!auth.result) {
    const { verifier, challenge } = generatePkce();
    const code = await mintAuthorizationCode(ctx, {
      user: auth.user!,
      workspace: auth.workspace!,
      redirectUri: deviceCallbackUri(ctx.issuer),
      codeChallenge: challenge,
    });
    ctx.devices.rememberAuthorizationCode(code);
    auth.result = { authorization_code: code, code_challenge: challenge, code_verifier: verifier };
  }
  note.outcome = "approved";
  sendJson(res, 200, auth.result);
}

/** `GET /codex/device`: the page where a person enters the code. */
export function handleDevicePage(ctx: IssuerContext, url: URL, res: ServerResponse, note: RequestNote): void {
  note.outcome = "shown";
  const userCode = url.searchParams.get("user_code") ?? undefined;
  sendHtml(res, 200, devicePage({ users: ctx.users.users, ...(userCode ? { userCode } : {}) }));
}

/** `POST /codex/device` (form): approve or deny a code as the chosen account and workspace. */
export async function handleDeviceDecision(
  ctx: IssuerContext,
  req: IncomingMessage,
  res: ServerResponse,
  note: RequestNote,
): Promise<void> {
  const params = parseParams(req, await readBody(req));
  const typed = params.user_code ?? "";
  const account = params.account ?? "";
  const again = (status: number, error: string, outcome: string): void => {
    note.outcome = outcome;
    sendHtml(res, status, devicePage({ users: ctx.users.users, userCode: typed, email: account, error }));
  };
  const auth = ctx.devices.byUserCode(typed);
  if (!auth) return again(400, "That code is not valid. Check the code in your terminal.", "invalid_code");
  if (auth.status !== "pending") return again(400, "That code was already used.", "already_used");
  if (ctx.devices.isExpired(auth))
    return again(400, "That code has expired. Start again in Codex.", "expired");
  if (params.action === "deny") {
    auth.status = "denied";
    note.outcome = "denied";
    sendHtml(res, 200, deviceDonePage(false));
    return;
  }
  if (params.action !== "approve") throw new BadRequestError("action must be approve or deny");
  const sep = account.lastIndexOf("|");
  const user = ctx.users.byEmail(sep < 0 ? account : account.slice(0, sep));
  const workspace = user && ctx.users.workspaceOf(user, sep < 0 ? undefined : account.slice(sep + 1));
  if (!user || !workspace) return again(400, "Choose an account and workspace.", "invalid_account");
  if (user.password !== undefined && params.password !== user.password) {
    return again(401, "Wrong password for that account.", "bad_password");
  }
  auth.status = "approved";
  auth.user = user;
  auth.workspace = workspace;
  note.outcome = "approved";
  sendHtml(res, 200, deviceDonePage(true));
}
