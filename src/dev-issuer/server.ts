/**
 * Starts the development issuer: one HTTP server on 127.0.0.1 that routes
 * OpenAI's non-standard endpoints to thin handlers and everything else
 * (authorize, discovery, JWKS, the standard token grants) to oidc-provider.
 */
import { createPublicKey, generateKeyPair, type KeyObject, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { promisify } from "node:util";
import type { JWK } from "oidc-provider";
import { CLIENT_ID } from "../oauth/constants.js";
import { generatePkce } from "../oauth/pkce.js";
import {
  AGENT_JWKS_PATHS,
  AgentIdentityStore,
  type IssuedAgentIdentity,
  TASK_REGISTER,
} from "./agent-identities.js";
import {
  handleAccountsCheck,
  handleConfigBundle,
  handleEcho,
  handleInstalledPlugins,
  handleUsage,
} from "./backend.js";
import { type IssuerContext, mintAuthorizationCode, type RequestNote } from "./context.js";
import {
  DeviceStore,
  deviceCallbackUri,
  handleDeviceDecision,
  handleDevicePage,
  handleDeviceToken,
  handleUserCode,
} from "./device.js";
import { deviceCallbackPage, indexPage } from "./html.js";
import { BadRequestError, openAiError, sendHtml, sendJson } from "./http.js";
import {
  handleInteractionAbort,
  handleInteractionConfirm,
  handleInteractionLogin,
  handleInteractionPage,
} from "./interactions.js";
import { handleWhoami, PersonalAccessTokenStore, WHOAMI_PATH } from "./personal-access-tokens.js";
import { createProvider } from "./provider.js";
import { IssuerStore } from "./store.js";
import { type Forward, handleRevoke, handleToken, type ProviderAnswer } from "./token.js";
import type { DevUser, ResolvedUser } from "./users.js";
import { UserDirectory } from "./users.js";

/** One handled request, as logged. Never holds a secret: no query strings, bodies or tokens. */
export interface RequestLogEntry {
  method: string;
  /** Path without the query; interaction ids are replaced by `:uid`. */
  path: string;
  /** `grant_type` of `/oauth/token` requests. */
  grant_type?: string;
  status: number;
  /**
   * What happened, e.g. `issued`, `rotated`, `reused`, `expired`, `invalidated`,
   * `revoked`, `pending`, `approved`, `denied`, `interaction`, `ok`, `not_found`.
   */
  outcome: string;
}

/** Options of {@link startDevIssuer}. */
export interface DevIssuerOptions {
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Who can sign in; the first is the default user. Default: {@link DEFAULT_DEV_USER}. */
  users?: DevUser[];
  /** Sign the default user in and approve every device code without showing pages. */
  autoApprove?: boolean;
  /** Access-token (and its `exp`) lifetime. Default 3600. */
  accessTtlSeconds?: number;
  /** Refresh-token lifetime, from each rotation. Default 30 days. */
  refreshTtlSeconds?: number;
  /** `interval` the device-code endpoint tells clients to poll at. Default 5. */
  deviceIntervalSeconds?: number;
  /**
   * Clock (epoch milliseconds) for refresh-token and device-code expiry, so
   * tests can move past an expiry without sleeping. Default `Date.now`. Token
   * claims (`iat`, `exp`) use the real clock.
   */
  now?: () => number;
  /** Called once per handled request, after the response is sent. */
  onRequest?: (entry: RequestLogEntry) => void;
  /** Called with unexpected errors (a handler bug); the client got HTTP 500. */
  onError?: (error: unknown) => void;
}

/** The token endpoint's answer, as Codex receives it. */
export interface IssuedTokens {
  id_token: string;
  access_token: string;
  refresh_token: string;
  expires_in: number;
  token_type: string;
  scope?: string;
}

/** A running development issuer. */
export interface DevIssuer {
  /** Base URL, `http://127.0.0.1:PORT` (the issuer; no trailing slash). */
  url: string;
  /** The OAuth client id it serves (Codex's). */
  clientId: string;
  /** Every handled request so far, oldest first. */
  requests: RequestLogEntry[];
  /** The users it knows, with defaults filled in. */
  users: readonly ResolvedUser[];
  /**
   * Signs a user in without a browser and redeems the code like Codex would:
   * handy for seeding an auth.json with tokens this issuer will refresh.
   * Goes through `/oauth/token` (logged like any request).
   *
   * @throws {Error} when the user or workspace is unknown.
   */
  issueTokens(opts?: { email?: string; workspaceId?: string }): Promise<IssuedTokens>;
  /**
   * Revokes every access token issued so far: the backend endpoints
   * (`wham/*`, `dev/echo`) answer 401 to them from now on, while their
   * refresh tokens still work — the situation a client's 401 recovery
   * handles. Returns how many were revoked.
   */
  revokeAccessTokens(): number;
  /**
   * Mints a personal access token (`at-…`) for a user (default: the first)
   * in a workspace (default: theirs), answered by `whoami` at
   * `<url>/api/accounts/v1/user-auth-credential/whoami` — point Codex there
   * with `CODEX_AUTHAPI_BASE_URL=<url>/api/accounts`.
   *
   * @throws {Error} when the user or workspace is unknown.
   */
  issuePersonalAccessToken(opts?: { email?: string; workspaceId?: string }): string;
  /** Revokes a personal access token (`whoami` then answers 401); true when it was known. */
  revokePersonalAccessToken(token: string): boolean;
  /**
   * Mints an Agent Identity JWT (RS256, signed with this issuer's key, with a
   * fresh Ed25519 key pair inside) for a user and workspace, valid for
   * `ttlSeconds` (default 3600). Codex verifies it with the JWKS at
   * `<url>/agent-identities/jwks` (`CODEX_AGENT_IDENTITY_JWKS_BASE_URL=<url>`)
   * and registers tasks at `CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL=<url>/api/accounts`.
   *
   * @throws {Error} when the user or workspace is unknown.
   */
  issueAgentIdentity(opts?: {
    email?: string;
    workspaceId?: string;
    ttlSeconds?: number;
  }): Promise<IssuedAgentIdentity>;
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
}

const DEFAULT_ACCESS_TTL = 3600;
const DEFAULT_REFRESH_TTL = 30 * 24 * 3600;

async function makeSigningKey(): Promise<{ jwk: JWK; publicKey: KeyObject }> {
  const { privateKey } = await promisify(generateKeyPair)("rsa", { modulusLength: 2048 });
  const jwk = privateKey.export({ format: "jwk" }) as JWK;
  return {
    jwk: { ...jwk, kid: randomUUID(), alg: "RS256", use: "sig" },
    publicKey: createPublicKey(privateKey),
  };
}

function checkSeconds(name: string, value: number | undefined, fallback: number): number {
  const seconds = value ?? fallback;
  if (!Number.isInteger(seconds) || seconds < 1) {
    throw new RangeError(`${name} must be a whole number of seconds ≥ 1, got ${seconds}`);
  }
  return seconds;
}

function logPath(pathname: string): string {
  return pathname
    .replace(/^\/interaction\/[^/]+/, "/interaction/:uid")
    .replace(/^\/oauth\/authorize\/[^/]+$/, "/oauth/authorize/:uid");
}

/** The outcome of a request oidc-provider answered, read off the response. */
function providerOutcome(path: string, res: ServerResponse): string {
  const status = res.statusCode;
  const location = res.getHeader("location");
  if (typeof location === "string" && status >= 300 && status < 400) {
    if (location.startsWith("/interaction/") || location.includes("/interaction/")) return "interaction";
    const query = new URL(location, "http://x").searchParams;
    if (query.has("code")) return "issued";
    if (query.has("error")) return query.get("error")!.slice(0, 60);
    return "redirect";
  }
  if (status === 404) return "not_found";
  if (status >= 400) return path.startsWith("/oauth/authorize") ? "error_page" : "error";
  return "ok";
}

/**
 * Starts a development issuer on 127.0.0.1: a stand-in for
 * https://auth.openai.com that speaks OpenAI's dialect to Codex and to
 * codex-auth (see SPEC §6b). State lives in memory and dies with it.
 *
 * @example
 * ```ts
 * const issuer = await startDevIssuer({ autoApprove: true });
 * // codex login --device-auth --experimental_issuer ${issuer.url}
 * await issuer.close();
 * ```
 * @throws {RangeError} for a bad TTL or port; the listen error when the port is taken.
 */
export async function startDevIssuer(options: DevIssuerOptions = {}): Promise<DevIssuer> {
  const accessTtlSeconds = checkSeconds("accessTtlSeconds", options.accessTtlSeconds, DEFAULT_ACCESS_TTL);
  const refreshTtlSeconds = checkSeconds("refreshTtlSeconds", options.refreshTtlSeconds, DEFAULT_REFRESH_TTL);
  const intervalSeconds = options.deviceIntervalSeconds ?? 5;
  if (!Number.isInteger(intervalSeconds) || intervalSeconds < 0) {
    throw new RangeError(`deviceIntervalSeconds must be a whole number ≥ 0, got ${intervalSeconds}`);
  }
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`invalid port ${port}`);
  const now = options.now ?? Date.now;
  const users = new UserDirectory(options.users);
  const { jwk, publicKey } = await makeSigningKey();

  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("issuer did not bind a TCP port");
  const issuer = `http://127.0.0.1:${address.port}`;

  const store = new IssuerStore(now, refreshTtlSeconds * 1000);
  const personalAccessTokens = new PersonalAccessTokenStore(users);
  const agentIdentities = new AgentIdentityStore(
    { privateJwk: jwk as Record<string, unknown>, kid: String(jwk.kid) },
    publicKey.export({ format: "jwk" }) as Record<string, unknown>,
  );
  const grantWorkspaces = new Map<string, string>();
  const provider = createProvider({
    issuer,
    users,
    store,
    grantWorkspaces,
    signingKey: jwk,
    accessTtlSeconds,
  });
  provider.on("server_error", (_ctx: unknown, err: unknown) => options.onError?.(err));
  // Handlers that asked to see (and perhaps replace) oidc-provider's answer to a request they forwarded.
  const answerHooks = new WeakMap<IncomingMessage, (answer: ProviderAnswer) => ProviderAnswer | undefined>();
  // Runs outside oidc-provider's own middleware, so its error handler has already turned errors into `ctx.body`.
  provider.use(async (koa, next) => {
    await next();
    const after = answerHooks.get(koa.req);
    const replaced = after?.({ status: koa.status, body: koa.body });
    if (replaced) {
      koa.body = replaced.body;
      koa.status = replaced.status;
    }
  });
  // After provider.use: Koa composes its middleware when the callback is made.
  const providerCallback = provider.callback();

  let queue: Promise<unknown> = Promise.resolve();
  const ctx: IssuerContext = {
    issuer,
    users,
    store,
    provider,
    devices: new DeviceStore(now),
    grantWorkspaces,
    publicKey,
    autoApprove: options.autoApprove === true,
    now,
    serialize<T>(task: () => Promise<T>): Promise<T> {
      const run = queue.then(task, task);
      queue = run.catch(() => undefined);
      return run;
    },
    backend: {
      accessTokens: new Map(),
      revokedAccessTokens: new Set(),
      apiKeys: new Map(),
      personalAccessTokens,
      requestsByWorkspace: new Map(),
      startedAtMs: now(),
    },
  };

  const requests: RequestLogEntry[] = [];
  const forward: Forward = (req, res, after) => {
    if (after) answerHooks.set(req, after);
    void providerCallback(req, res);
  };

  type Note = RequestNote & { forwarded?: boolean };

  async function route(req: IncomingMessage, res: ServerResponse, url: URL, note: Note): Promise<void> {
    const method = req.method ?? "GET";
    // A chatgpt_base_url written with a trailing slash yields `/backend-api//wham/…`.
    const path = url.pathname.replace(/\/{2,}/g, "/");
    const interaction = /^\/interaction\/([^/]+)(?:\/(login|confirm|abort))?$/.exec(path);
    if (method === "POST" && path === "/oauth/token") return handleToken(ctx, req, res, note, forward);
    if (method === "POST" && path === "/oauth/revoke") return handleRevoke(ctx, req, res, note, forward);
    if (method === "POST" && path === "/api/accounts/deviceauth/usercode") {
      return handleUserCode(ctx, req, res, note, intervalSeconds);
    }
    if (method === "POST" && path === "/api/accounts/deviceauth/token") {
      return handleDeviceToken(ctx, req, res, note);
    }
    if (path === "/codex/device") {
      if (method === "POST") return handleDeviceDecision(ctx, req, res, note);
      return handleDevicePage(ctx, url, res, note);
    }
    if (method === "GET" && path === "/deviceauth/callback") {
      note.outcome = "ok";
      return sendHtml(res, 200, deviceCallbackPage());
    }
    if (
      method === "GET" &&
      (path === "/backend-api/wham/accounts/check" || path === "/api/codex/accounts/check")
    ) {
      return handleAccountsCheck(ctx, req, res, note);
    }
    if (method === "GET" && path === WHOAMI_PATH) return handleWhoami(personalAccessTokens, req, res, note);
    if (method === "GET" && AGENT_JWKS_PATHS.includes(path)) {
      note.outcome = "ok";
      return sendJson(res, 200, agentIdentities.jwks());
    }
    const taskRegister = TASK_REGISTER.exec(path);
    if (method === "POST" && taskRegister) {
      return agentIdentities.handleRegister(decodeURIComponent(taskRegister[1]!), req, res, note, now());
    }
    if (method === "GET" && path === "/backend-api/ps/plugins/installed") {
      return handleInstalledPlugins(ctx, req, res, note);
    }
    if (
      method === "GET" &&
      (path === "/backend-api/wham/config/bundle" || path === "/api/codex/config/bundle")
    ) {
      return handleConfigBundle(ctx, req, res, note);
    }
    if (method === "GET" && (path === "/backend-api/wham/usage" || path === "/api/codex/usage")) {
      return handleUsage(ctx, req, res, note);
    }
    if (path === "/backend-api/dev/echo") return handleEcho(ctx, req, res, url, note);
    if (interaction) {
      const [, uid, action] = interaction;
      if (method === "GET" && !action) return handleInteractionPage(ctx, uid!, req, res, note);
      if (method === "POST" && action === "login") return handleInteractionLogin(ctx, uid!, req, res, note);
      if (method === "POST" && action === "confirm") return handleInteractionConfirm(ctx, req, res, note);
      if (method === "POST" && action === "abort") return handleInteractionAbort(ctx, req, res, note);
    }
    if (method === "GET" && path === "/") {
      note.outcome = "ok";
      return sendHtml(res, 200, indexPage(issuer, users.users, ctx.autoApprove));
    }
    note.forwarded = true;
    forward(req, res);
  }

  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", issuer);
    const note: Note = {};
    res.once("close", () => {
      if (note.outcome === undefined && note.forwarded) note.outcome = providerOutcome(url.pathname, res);
      const entry: RequestLogEntry = {
        method: req.method ?? "GET",
        path: logPath(url.pathname),
        ...(note.grant_type !== undefined ? { grant_type: note.grant_type } : {}),
        status: res.statusCode,
        outcome: note.outcome ?? (res.writableFinished ? "ok" : "aborted"),
      };
      requests.push(entry);
      options.onRequest?.(entry);
    });
    route(req, res, url, note).catch((err: unknown) => {
      if (err instanceof BadRequestError) {
        note.outcome = "bad_request";
        if (!res.headersSent) sendJson(res, err.status, openAiError("invalid_request", err.message));
        return;
      }
      note.outcome = "server_error";
      options.onError?.(err);
      if (!res.headersSent) sendJson(res, 500, openAiError("server_error", "The issuer failed."));
      else res.destroy();
    });
  });

  async function issueTokens(opts: { email?: string; workspaceId?: string } = {}): Promise<IssuedTokens> {
    const user = opts.email === undefined ? users.defaultUser : users.byEmail(opts.email);
    if (!user) throw new Error(`dev issuer: no user ${opts.email}`);
    const workspace = users.workspaceOf(user, opts.workspaceId);
    if (!workspace) throw new Error(`dev issuer: ${user.email} is not in workspace ${opts.workspaceId}`);
    const { verifier, challenge } = generatePkce();
    const redirectUri = deviceCallbackUri(issuer);
    const code = await mintAuthorizationCode(ctx, {
      user,
      workspace,
      redirectUri,
      codeChallenge: challenge,
    });
    const response = await fetch(`${issuer}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: CLIENT_ID,
        code,
        redirect_uri: redirectUri,
        code_verifier: verifier,
      }),
    });
    if (!response.ok) throw new Error(`dev issuer: code redemption failed with HTTP ${response.status}`);
    return (await response.json()) as IssuedTokens;
  }

  function issuePersonalAccessToken(opts: { email?: string; workspaceId?: string } = {}): string {
    const user = opts.email === undefined ? users.defaultUser : users.byEmail(opts.email);
    if (!user) throw new Error(`dev issuer: no user ${opts.email}`);
    const workspace = users.workspaceOf(user, opts.workspaceId);
    if (!workspace) throw new Error(`dev issuer: ${user.email} is not in workspace ${opts.workspaceId}`);
    return personalAccessTokens.issue(user, workspace);
  }

  return {
    url: issuer,
    clientId: CLIENT_ID,
    requests,
    users: users.users,
    issueTokens,
    revokeAccessTokens() {
      let revoked = 0;
      for (const jti of ctx.backend.accessTokens.keys()) {
        if (!ctx.backend.revokedAccessTokens.has(jti)) revoked++;
        ctx.backend.revokedAccessTokens.add(jti);
      }
      return revoked;
    },
    issuePersonalAccessToken,
    revokePersonalAccessToken: (token) => personalAccessTokens.revoke(token),
    issueAgentIdentity: async (opts = {}) => {
      const user = opts.email === undefined ? users.defaultUser : users.byEmail(opts.email);
      if (!user) throw new Error(`dev issuer: no user ${opts.email}`);
      const workspace = users.workspaceOf(user, opts.workspaceId);
      if (!workspace) throw new Error(`dev issuer: ${user.email} is not in workspace ${opts.workspaceId}`);
      return agentIdentities.issue(user, workspace, opts.ttlSeconds ?? 3600);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
