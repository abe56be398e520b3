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

/** How a record authenticates. codex-auth manages `apikey` and `chatgpt`; the rest are read and kept. */
export type AuthMode = (typeof KNOWN_AUTH_MODES)[number];

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
  /** Top-level fields this version does not know; kept so a save never drops them. */
  extra?: Record<string, unknown>;
}

const TOP_LEVEL_KEYS = new Set(["auth_mode", "OPENAI_API_KEY", "tokens", "last_refresh"]);
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
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)? ?(?:[Zz]|[+-](\d{2}):?(\d{2}))$/;

/** The mode a record is used in: an explicit `auth_mode` wins, else a key means `apikey`, else `chatgpt`. */
export function resolvedMode(record: AuthRecord): AuthMode {
  return record.auth_mode ?? (record.OPENAI_API_KEY !== null ? "apikey" : "chatgpt");
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
      throw bad(
        `"auth_mode" must be one of ${KNOWN_AUTH_MODES.map((m) => `"${m}"`).join(", ")}, found ${
          typeof mode === "string" ? `"${mode.slice(0, 40)}"` : typeName(mode)
        }`,
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

  const extra = pickExtra(obj, TOP_LEVEL_KEYS);
  if (extra) record.extra = extra;
  return record;
}

function validateTokens(value: unknown, bad: (problem: string, cause?: unknown) => Error): StoredTokens {
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
 * `auth_mode` (always; resolved when the record had none), `OPENAI_API_KEY`
 * (null when absent), `tokens` and `last_refresh` only when present, then
 * any fields this version does not know.
 */
export function authRecordToJson(record: AuthRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {
    auth_mode: resolvedMode(record),
    OPENAI_API_KEY: record.OPENAI_API_KEY,
  };
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
