import { AuthFileMalformedError, JwtMalformedError } from "../errors.js";
import { parseIdToken, typeName } from "./claims.js";

/** `auth_mode` values Codex 0.169 accepts (case-sensitive). */
export const KNOWN_AUTH_MODES = [
  "apikey",
  "chatgpt",
  "chatgptAuthTokens",
  "headers",
  "agentIdentity",
  "personalAccessToken",
  "bedrockApiKey",
  "bedrockAccessKeys",
] as const;

/**
 * How a record authenticates (Codex's `AuthMode`). codex-auth signs in and
 * refreshes `apikey` and `chatgpt`, signs in with `personalAccessToken`, and
 * reads, reports and keeps the rest (see the README's list of auth modes).
 */
export type AuthMode = (typeof KNOWN_AUTH_MODES)[number];

/**
 * An Agent Identity stored in object form (Codex's `AgentIdentityAuthRecord`):
 * the agent runtime, its Ed25519 private key (PKCS#8, base64) and the ChatGPT
 * account it acts for. Codex writes it beside ChatGPT tokens after
 * registering an agent, or as the whole credential (`auth_mode:
 * "agentIdentity"`). Unknown fields are kept.
 */
export interface AgentIdentityRecord {
  agent_runtime_id: string;
  agent_private_key: string;
  account_id: string;
  chatgpt_user_id: string;
  /** Absent, null or `""` all mean "no email" to Codex. */
  email?: string | null;
  /** Any string (Codex maps unknown plans to `unknown`). */
  plan_type: string;
  chatgpt_account_is_fedramp: boolean;
  /** The registered task; absent until Codex registers one. */
  task_id?: string | null;
  [key: string]: unknown;
}

/** `agent_identity`: the raw Agent Identity JWT, or the record decoded from it. */
export type AgentIdentityStorage = string | AgentIdentityRecord;

/** `bedrock_api_key`: an Amazon Bedrock API key (Codex app server's `amazonBedrock` login). Unknown fields are kept. */
export interface BedrockApiKeyRecord {
  api_key: string;
  region: string;
  [key: string]: unknown;
}

/** `bedrock_access_keys`: AWS access keys for Amazon Bedrock. Unknown fields are kept. */
export interface BedrockAccessKeysRecord {
  access_key_id: string;
  secret_access_key: string;
  session_token?: string | null;
  [key: string]: unknown;
}

/** Where ChatGPT tokens came from (written by Codex 0.169 at login). */
export interface OAuthProvenance {
  issuer: string;
  client_id: string;
  [key: string]: unknown;
}

/** The `tokens` object of auth.json. Wire names are kept. */
export interface StoredTokens {
  id_token: string;
  access_token: string;
  refresh_token: string;
  account_id: string | null;
  oauth_provenance?: OAuthProvenance;
  login_owner_id?: string;
  /** Fields this version does not know; kept so a save never drops them. */
  extra?: Record<string, unknown>;
}

/**
 * The contents of auth.json (or of the keyring secret). Both shapes Codex
 * has written are read: with and without `auth_mode`, `tokens` and
 * `last_refresh` null or absent.
 */
export interface AuthRecord {
  auth_mode?: AuthMode;
  OPENAI_API_KEY: string | null;
  tokens?: StoredTokens;
  /** RFC 3339 timestamp of the last sign-in or refresh. */
  last_refresh?: string;
  /** An Agent Identity: the whole credential in `agentIdentity` mode, or one registered beside ChatGPT tokens. */
  agent_identity?: AgentIdentityStorage;
  /** A personal access token (`at-…`), written by `login --with-access-token` without `auth_mode`. */
  personal_access_token?: string;
  bedrock_api_key?: BedrockApiKeyRecord;
  bedrock_access_keys?: BedrockAccessKeysRecord;
  /** Top-level fields this version does not know; kept so a save never drops them. */
  extra?: Record<string, unknown>;
}

const TOP_LEVEL_KEYS = new Set([
  "auth_mode",
  "OPENAI_API_KEY",
  "tokens",
  "last_refresh",
  "agent_identity",
  "personal_access_token",
  "bedrock_api_key",
  "bedrock_access_keys",
]);
const TOKEN_KEYS = new Set([
  "id_token",
  "access_token",
  "refresh_token",
  "account_id",
  "oauth_provenance",
  "login_owner_id",
]);
// Codex parses `last_refresh` with chrono's relaxed RFC 3339: "T", "t" or a
// space between date and time, optional fraction, optional space before the
// offset, "Z"/"z" or ±hh:mm / ±hhmm; a leap second (:60) is accepted, an
// impossible calendar date (Feb 30, 24:00) is not.
/** What an `auth_mode` name looks like; only such a value is quoted back (never free text from the file). */
const MODE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,39}$/;
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)? ?(?:[Zz]|[+-](\d{2}):?(\d{2}))$/;

/**
 * The mode a record is used in, decided as Codex 0.169 decides it
 * (`AuthDotJson::resolved_mode`): an explicit `auth_mode` wins; else the
 * first credential present of `personal_access_token`, `bedrock_api_key`,
 * `bedrock_access_keys`, `OPENAI_API_KEY`; else `chatgpt` (also for a record
 * holding nothing, e.g. `{}`, as Codex does). An `agent_identity` alone does
 * not select `agentIdentity`: Codex keeps one beside ChatGPT tokens.
 */
export function resolvedMode(record: AuthRecord): AuthMode {
  if (record.auth_mode !== undefined) return record.auth_mode;
  if (record.personal_access_token !== undefined) return "personalAccessToken";
  if (record.bedrock_api_key !== undefined) return "bedrockApiKey";
  if (record.bedrock_access_keys !== undefined) return "bedrockAccessKeys";
  return record.OPENAI_API_KEY !== null ? "apikey" : "chatgpt";
}

/**
 * The `auth_mode` written for a record: its own; else the resolved mode when
 * that is `apikey` or `chatgpt` (SPEC: always written for those); else none,
 * as Codex writes personal-access-token and Bedrock records, so that older
 * Codex builds (which refuse an `auth_mode` they do not know) can still read
 * the file.
 */
export function writtenMode(record: AuthRecord): AuthMode | undefined {
  if (record.auth_mode !== undefined) return record.auth_mode;
  const mode = resolvedMode(record);
  return mode === "apikey" || mode === "chatgpt" ? mode : undefined;
}

/** True when `value` is an RFC 3339 timestamp as auth.json stores them. */
export function isRfc3339(value: string): boolean {
  const m = RFC3339.exec(value);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const offsetOk = m[7] === undefined || (Number(m[7]) < 24 && Number(m[8]) < 60);
  return (
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 60 &&
    offsetOk
  );
}

/** Line and column (1-based) of a character offset, for error messages. */
function lineColumn(text: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return `line ${line} column ${offset - lineStart + 1}`;
}

function jsonSyntaxProblem(text: string, err: unknown): string {
  if (text.trim() === "") return "the file is empty";
  const message = err instanceof Error ? err.message : String(err);
  const at = /at position (\d+)/.exec(message);
  if (at) return `invalid JSON at ${lineColumn(text, Number(at[1]))}`;
  if (/end of JSON input/i.test(message)) return "invalid JSON: the content ends too early (truncated?)";
  return "invalid JSON";
}

/**
 * Parses and validates an auth record. `source` names where it came from
 * (a path or a keyring description) and is used in errors. Validation
 * matches what Codex 0.169 refuses, so both programs agree on which files are
 * usable; error messages never quote values.
 *
 * @throws {AuthFileMalformedError}
 */
export function parseAuthRecord(text: string, source: string): AuthRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // The SyntaxError is not kept as `cause`: V8 quotes the text around the
    // error ("…_API_KEY":sk-proj-…"), which would put a secret into logs.
    throw new AuthFileMalformedError(source, jsonSyntaxProblem(text, err));
  }
  return validateAuthRecord(value, source);
}

/** Validates an already-parsed JSON value as an auth record. @throws {AuthFileMalformedError} */
export function validateAuthRecord(value: unknown, source: string): AuthRecord {
  const bad = (problem: string, cause?: unknown) =>
    new AuthFileMalformedError(source, problem, cause === undefined ? undefined : { cause });
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw bad(`expected a JSON object at the top level, found ${typeName(value)}`);
  }
  const obj = value as Record<string, unknown>;
  const record: AuthRecord = { OPENAI_API_KEY: null };

  const mode = obj.auth_mode;
  if (mode !== undefined && mode !== null) {
    if (typeof mode !== "string" || !(KNOWN_AUTH_MODES as readonly string[]).includes(mode)) {
      const shown = typeof mode === "string" && MODE_NAME.test(mode) ? mode : undefined;
      throw new AuthFileMalformedError(
        source,
        `"auth_mode" must be one of ${KNOWN_AUTH_MODES.map((m) => `"${m}"`).join(", ")}, found ${
          shown !== undefined
            ? `"${shown}" (a mode this version does not know, perhaps written by a newer Codex; it is reported, never guessed)`
            : typeName(mode)
        }`,
        { unknownAuthMode: shown },
      );
    }
    record.auth_mode = mode as AuthMode;
  }

  const key = obj.OPENAI_API_KEY;
  if (key !== undefined && key !== null) {
    if (typeof key !== "string")
      throw bad(`"OPENAI_API_KEY" must be a string or null, found ${typeName(key)}`);
    record.OPENAI_API_KEY = key;
  }

  const tokens = obj.tokens;
  if (tokens !== undefined && tokens !== null) record.tokens = validateTokens(tokens, bad);

  const lastRefresh = obj.last_refresh;
  if (lastRefresh !== undefined && lastRefresh !== null) {
    if (typeof lastRefresh !== "string" || !isRfc3339(lastRefresh)) {
      throw bad(`"last_refresh" must be an RFC 3339 timestamp, found ${typeName(lastRefresh)}`);
    }
    record.last_refresh = lastRefresh;
  }

  const agentIdentity = obj.agent_identity;
  if (agentIdentity !== undefined && agentIdentity !== null) {
    record.agent_identity = validateAgentIdentity(agentIdentity, bad);
  }
  const pat = obj.personal_access_token;
  if (pat !== undefined && pat !== null) {
    if (typeof pat !== "string")
      throw bad(`"personal_access_token" must be a string or null, found ${typeName(pat)}`);
    record.personal_access_token = pat;
  }
  const bedrockKey = obj.bedrock_api_key;
  if (bedrockKey !== undefined && bedrockKey !== null) {
    const o = fieldsObject(bedrockKey, "bedrock_api_key", bad);
    requireStrings(o, "bedrock_api_key", ["api_key", "region"], bad);
    record.bedrock_api_key = o as BedrockApiKeyRecord;
  }
  const accessKeys = obj.bedrock_access_keys;
  if (accessKeys !== undefined && accessKeys !== null) {
    const o = fieldsObject(accessKeys, "bedrock_access_keys", bad);
    requireStrings(o, "bedrock_access_keys", ["access_key_id", "secret_access_key"], bad);
    optionalStrings(o, "bedrock_access_keys", ["session_token"], bad);
    record.bedrock_access_keys = o as BedrockAccessKeysRecord;
  }

  const extra = pickExtra(obj, TOP_LEVEL_KEYS);
  if (extra) record.extra = extra;
  return record;
}

type Bad = (problem: string, cause?: unknown) => Error;

/** A copy of a JSON object field (own keys kept, `__proto__` included), or an error naming the field. */
function fieldsObject(value: unknown, field: string, bad: Bad): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw bad(`"${field}" must be an object or null, found ${typeName(value)}`);
  }
  const copy: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) setOwn(copy, k, v);
  return copy;
}

function requireStrings(
  obj: Record<string, unknown>,
  field: string,
  keys: readonly string[],
  bad: Bad,
): void {
  for (const key of keys) {
    if (typeof obj[key] !== "string") {
      throw bad(
        obj[key] === undefined ? `"${field}.${key}" is missing` : `"${field}.${key}" must be a string`,
      );
    }
  }
}

function optionalStrings(
  obj: Record<string, unknown>,
  field: string,
  keys: readonly string[],
  bad: Bad,
): void {
  for (const key of keys) {
    const v = obj[key];
    if (v !== undefined && v !== null && typeof v !== "string") {
      throw bad(`"${field}.${key}" must be a string or null, found ${typeName(v)}`);
    }
  }
}

/** `agent_identity` as Codex's untagged enum reads it: a JWT string, or the record object. */
function validateAgentIdentity(value: unknown, bad: Bad): AgentIdentityStorage {
  if (typeof value === "string") return value;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw bad(`"agent_identity" must be a JWT string, an object or null, found ${typeName(value)}`);
  }
  const o = fieldsObject(value, "agent_identity", bad);
  requireStrings(
    o,
    "agent_identity",
    ["agent_runtime_id", "agent_private_key", "account_id", "chatgpt_user_id"],
    bad,
  );
  optionalStrings(o, "agent_identity", ["email"], bad);
  requireStrings(o, "agent_identity", ["plan_type"], bad);
  if (typeof o.chatgpt_account_is_fedramp !== "boolean") {
    throw bad(
      o.chatgpt_account_is_fedramp === undefined
        ? `"agent_identity.chatgpt_account_is_fedramp" is missing`
        : `"agent_identity.chatgpt_account_is_fedramp" must be true or false`,
    );
  }
  optionalStrings(o, "agent_identity", ["task_id"], bad);
  return o as AgentIdentityRecord;
}

function validateTokens(value: unknown, bad: Bad): StoredTokens {
  if (typeof value !== "object" || Array.isArray(value) || value === null) {
    throw bad(`"tokens" must be an object or null, found ${typeName(value)}`);
  }
  const obj = value as Record<string, unknown>;
  for (const field of ["id_token", "access_token", "refresh_token"] as const) {
    if (typeof obj[field] !== "string") {
      throw bad(
        obj[field] === undefined ? `"tokens.${field}" is missing` : `"tokens.${field}" must be a string`,
      );
    }
  }
  try {
    parseIdToken(obj.id_token as string);
  } catch (err) {
    if (err instanceof JwtMalformedError)
      throw bad(`"tokens.id_token" is not a usable JWT: ${err.message}`, err);
    throw err;
  }
  const accountId = obj.account_id;
  if (accountId !== undefined && accountId !== null && typeof accountId !== "string") {
    throw bad(`"tokens.account_id" must be a string or null, found ${typeName(accountId)}`);
  }
  const tokens: StoredTokens = {
    id_token: obj.id_token as string,
    access_token: obj.access_token as string,
    refresh_token: obj.refresh_token as string,
    account_id: (accountId as string | null | undefined) ?? null,
  };
  const provenance = obj.oauth_provenance;
  if (provenance !== undefined && provenance !== null) {
    const p = provenance as Record<string, unknown>;
    if (typeof p !== "object" || typeof p.issuer !== "string" || typeof p.client_id !== "string") {
      throw bad(`"tokens.oauth_provenance" must be an object with string "issuer" and "client_id"`);
    }
    tokens.oauth_provenance = p as OAuthProvenance;
  }
  const owner = obj.login_owner_id;
  if (owner !== undefined && owner !== null) {
    if (typeof owner !== "string") throw bad(`"tokens.login_owner_id" must be a string`);
    tokens.login_owner_id = owner;
  }
  const extra = pickExtra(obj, TOKEN_KEYS);
  if (extra) tokens.extra = extra;
  return tokens;
}

function pickExtra(obj: Record<string, unknown>, known: Set<string>): Record<string, unknown> | undefined {
  let extra: Record<string, unknown> | undefined;
  for (const k of Object.keys(obj)) {
    if (known.has(k)) continue;
    extra ??= {};
    setOwn(extra, k, obj[k]);
  }
  return extra;
}

/**
 * Defines `key` as an own data property. Plain assignment would lose keys
 * that name Object.prototype members: `o.__proto__ = v` sets the prototype
 * instead of creating a field, so a user's `"__proto__"` field would vanish.
 */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * The JSON object written for a record, in the key order Codex 0.169 writes:
 * `auth_mode` ({@link writtenMode}: the record's own, else `apikey` or
 * `chatgpt` when resolved to those, else omitted), `OPENAI_API_KEY` (null
 * when absent), then `tokens`, `last_refresh`, `agent_identity`,
 * `personal_access_token`, `bedrock_api_key`, `bedrock_access_keys` only when
 * present, then any fields this version does not know.
 */
export function authRecordToJson(record: AuthRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const mode = writtenMode(record);
  if (mode !== undefined) out.auth_mode = mode;
  out.OPENAI_API_KEY = record.OPENAI_API_KEY;
  if (record.tokens) {
    const t = record.tokens;
    const tokens: Record<string, unknown> = {
      id_token: t.id_token,
      access_token: t.access_token,
      refresh_token: t.refresh_token,
    };
    if (t.oauth_provenance) tokens.oauth_provenance = t.oauth_provenance;
    if (t.login_owner_id !== undefined) tokens.login_owner_id = t.login_owner_id;
    for (const [k, v] of Object.entries(t.extra ?? {})) if (!Object.hasOwn(tokens, k)) setOwn(tokens, k, v);
    setOwn(tokens, "account_id", t.account_id);
    out.tokens = tokens;
  }
  if (record.last_refresh !== undefined) out.last_refresh = record.last_refresh;
  if (record.agent_identity !== undefined) out.agent_identity = record.agent_identity;
  if (record.personal_access_token !== undefined) out.personal_access_token = record.personal_access_token;
  if (record.bedrock_api_key !== undefined) out.bedrock_api_key = record.bedrock_api_key;
  if (record.bedrock_access_keys !== undefined) out.bedrock_access_keys = record.bedrock_access_keys;
  // hasOwn, not `in`: an unknown field named "constructor" or "toString" must survive too.
  for (const [k, v] of Object.entries(record.extra ?? {})) if (!Object.hasOwn(out, k)) setOwn(out, k, v);
  return out;
}

/** auth.json text: 2-space pretty JSON without a trailing newline, as Codex writes it. */
export function serializeAuthRecord(record: AuthRecord): string {
  return JSON.stringify(authRecordToJson(record), null, 2);
}

/** The compact JSON Codex stores as a keyring secret. */
export function serializeAuthRecordCompact(record: AuthRecord): string {
  return JSON.stringify(authRecordToJson(record));
}

/** An RFC 3339 UTC timestamp for `last_refresh`. */
export function nowRfc3339(now: Date = new Date()): string {
  return now.toISOString();
}
