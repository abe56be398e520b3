/** What every endpoint of one running issuer shares. */
import type { KeyObject } from "node:crypto";
import { errors as joseErrors, jwtVerify } from "jose";
import type Provider from "oidc-provider";
import { CLIENT_ID } from "../oauth/constants.js";
import type { DeviceStore } from "./device.js";
import { API_AUDIENCE, API_SCOPES, OIDC_SCOPES, subjectOf } from "./provider.js";
import type { IssuerStore } from "./store.js";
import type { ResolvedUser, ResolvedWorkspace, UserDirectory } from "./users.js";

/** What a request handler records for the request log. */
export interface RequestNote {
  grant_type?: string;
  outcome?: string;
}

export interface IssuerContext {
  issuer: string;
  users: UserDirectory;
  store: IssuerStore;
  provider: Provider;
  devices: DeviceStore;
  grantWorkspaces: Map<string, string>;
  publicKey: KeyObject;
  autoApprove: boolean;
  now: () => number;
  /** Runs refresh-token grants one at a time, so a rotation is finished before the next one is judged. */
  serialize<T>(task: () => Promise<T>): Promise<T>;
  /** Backend state: issued access tokens, revocations, API keys, usage. */
  backend: BackendState;
}

/** What the issuer's stand-in ChatGPT backend keeps. */
export interface BackendState {
  /**
   * Every access token issued (by `jti`), with the refresh token issued
   * beside it: when that refresh token's grant is revoked (a logout), the
   * access token stops working too.
   */
  accessTokens: Map<string, string | undefined>;
  /** `jti`s revoked one by one (`DevIssuer.revokeAccessTokens`). */
  revokedAccessTokens: Set<string>;
  /** API keys minted by the API-key exchange, with the user (email) and workspace they act for. */
  apiKeys: Map<string, { email: string; workspaceId: string }>;
  /**
   * The personal access tokens (`at-…`) the issuer minted, with the user and
   * workspace each acts for: the backend takes them as bearers, as it takes
   * ChatGPT access tokens.
   */
  personalAccessTokens?: {
    lookup(token: string): { user: ResolvedUser; workspace: ResolvedWorkspace } | undefined;
  };
  /** Authenticated backend requests per workspace id: the dev `wham/usage` figures grow with them. */
  requestsByWorkspace: Map<string, number>;
  /** When the issuer started (injected clock, ms): the start of every usage window. */
  startedAtMs: number;
}

/**
 * Notes the access token of a successful token response (`jti` → the
 * refresh token issued with it), so the backend can tell revoked ones.
 */
export function recordIssuedTokens(ctx: IssuerContext, body: unknown): void {
  if (typeof body !== "object" || body === null) return;
  const { access_token, refresh_token } = body as { access_token?: unknown; refresh_token?: unknown };
  if (typeof access_token !== "string") return;
  try {
    const payload = JSON.parse(Buffer.from(access_token.split(".")[1] ?? "", "base64url").toString("utf8"));
    if (typeof payload?.jti === "string") {
      ctx.backend.accessTokens.set(
        payload.jti,
        typeof refresh_token === "string" ? refresh_token : undefined,
      );
    }
  } catch {
    // not one of our JWTs: nothing to note
  }
}

/** Creates a grant of everything Codex asks for, for `user` in `workspace`. */
export async function createGrant(
  ctx: IssuerContext,
  user: ResolvedUser,
  workspace: ResolvedWorkspace,
): Promise<string> {
  const grant = new ctx.provider.Grant({ accountId: user.sub, clientId: CLIENT_ID });
  grant.addOIDCScope(OIDC_SCOPES);
  grant.addResourceScope(API_AUDIENCE, API_SCOPES);
  const grantId = await grant.save();
  ctx.grantWorkspaces.set(grantId, workspace.id);
  return grantId;
}

/**
 * Issues an authorization code outside a browser (the device flow): the same
 * kind of code `/oauth/authorize` issues, bound to `redirectUri` and a PKCE
 * challenge, redeemable once at `/oauth/token`.
 */
export async function mintAuthorizationCode(
  ctx: IssuerContext,
  opts: { user: ResolvedUser; workspace: ResolvedWorkspace; redirectUri: string; codeChallenge: string },
): Promise<string> {
  const grantId = await createGrant(ctx, opts.user, opts.workspace);
  const client = await ctx.provider.Client.find(CLIENT_ID);
  if (!client) throw new Error("the Codex client is not registered");
  const code = new ctx.provider.AuthorizationCode({
    client,
    accountId: opts.user.sub,
    grantId,
    gty: "authorization_code",
    redirectUri: opts.redirectUri,
    scope: `${OIDC_SCOPES} ${API_SCOPES}`,
    resource: API_AUDIENCE,
    codeChallenge: opts.codeChallenge,
    codeChallengeMethod: "S256",
    authTime: Math.floor(Date.now() / 1000),
  });
  return code.save();
}

/** Why a bearer token was refused. */
export type TokenRejection = "missing" | "expired" | "invalid";

/**
 * Verifies a JWT this issuer signed (ID or access token) and finds its user
 * and workspace. `audience` is the expected `aud`.
 */
export async function verifyIssuedJwt(
  ctx: IssuerContext,
  token: string | undefined,
  audience: string,
): Promise<
  | { ok: true; user: ResolvedUser; workspace: ResolvedWorkspace; claims: Record<string, unknown> }
  | { ok: false; reason: TokenRejection }
> {
  if (!token) return { ok: false, reason: "missing" };
  try {
    const { payload } = await jwtVerify(token, ctx.publicKey, { issuer: ctx.issuer, audience });
    const auth = payload["https://api.openai.com/auth"] as Record<string, unknown> | undefined;
    const subject = subjectOf(ctx, payload.sub, undefined);
    if (!subject) return { ok: false, reason: "invalid" };
    const workspaceId = typeof auth?.chatgpt_account_id === "string" ? auth.chatgpt_account_id : undefined;
    const workspace = ctx.users.workspaceOf(subject.user, workspaceId) ?? subject.workspace;
    return { ok: true, user: subject.user, workspace, claims: payload };
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) return { ok: false, reason: "expired" };
    return { ok: false, reason: "invalid" };
  }
}
