/**
 * {@link CodexAuth}: one immutable snapshot of the credentials in effect, as
 * a union discriminated on `mode`. Pure: built from a record (or an API key
 * from the environment) without I/O; every field is present exactly where
 * the mode has it.
 */
import { ApiKeyMissingError, NotLoggedInError, UnsupportedAuthModeError } from "../errors.js";
import {
  type AuthMode,
  type AuthRecord,
  resolvedMode,
  type StoredTokens,
  serializeAuthRecordCompact,
} from "./auth-record.js";
import { type IdTokenInfo, parseIdToken } from "./claims.js";
import { jwtTimes } from "./jwt.js";
import type { PlanType } from "./plan.js";

/** Where the credentials in effect came from: the configured storage, or `CODEX_API_KEY`. */
export type CredentialSource = "storage" | "env:CODEX_API_KEY";

/** An OpenAI API key. */
export interface ApiKeyAuth {
  readonly mode: "apikey";
  readonly source: CredentialSource;
  readonly apiKey: string;
  /** The stored record; undefined for a key from the environment. */
  readonly record: AuthRecord | undefined;
}

/**
 * ChatGPT tokens: `chatgpt` (managed: codex-auth refreshes and revokes them)
 * or `chatgptAuthTokens` (supplied and refreshed by a host application).
 */
export interface ChatgptAuth {
  readonly mode: "chatgpt" | "chatgptAuthTokens";
  readonly source: "storage";
  readonly record: AuthRecord & { tokens: StoredTokens };
  readonly tokens: StoredTokens;
  /** The ID token's claims, decoded once. */
  readonly idToken: IdTokenInfo;
  /** `tokens.account_id` (the ChatGPT workspace), when present. */
  readonly accountId: string | undefined;
  /** The access token's `exp` in ms since the epoch (the issuer's clock); undefined for an opaque token. */
  readonly accessTokenExpiresAtMs: number | undefined;
  /** The access token's `iat` in ms since the epoch (the issuer's clock); undefined when absent. */
  readonly accessTokenIssuedAtMs: number | undefined;
}

/**
 * A ChatGPT-mode record without tokens: Codex accepts such a file (e.g.
 * `{"OPENAI_API_KEY": null}`) as "Logged in using ChatGPT" and fails only
 * when the tokens are needed.
 */
export interface ChatgptAuthWithoutTokens {
  readonly mode: "chatgpt" | "chatgptAuthTokens";
  readonly source: "storage";
  readonly record: AuthRecord;
  readonly tokens: undefined;
}

/** Modes codex-auth reads and reports but does not use (agent identity, personal access tokens, Bedrock, …). */
export interface UnmanagedAuth {
  readonly mode: Exclude<AuthMode, "apikey" | "chatgpt" | "chatgptAuthTokens">;
  readonly source: "storage";
  readonly record: AuthRecord;
}

/** The credentials in effect. `switch (auth.mode)` narrows to the fields that mode has. */
export type CodexAuth = ApiKeyAuth | ChatgptAuth | ChatgptAuthWithoutTokens | UnmanagedAuth;

/** API-key credentials from the environment (`CODEX_API_KEY`), not backed by storage. */
export function authFromApiKey(apiKey: string): ApiKeyAuth {
  return Object.freeze({ mode: "apikey", source: "env:CODEX_API_KEY", apiKey, record: undefined });
}

/**
 * The snapshot of a stored record.
 *
 * @param source names the record in errors (a path or keyring entry).
 * @throws {ApiKeyMissingError} `ERR_API_KEY_MISSING` when the record says `apikey` but holds no key.
 * @throws {UnsupportedAuthModeError} `ERR_UNSUPPORTED_AUTH_MODE` for an agent-identity record without its material.
 * @throws {JwtMalformedError} when ChatGPT tokens carry an undecodable ID token (records from
 *   `parseAuthRecord` were checked already).
 */
export function authFromRecord(record: AuthRecord, source = "the stored record"): CodexAuth {
  const mode = resolvedMode(record);
  switch (mode) {
    case "apikey":
      if (record.OPENAI_API_KEY === null) {
        throw new ApiKeyMissingError(
          `API key auth is missing a key: ${source} has "auth_mode": "apikey" but no "OPENAI_API_KEY". Sign in again.`,
        );
      }
      return Object.freeze({ mode, source: "storage", apiKey: record.OPENAI_API_KEY, record });
    case "chatgpt":
    case "chatgptAuthTokens": {
      const tokens = record.tokens;
      if (!tokens) return Object.freeze({ mode, source: "storage", record, tokens: undefined });
      return Object.freeze({
        mode,
        source: "storage",
        record: record as AuthRecord & { tokens: StoredTokens },
        tokens,
        idToken: parseIdToken(tokens.id_token),
        accountId: tokens.account_id ?? undefined,
        ...accessTokenTimes(tokens.access_token),
      });
    }
    case "agentIdentity":
      if (typeof record.extra?.agent_identity !== "string") {
        throw new UnsupportedAuthModeError(
          `agent identity auth is missing agent identity auth material (${source} has "auth_mode": "agentIdentity" but no "agent_identity").`,
        );
      }
      return Object.freeze({ mode, source: "storage", record });
    default:
      return Object.freeze({ mode, source: "storage", record });
  }
}

/** True for credentials codex-auth refreshes and revokes: `chatgpt` mode with tokens. */
export function isManagedChatgpt(auth: CodexAuth | undefined): auth is ChatgptAuth & { mode: "chatgpt" } {
  return auth?.mode === "chatgpt" && auth.tokens !== undefined;
}

/**
 * The bearer credential to send: the API key, or the ChatGPT access token.
 *
 * @throws {NotLoggedInError} `ERR_NOT_LOGGED_IN` (Codex's `Token data is not available.`) for a ChatGPT record without tokens.
 * @throws {UnsupportedAuthModeError} `ERR_UNSUPPORTED_AUTH_MODE` for modes codex-auth does not use.
 */
export function bearerToken(auth: CodexAuth): string {
  switch (auth.mode) {
    case "apikey":
      return auth.apiKey;
    case "chatgpt":
    case "chatgptAuthTokens":
      if (auth.tokens === undefined) throw new NotLoggedInError("Token data is not available.");
      return auth.tokens.access_token;
    default:
      throw new UnsupportedAuthModeError(
        `codex-auth does not manage "${auth.mode}" credentials; use codex for them.`,
      );
  }
}

/** The ChatGPT plan: `"unknown"` when ChatGPT credentials carry no plan claim; undefined for other modes. */
export function planTypeOf(auth: CodexAuth): PlanType | undefined {
  if (auth.mode !== "chatgpt" && auth.mode !== "chatgptAuthTokens") return undefined;
  return auth.tokens === undefined ? "unknown" : (auth.idToken.planType ?? "unknown");
}

/**
 * Two snapshots hold the same credentials (same mode, same source, same
 * record). Records are compared as they would be stored, so a record built
 * in memory (say, by a refresh) equals the same record read back from
 * storage whatever the order or presence of its defaulted fields.
 */
export function sameCredentials(a: CodexAuth | undefined, b: CodexAuth | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  if (a.mode !== b.mode || a.source !== b.source) return false;
  if (a.mode === "apikey" && b.mode === "apikey" && a.apiKey !== b.apiKey) return false;
  if (a.record === b.record) return true;
  if (a.record === undefined || b.record === undefined) return false;
  return serializeAuthRecordCompact(a.record) === serializeAuthRecordCompact(b.record);
}

/** `tokens.account_id` of ChatGPT credentials (the workspace), else undefined. */
export function accountIdOf(auth: CodexAuth | undefined): string | undefined {
  if (auth?.mode !== "chatgpt" && auth?.mode !== "chatgptAuthTokens") return undefined;
  return auth.tokens?.account_id ?? undefined;
}

/**
 * Whether codex-auth can refresh these credentials: true for managed ChatGPT
 * tokens with a non-empty refresh token, false for managed ones without,
 * undefined where refreshing does not apply (API keys, host-managed tokens,
 * other modes).
 */
export function isRefreshable(auth: CodexAuth): boolean | undefined {
  if (!isManagedChatgpt(auth)) return auth.mode === "chatgpt" ? false : undefined;
  return auth.tokens.refresh_token.trim() !== "";
}

function accessTokenTimes(
  token: string,
): Pick<ChatgptAuth, "accessTokenExpiresAtMs" | "accessTokenIssuedAtMs"> {
  const { issuedAtMs, expiresAtMs } = jwtTimes(token);
  return { accessTokenExpiresAtMs: expiresAtMs, accessTokenIssuedAtMs: issuedAtMs };
}
