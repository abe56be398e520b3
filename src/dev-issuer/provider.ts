/**
 * The standard part of the issuer: oidc-provider configured like
 * auth.openai.com for the Codex client (authorization code + PKCE S256,
 * discovery, JWKS, RS256 ID tokens with OpenAI's claims, JWT access tokens
 * for the API audience, rotating refresh tokens, revocation).
 */
import { randomBytes } from "node:crypto";
import Provider, { type Configuration, type JWK, type KoaContextWithOIDC } from "oidc-provider";
import { CLIENT_ID } from "../oauth/constants.js";
import { errorPage } from "./html.js";
import type { IssuerStore } from "./store.js";
import {
  AUTH_NAMESPACE,
  accessTokenAuthClaims,
  idTokenAuthClaims,
  PROFILE_NAMESPACE,
  type ResolvedUser,
  type ResolvedWorkspace,
  type UserDirectory,
} from "./users.js";

/** Audience of access tokens, as in OpenAI's (`aud: ["https://api.openai.com/v1"]`). */
export const API_AUDIENCE = "https://api.openai.com/v1";
/** OIDC scopes Codex asks for. */
export const OIDC_SCOPES = "openid profile email offline_access";
/** API scopes Codex asks for (granted on {@link API_AUDIENCE}). */
export const API_SCOPES = "api.connectors.read api.connectors.invoke";
/** Authorize parameters Codex sends beyond standard OAuth. */
export const CODEX_EXTRA_PARAMS = [
  "id_token_add_organizations",
  "codex_cli_simplified_flow",
  "originator",
  "allowed_workspace_id",
];

const TEN_YEARS = 10 * 365 * 24 * 60 * 60;

/** Redirect URIs registered for the Codex client at this issuer. */
export function codexRedirectUris(issuer: string): string[] {
  return [
    "http://127.0.0.1:1455/auth/callback",
    "http://localhost:1455/auth/callback",
    "http://127.0.0.1:1457/auth/callback",
    "http://localhost:1457/auth/callback",
    `${issuer}/deviceauth/callback`,
  ];
}

export interface ProviderSettings {
  issuer: string;
  users: UserDirectory;
  store: IssuerStore;
  /** Which workspace each grant was consented for (`chatgpt_account_id` of its tokens). */
  grantWorkspaces: Map<string, string>;
  signingKey: JWK;
  accessTtlSeconds: number;
}

/** The user and workspace a token (or code) belongs to. */
export function subjectOf(
  settings: Pick<ProviderSettings, "users" | "grantWorkspaces">,
  accountId: string | undefined,
  grantId: string | undefined,
): { user: ResolvedUser; workspace: ResolvedWorkspace } | undefined {
  const user = accountId === undefined ? undefined : settings.users.bySub(accountId);
  if (!user) return undefined;
  const chosen = grantId === undefined ? undefined : settings.grantWorkspaces.get(grantId);
  const workspace = settings.users.workspaceOf(user, chosen) ?? user.workspaces[0]!;
  return { user, workspace };
}

/** Builds the oidc-provider instance. It prints nothing: every default that would warn is replaced. */
export function createProvider(settings: ProviderSettings): Provider {
  const { accessTtlSeconds } = settings;
  const configuration: Configuration = {
    adapter: settings.store.adapterFactory,
    clients: [
      {
        client_id: CLIENT_ID,
        client_name: "Codex CLI",
        application_type: "native",
        token_endpoint_auth_method: "none",
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        redirect_uris: codexRedirectUris(settings.issuer),
      },
    ],
    jwks: { keys: [settings.signingKey] },
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    pkce: { methods: ["S256"], required: () => true },
    scopes: OIDC_SCOPES.split(" "),
    claims: {
      openid: ["sub", AUTH_NAMESPACE],
      email: ["email", "email_verified", PROFILE_NAMESPACE],
      profile: ["name"],
    },
    // Codex reads the ChatGPT claims from the ID token of a code flow.
    conformIdTokenClaims: false,
    extraParams: CODEX_EXTRA_PARAMS,
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      userinfo: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => API_AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== API_AUDIENCE) throw new Error(`unknown resource ${resource}`);
          return {
            scope: API_SCOPES,
            audience: API_AUDIENCE,
            accessTokenTTL: accessTtlSeconds,
            accessTokenFormat: "jwt",
            jwt: { sign: { alg: "RS256" } },
          };
        },
      },
    },
    routes: {
      authorization: "/oauth/authorize",
      token: "/oauth/token",
      revocation: "/oauth/revoke",
      jwks: "/.well-known/jwks.json",
      end_session: "/oauth/logout",
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    // A grant is only reused from this interaction's consent: every sign-in
    // picks its workspace again (allowed_workspace_id may differ per request).
    loadExistingGrant: async (ctx: KoaContextWithOIDC) => {
      const grantId = ctx.oidc.result?.consent?.grantId;
      return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
    },
    // Codex never sends prompt=consent, so oidc-provider drops offline_access;
    // OpenAI issues refresh tokens regardless.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
    rotateRefreshToken: true,
    expiresWithSession: async () => false,
    ttl: {
      AccessToken: accessTtlSeconds,
      AuthorizationCode: 300,
      IdToken: 3600,
      // Refresh-token expiry is decided by the issuer's injectable clock (store.ts).
      RefreshToken: TEN_YEARS,
      Grant: TEN_YEARS,
      Interaction: 3600,
      Session: 24 * 3600,
    },
    extraTokenClaims: (_ctx, token) => {
      // Client-credentials tokens (never issued here) have no account.
      const { accountId, grantId } = token as { accountId?: string; grantId?: string };
      const subject = subjectOf(settings, accountId, grantId);
      if (!subject) return undefined;
      return {
        [AUTH_NAMESPACE]: accessTokenAuthClaims(subject.user, subject.workspace),
        [PROFILE_NAMESPACE]: { email: subject.user.email, email_verified: true },
      };
    },
    findAccount: (_ctx, sub, token) => {
      const subject = subjectOf(settings, sub, token?.grantId);
      if (!subject) return undefined;
      const { user, workspace } = subject;
      return {
        accountId: user.sub,
        claims: () => ({
          sub: user.sub,
          email: user.email,
          email_verified: true,
          name: user.name,
          [AUTH_NAMESPACE]: idTokenAuthClaims(user, workspace),
          [PROFILE_NAMESPACE]: { email: user.email, email_verified: true },
        }),
      };
    },
    clientBasedCORS: () => false,
    renderError: (ctx, out) => {
      ctx.type = "html";
      ctx.body = errorPage(
        "Sign-in could not be completed",
        out.error_description ? `${out.error}: ${out.error_description}` : out.error,
      );
    },
  };
  const provider = new Provider(settings.issuer, configuration);
  return provider;
}
