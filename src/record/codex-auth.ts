/**
 * {@link CodexAuth}: one immutable snapshot of the credentials in effect, as
 * a union discriminated on `mode`. Pure: built from a record (or an API key
 * from the environment) without I/O; every field is present exactly where
 * the mode has it.
 */
import {
  ApiKeyMissingError,
  CredentialMissingError,
  NotLoggedInError,
  UnsupportedAuthModeError,
} from "../errors.js";
import { decodeAgentIdentityJwt } from "./agent-identity.js";
import {
  type AgentIdentityRecord,
  type AgentIdentityStorage,
  type AuthRecord,
  resolvedMode,
  type StoredTokens,
  serializeAuthRecordCompact,
} from "./auth-record.js";
import { type IdTokenInfo, parseIdToken } from "./claims.js";
import { jwtTimes } from "./jwt.js";
import { type PlanType, planTypeFromRaw } from "./plan.js";

/** Where the credentials in effect came from: the configured storage, `CODEX_API_KEY` or `CODEX_ACCESS_TOKEN`. */
export type CredentialSource = "storage" | "env:CODEX_API_KEY" | "env:CODEX_ACCESS_TOKEN";

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
  /** `last_refresh` in ms since the epoch (the local clock when the tokens arrived); undefined when absent. */
  readonly lastRefreshMs: number | undefined;
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

/**
 * What OpenAI's `whoami` endpoint says about a personal access token (Codex's
 * `PersonalAccessTokenMetadata`): the ChatGPT account it acts for.
 */
export interface PersonalAccessTokenMetadata {
  readonly email: string | undefined;
  readonly chatgptUserId: string;
  /** The ChatGPT workspace (`chatgpt_account_id`). */
  readonly chatgptAccountId: string;
  /** `chatgpt_plan_type` as sent. */
  readonly rawPlanType: string;
  readonly planType: PlanType;
  readonly fedramp: boolean;
}

/**
 * A personal access token (`at-…`, Codex's `personalAccessToken` mode), from
 * storage or from `CODEX_ACCESS_TOKEN`. It is itself the bearer credential;
 * the account it belongs to is known only after asking OpenAI
 * (`metadata`, filled by `checkPersonalAccessToken`).
 */
export interface PersonalAccessTokenAuth {
  readonly mode: "personalAccessToken";
  readonly source: "storage" | "env:CODEX_ACCESS_TOKEN";
  readonly accessToken: string;
  /** The stored record; undefined for a token from the environment. */
  readonly record: AuthRecord | undefined;
  /** The token's account, once checked with `whoami`; undefined before. */
  readonly metadata: PersonalAccessTokenMetadata | undefined;
}

/**
 * An Agent Identity (Codex's `agentIdentity` mode: `codex login
 * --with-access-token` with an Agent Identity JWT, or `CODEX_ACCESS_TOKEN`).
 * codex-auth reads and reports it; it is not a bearer token.
 */
export interface AgentIdentityAuth {
  readonly mode: "agentIdentity";
  readonly source: "storage" | "env:CODEX_ACCESS_TOKEN";
  /** The JWT, or the record Codex decoded from one. */
  readonly identity: AgentIdentityStorage;
  /** The stored record; undefined for a JWT from the environment. */
  readonly record: AuthRecord | undefined;
}

/** An Amazon Bedrock API key (written by Codex's app server). Not an OpenAI credential. */
export interface BedrockApiKeyAuth {
  readonly mode: "bedrockApiKey";
  readonly source: "storage";
  readonly apiKey: string;
  /** AWS region, e.g. `us-east-1`. */
  readonly region: string;
  readonly record: AuthRecord;
}

/** AWS access keys for Amazon Bedrock. Not an OpenAI credential. */
export interface BedrockAccessKeysAuth {
  readonly mode: "bedrockAccessKeys";
  readonly source: "storage";
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string | undefined;
  readonly record: AuthRecord;
}

/**
 * The credentials in effect. `switch (auth.mode)` narrows to the fields that
 * mode has. Every mode Codex 0.169 can load from storage has a variant;
 * `headers` (host-supplied headers) is never loaded from storage.
 */
export type CodexAuth =
  | ApiKeyAuth
  | ChatgptAuth
  | ChatgptAuthWithoutTokens
  | PersonalAccessTokenAuth
  | AgentIdentityAuth
  | BedrockApiKeyAuth
  | BedrockAccessKeysAuth;

/** API-key credentials from the environment (`CODEX_API_KEY`), not backed by storage. */
export function authFromApiKey(apiKey: string): ApiKeyAuth {
  return Object.freeze({ mode: "apikey", source: "env:CODEX_API_KEY", apiKey, record: undefined });
}

/** The prefix of Codex's `CODEX_ACCESS_TOKEN` / `--with-access-token` values that are personal access tokens. */
export const PERSONAL_ACCESS_TOKEN_PREFIX = "at-";

/**
 * The snapshot of a stored record, for the mode {@link resolvedMode} decides
 * (as Codex 0.169's `CodexAuth::from_auth_dot_json`). Pure: a personal
 * access token comes back without `metadata`.
 *
 * @param source names the record in errors (a path or keyring entry).
 * @throws {ApiKeyMissingError} `ERR_API_KEY_MISSING` when the record says `apikey` but holds no key.
 * @throws {CredentialMissingError} `ERR_CREDENTIAL_MISSING` when the record's mode names a credential
 *   the record does not hold (Codex's words, e.g. `personal access token auth is missing a personal access token.`).
 * @throws {UnsupportedAuthModeError} `ERR_UNSUPPORTED_AUTH_MODE` for `"auth_mode": "headers"` (Codex: host-supplied
 *   headers cannot be loaded from storage).
 * @throws {JwtMalformedError} when ChatGPT tokens carry an undecodable ID token (records from
 *   `parseAuthRecord` were checked already).
 */
export function authFromRecord(record: AuthRecord, source = "the stored record"): CodexAuth {
  const mode = resolvedMode(record);
  const missing = (codexWords: string, field: string) =>
    new CredentialMissingError(
      mode,
      `${codexWords} (${source} has "auth_mode": "${mode}" but no "${field}"; sign in again.)`,
    );
  switch (mode) {
    case "apikey":
      if (record.OPENAI_API_KEY === null) {
        throw new ApiKeyMissingError(
          `API key auth is missing a key. (${source} has "auth_mode": "apikey" but no "OPENAI_API_KEY"; sign in again.)`,
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
        lastRefreshMs: parseTimestamp(record.last_refresh),
      });
    }
    case "agentIdentity":
      if (record.agent_identity === undefined) {
        throw missing("agent identity auth is missing agent identity auth material.", "agent_identity");
      }
      return Object.freeze({ mode, source: "storage", identity: record.agent_identity, record });
    case "personalAccessToken":
      if (record.personal_access_token === undefined) {
        throw missing(
          "personal access token auth is missing a personal access token.",
          "personal_access_token",
        );
      }
      return Object.freeze({
        mode,
        source: "storage",
        accessToken: record.personal_access_token,
        record,
        metadata: undefined,
      });
    case "bedrockApiKey": {
      const key = record.bedrock_api_key;
      if (key === undefined) {
        throw missing("Bedrock API key auth is missing a Bedrock API key.", "bedrock_api_key");
      }
      return Object.freeze({ mode, source: "storage", apiKey: key.api_key, region: key.region, record });
    }
    case "bedrockAccessKeys": {
      const keys = record.bedrock_access_keys;
      if (keys === undefined) {
        throw missing("Bedrock access keys auth is missing AWS access keys.", "bedrock_access_keys");
      }
      return Object.freeze({
        mode,
        source: "storage",
        accessKeyId: keys.access_key_id,
        secretAccessKey: keys.secret_access_key,
        sessionToken: keys.session_token ?? undefined,
        record,
      });
    }
    case "headers":
      throw new UnsupportedAuthModeError(
        `externally provided auth cannot be loaded from auth storage. (${source} has "auth_mode": "headers", which only a host application supplies, in memory.)`,
      );
  }
}

/**
 * The credential in `CODEX_ACCESS_TOKEN` (or given to `login
 * --with-access-token`), classified as Codex does: `at-…` is a personal
 * access token, anything else an Agent Identity JWT.
 */
export function authFromAccessToken(
  token: string,
  source: "storage" | "env:CODEX_ACCESS_TOKEN" = "env:CODEX_ACCESS_TOKEN",
): PersonalAccessTokenAuth | AgentIdentityAuth {
  if (token.startsWith(PERSONAL_ACCESS_TOKEN_PREFIX)) {
    return Object.freeze({
      mode: "personalAccessToken",
      source,
      accessToken: token,
      record: undefined,
      metadata: undefined,
    });
  }
  return Object.freeze({ mode: "agentIdentity", source, identity: token, record: undefined });
}

/** The same personal access token with what `whoami` said about it. */
export function withPersonalAccessTokenMetadata(
  auth: PersonalAccessTokenAuth,
  metadata: PersonalAccessTokenMetadata,
): PersonalAccessTokenAuth {
  return Object.freeze({ ...auth, metadata: Object.freeze({ ...metadata }) });
}

/** True for credentials codex-auth refreshes and revokes: `chatgpt` mode with tokens. */
export function isManagedChatgpt(auth: CodexAuth | undefined): auth is ChatgptAuth & { mode: "chatgpt" } {
  return auth?.mode === "chatgpt" && auth.tokens !== undefined;
}

/**
 * The bearer credential to send, as Codex's `get_token`: the API key, the
 * ChatGPT access token, or the personal access token.
 *
 * @throws {NotLoggedInError} `ERR_NOT_LOGGED_IN` (Codex's `Token data is not available.`) for a ChatGPT record without tokens.
 * @throws {UnsupportedAuthModeError} `ERR_UNSUPPORTED_AUTH_MODE` for credentials that are not an OpenAI
 *   bearer token: an Agent Identity (it signs requests instead) and Amazon Bedrock keys.
 */
export function bearerToken(auth: CodexAuth): string {
  switch (auth.mode) {
    case "apikey":
      return auth.apiKey;
    case "chatgpt":
    case "chatgptAuthTokens":
      if (auth.tokens === undefined) throw new NotLoggedInError("Token data is not available.");
      return auth.tokens.access_token;
    case "personalAccessToken":
      return auth.accessToken;
    case "agentIdentity":
      throw new UnsupportedAuthModeError(
        "agent identity auth does not expose a bearer token: an Agent Identity signs each request with its own key, so there is no token to print.",
      );
    case "bedrockApiKey":
    case "bedrockAccessKeys":
      throw new UnsupportedAuthModeError(
        `Bedrock API key auth does not expose a Codex bearer token: the stored credential is ${
          auth.mode === "bedrockApiKey" ? "an Amazon Bedrock API key" : "a set of AWS access keys"
        } for Amazon Bedrock, not an OpenAI bearer token (codex-auth never calls Bedrock).`,
      );
  }
}

/**
 * The ChatGPT plan: `"unknown"` when ChatGPT credentials carry no plan claim;
 * for a personal access token, `whoami`'s plan (undefined before the check);
 * for an Agent Identity record, its `plan_type`; undefined for API keys and Bedrock.
 */
export function planTypeOf(auth: CodexAuth): PlanType | undefined {
  switch (auth.mode) {
    case "chatgpt":
    case "chatgptAuthTokens":
      return auth.tokens === undefined ? "unknown" : (auth.idToken.planType ?? "unknown");
    case "personalAccessToken":
      return auth.metadata?.planType;
    case "agentIdentity": {
      const record = agentRecordOf(auth);
      return record && planTypeFromRaw(record.plan_type);
    }
    default:
      return undefined;
  }
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
  if (a.mode === "personalAccessToken" && b.mode === "personalAccessToken") {
    if (a.accessToken !== b.accessToken) return false;
    if (JSON.stringify(a.metadata) !== JSON.stringify(b.metadata)) return false;
  }
  if (a.mode === "agentIdentity" && b.mode === "agentIdentity") {
    if (JSON.stringify(a.identity) !== JSON.stringify(b.identity)) return false;
  }
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
 * The ChatGPT workspace the credentials act for, as Codex's
 * `get_account_id`: `tokens.account_id`; a personal access token's (after
 * the `whoami` check); an Agent Identity record's `account_id`.
 */
export function workspaceIdOf(auth: CodexAuth | undefined): string | undefined {
  switch (auth?.mode) {
    case "chatgpt":
    case "chatgptAuthTokens":
      return accountIdOf(auth);
    case "personalAccessToken":
      return auth.metadata?.chatgptAccountId;
    case "agentIdentity":
      return agentRecordOf(auth)?.account_id;
    default:
      return undefined;
  }
}

/** An Agent Identity's record: the stored object, or the claims of its JWT (decoded, not verified); undefined for a JWT that does not decode. */
export function agentRecordOf(auth: AgentIdentityAuth): AgentIdentityRecord | undefined {
  if (typeof auth.identity !== "string") return auth.identity;
  try {
    return decodeAgentIdentityJwt(auth.identity).record;
  } catch {
    return undefined;
  }
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

function parseTimestamp(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}
