/**
 * OpenAI's dialect of `/oauth/token` and `/oauth/revoke`, in front of
 * oidc-provider:
 * - refresh requests arrive as JSON (`{"client_id","grant_type","refresh_reason","refresh_token"}`);
 * - a rotated, expired or revoked refresh token answers HTTP 401
 *   `{"error":{"code":"refresh_token_reused" | "refresh_token_expired" | "refresh_token_invalidated",…}}`
 *   and, unlike oidc-provider's reuse detection, does not revoke the tokens
 *   the rotation produced (a second process may still adopt them);
 * - the API-key token exchange Codex attempts after a browser sign-in;
 * - revocation takes a JSON body too.
 * Everything else (code redemption with PKCE, rotation, signing) is oidc-provider's.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { CLIENT_ID } from "../oauth/constants.js";
import { randomToken } from "../oauth/pkce.js";
import { type IssuerContext, type RequestNote, recordIssuedTokens, verifyIssuedJwt } from "./context.js";
import { withDeviceCallbackAsAddressed } from "./device.js";
import { openAiError, parseParams, readBody, replayWithForm, sendJson } from "./http.js";

/** The grant type of Codex's API-key exchange. */
export const TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token";

/** What oidc-provider answered a forwarded request: Koa's `ctx.status` and `ctx.body` once its endpoint ran. */
export interface ProviderAnswer {
  status: number;
  body: unknown;
}

/**
 * Hands a request to oidc-provider. `after`, if given, sees its answer before
 * it is written (from a `provider.use` middleware) and may replace it.
 */
export type Forward = (
  req: IncomingMessage,
  res: ServerResponse,
  after?: (answer: ProviderAnswer) => ProviderAnswer | undefined,
) => void;

// Codes and status as OpenAI sends them; only the `reused` message text is
// confirmed verbatim, the others are written in the same style.
const REFRESH_FAILURES = {
  reused: {
    code: "refresh_token_reused",
    // Verbatim from OpenAI's answer as seen in public Codex logs.
    message:
      "Your refresh token has already been used to generate a new access token. Please try signing in again.",
  },
  expired: {
    code: "refresh_token_expired",
    message: "Your refresh token has expired. Please try signing in again.",
  },
  revoked: {
    code: "refresh_token_invalidated",
    message: "Your refresh token has been invalidated. Please try signing in again.",
  },
  unknown: {
    code: "invalid_grant",
    message: "The refresh token is not known to this issuer. Please try signing in again.",
  },
} as const;

const OUTCOME_OF_STATE = { reused: "reused", expired: "expired", revoked: "invalidated", unknown: "unknown" };

/** Grant types are not secrets, but a client could send anything: keep the log line short. */
function loggableGrantType(value: string | undefined): string | undefined {
  return value === undefined ? undefined : value.slice(0, 80);
}

/** oidc-provider's standard error body (`{error, error_description}`); undefined for anything else (e.g. an HTML error page). */
function providerError(body: unknown): { error: string; error_description?: string } | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const { error, error_description } = body as { error?: unknown; error_description?: unknown };
  if (typeof error !== "string") return undefined;
  return typeof error_description === "string" ? { error, error_description } : { error };
}

/** `POST /oauth/token`. */
export async function handleToken(
  ctx: IssuerContext,
  req: IncomingMessage,
  res: ServerResponse,
  note: RequestNote,
  forward: Forward,
): Promise<void> {
  const params = parseParams(req, await readBody(req));
  const grantType = params.grant_type;
  const logged = loggableGrantType(grantType);
  if (logged !== undefined) note.grant_type = logged;

  if (grantType === "refresh_token") {
    await ctx.serialize(() => refresh(ctx, req, res, note, params, forward));
    return;
  }
  if (grantType === TOKEN_EXCHANGE_GRANT) {
    await apiKeyExchange(ctx, res, note, params);
    return;
  }
  // authorization_code and anything else: oidc-provider answers in standard OAuth.
  const standard = grantType === "authorization_code" ? withDeviceCallbackAsAddressed(ctx, params) : params;
  forward(replayWithForm(req, standard), res, ({ status, body }) => {
    note.outcome = status === 200 ? "issued" : (providerError(body)?.error ?? "error");
    if (status === 200) recordIssuedTokens(ctx, body);
    return undefined;
  });
}

async function refresh(
  ctx: IssuerContext,
  req: IncomingMessage,
  res: ServerResponse,
  note: RequestNote,
  params: Record<string, string>,
  forward: Forward,
): Promise<void> {
  const value = params.refresh_token;
  if (!value) {
    note.outcome = "invalid_request";
    sendJson(res, 400, openAiError("invalid_request", "refresh_token is required."));
    return;
  }
  const state = ctx.store.refreshTokenState(value);
  if (state !== "active") {
    note.outcome = OUTCOME_OF_STATE[state];
    const failure = REFRESH_FAILURES[state];
    sendJson(res, 401, openAiError(failure.code, failure.message));
    return;
  }
  // oidc-provider does the rotation; only the form of its errors changes.
  const { refresh_reason: _reason, ...standard } = params;
  await new Promise<void>((resolve) => {
    res.once("finish", resolve);
    res.once("close", resolve);
    forward(replayWithForm(req, standard), res, ({ status, body }) => {
      if (status === 200) {
        note.outcome = "rotated";
        recordIssuedTokens(ctx, body);
        return undefined;
      }
      const err = providerError(body);
      note.outcome = err?.error ?? "error";
      const code = err?.error ?? "server_error";
      return {
        status: code === "invalid_grant" ? 401 : status,
        body: openAiError(code, err?.error_description ?? "The refresh request failed."),
      };
    });
  });
}

/**
 * The API-key exchange (`requested_token=openai-api-key`, `subject_token` = the
 * ID token just issued): answers `{"access_token":"sk-dev-…"}`.
 */
async function apiKeyExchange(
  ctx: IssuerContext,
  res: ServerResponse,
  note: RequestNote,
  params: Record<string, string>,
): Promise<void> {
  if (params.client_id !== CLIENT_ID) {
    note.outcome = "invalid_client";
    sendJson(res, 401, openAiError("invalid_client", "Unknown client_id."));
    return;
  }
  if (params.requested_token !== "openai-api-key" || params.subject_token_type !== ID_TOKEN_TYPE) {
    note.outcome = "invalid_request";
    sendJson(
      res,
      400,
      openAiError(
        "invalid_request",
        "Only requested_token=openai-api-key with an id_token subject_token is supported.",
      ),
    );
    return;
  }
  const verified = await verifyIssuedJwt(ctx, params.subject_token, CLIENT_ID);
  if (!verified.ok) {
    note.outcome = `subject_token_${verified.reason}`;
    sendJson(res, 401, openAiError("invalid_subject_token", "The subject_token is not a valid ID token."));
    return;
  }
  note.outcome = "issued";
  const apiKey = `sk-dev-${randomToken(24)}`;
  ctx.backend.apiKeys.set(apiKey, { email: verified.user.email, workspaceId: verified.workspace.id });
  sendJson(res, 200, { access_token: apiKey, token_type: "Bearer" });
}

/** `POST /oauth/revoke`, JSON (as Codex sends it) or form. Always 200 for a well-formed request. */
export async function handleRevoke(
  ctx: IssuerContext,
  req: IncomingMessage,
  res: ServerResponse,
  note: RequestNote,
  forward: Forward,
): Promise<void> {
  const params = parseParams(req, await readBody(req));
  // Codex revokes an access token without client_id (when the record has no refresh token); OpenAI accepts that.
  if (params.client_id === undefined && params.token_type_hint === "access_token")
    params.client_id = CLIENT_ID;
  const state = params.token ? ctx.store.refreshTokenState(params.token) : "unknown";
  const noteOutcome = ({ status, body }: ProviderAnswer): undefined => {
    if (status !== 200) {
      note.outcome = providerError(body)?.error ?? "error";
    } else if (state === "active") {
      note.outcome = "revoked";
    } else {
      note.outcome = state === "unknown" ? "unknown_token" : `already_${OUTCOME_OF_STATE[state]}`;
    }
  };
  await ctx.serialize(
    () =>
      new Promise<void>((resolve) => {
        res.once("finish", resolve);
        res.once("close", resolve);
        forward(replayWithForm(req, params), res, noteOutcome);
      }),
  );
}
