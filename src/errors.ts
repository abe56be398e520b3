/**
 * The closed set of errors codex-auth throws, in the shape of `jose`'s
 * errors: one class per code (or per family of codes), each with a
 * literal-typed `code`, so `instanceof` and `switch (err.code)` always agree.
 * Messages name the file or value that is wrong and what to do, and never
 * contain a secret; an HTTP status kept for debugging is non-enumerable.
 *
 * | code | class | meaning |
 * |---|---|---|
 * | `ERR_AUTH_FILE_MALFORMED` | {@link AuthFileMalformedError} | stored record is not a valid auth record |
 * | `ERR_AUTH_FILE_IO` | {@link StorageIoError} | the OS refused a read or write |
 * | `ERR_AUTH_FILE_READ_ONLY` | {@link AuthFileReadOnlyError} | auth.json has no owner-write bit |
 * | `ERR_LOCK_TIMEOUT` | {@link LockTimeoutError} | Codex's commit lock stayed held |
 * | `ERR_KEYRING_UNAVAILABLE` | {@link KeyringUnavailableError} | OS keyring unreachable or too slow |
 * | `ERR_SECRETS_KEY_MISSING` | {@link SecretsKeyMissingError} | Codex's encrypted store exists but its key is not in the keyring |
 * | `ERR_SECRETS_FILE_UNREADABLE` | {@link SecretsFileUnreadableError} | Codex's encrypted store cannot be decrypted or read |
 * | `ERR_SECRETS_FILE_VERSION` | {@link SecretsFileVersionError} | Codex's encrypted store was written by a newer version |
 * | `ERR_JWT_MALFORMED` | {@link JwtMalformedError} | a token is not a decodable JWT |
 * | `ERR_API_KEY_MISSING` | {@link ApiKeyMissingError} | `apikey` record without a key |
 * | `ERR_CREDENTIAL_MISSING` | {@link CredentialMissingError} | a record's mode names a credential it does not hold |
 * | `ERR_UNSUPPORTED_AUTH_MODE` | {@link UnsupportedAuthModeError} | credentials that cannot do what was asked (e.g. no bearer token) |
 * | `ERR_NOT_LOGGED_IN` | {@link NotLoggedInError} | no credentials where some are needed |
 * | `ERR_CONFIG_INVALID` | {@link ConfigError} | config.toml, `-c` or CODEX_HOME is invalid |
 * | `ERR_REQUIREMENTS_INVALID` | {@link RequirementsError} | the admin's requirements.toml is malformed, or leaves no login method |
 * | `ERR_CA_CERTIFICATE` | {@link CaCertificateError} | a custom CA file cannot be used |
 * | `ERR_NETWORK` | {@link NetworkError} | no HTTP answer (connect, TLS, proxy, timeout, abort) |
 * | `ERR_ACCOUNT_DETAILS` | {@link AccountDetailsError} | the ChatGPT backend did not describe the workspace |
 * | `ERR_INVALID_CREDENTIAL` | {@link InvalidCredentialError} | a credential given to a sign-in is refused before saving |
 * | `ERR_PERSONAL_ACCESS_TOKEN` | {@link PersonalAccessTokenError} | OpenAI could not confirm a personal access token |
 * | `ERR_LOGIN_RESTRICTED` | {@link LoginRestrictedError} | `forced_login_method` / workspace policy |
 * | `ERR_LOGIN_*`, `ERR_TOKEN_EXCHANGE`, `ERR_DEVICE_CODE_UNSUPPORTED`, `ERR_PORT_IN_USE` | {@link LoginError} | a sign-in did not complete |
 * | `ERR_REFRESH_*`, `ERR_ACCOUNT_CHANGED` | {@link RefreshTokenError} | a refresh failed (permanent or transient) |
 * | `ERR_REQUEST_BODY_NOT_REPLAYABLE` | {@link RequestBodyNotReplayableError} | an authenticated request's body cannot be kept for a retry |
 * | `ERR_BACKEND_STATUS`, `ERR_BACKEND_RESPONSE` | {@link BackendError} | the ChatGPT backend refused a request or answered something unreadable |
 * | `ERR_WORKSPACE_ROUTING` | {@link WorkspaceRoutingError} | `accounts/check` gave no usable routing for the workspace |
 * | `ERR_RATE_LIMITS` | {@link RateLimitsError} | the usage endpoint did not give the rate limits |
 * | `ERR_RPC_*` | {@link RpcRequestError} | the app server refused a JSON-RPC request |
 */

/** Codes of {@link LoginError}. */
export type LoginErrorCode =
  | "ERR_LOGIN_FAILED"
  | "ERR_LOGIN_CANCELLED"
  | "ERR_LOGIN_DENIED"
  | "ERR_LOGIN_EXPIRED"
  | "ERR_TOKEN_EXCHANGE"
  | "ERR_DEVICE_CODE_UNSUPPORTED"
  | "ERR_PORT_IN_USE";

/** Codes of {@link RefreshTokenError}. */
export type RefreshTokenErrorCode =
  | "ERR_REFRESH_TOKEN_EXPIRED"
  | "ERR_REFRESH_TOKEN_REUSED"
  | "ERR_REFRESH_TOKEN_REVOKED"
  | "ERR_REFRESH_TOKEN_FAILED"
  | "ERR_REFRESH_TRANSIENT"
  /** The issuer rotated the tokens but storage refused the new ones (they are kept in memory). */
  | "ERR_REFRESH_NOT_SAVED"
  | "ERR_ACCOUNT_CHANGED";

/** Codes of {@link RpcRequestError}. */
export type RpcRequestErrorCode =
  /** A request other than `initialize` came first. */
  | "ERR_RPC_NOT_INITIALIZED"
  /** A second `initialize`. */
  | "ERR_RPC_ALREADY_INITIALIZED"
  /** Parameters that do not fit the method's type (serde's words), or a method Codex does not know. */
  | "ERR_RPC_INVALID_REQUEST"
  /** A method Codex has that this server does not serve (outside the account area). */
  | "ERR_RPC_METHOD_NOT_FOUND"
  /** `account/login/cancel` with a login id that is not a UUID. */
  | "ERR_RPC_INVALID_LOGIN_ID"
  /** An experimental method or variant without `capabilities.experimentalApi`. */
  | "ERR_RPC_EXPERIMENTAL_API_REQUIRED"
  /** The method needs ChatGPT credentials and there are none. */
  | "ERR_RPC_AUTH_REQUIRED"
  /** The credentials do not fit the configured model provider (Amazon Bedrock keys outside `amazon-bedrock`). */
  | "ERR_RPC_PROVIDER_MISMATCH";

/** Every code a {@link CodexAuthError} can carry. */
export type CodexAuthErrorCode =
  | "ERR_AUTH_FILE_MALFORMED"
  | "ERR_AUTH_FILE_IO"
  | "ERR_AUTH_FILE_READ_ONLY"
  | "ERR_LOCK_TIMEOUT"
  | "ERR_KEYRING_UNAVAILABLE"
  | "ERR_SECRETS_KEY_MISSING"
  | "ERR_SECRETS_FILE_UNREADABLE"
  | "ERR_SECRETS_FILE_VERSION"
  | "ERR_JWT_MALFORMED"
  | "ERR_API_KEY_MISSING"
  | "ERR_CREDENTIAL_MISSING"
  | "ERR_UNSUPPORTED_AUTH_MODE"
  | "ERR_NOT_LOGGED_IN"
  | "ERR_CONFIG_INVALID"
  | "ERR_REQUIREMENTS_INVALID"
  | "ERR_CA_CERTIFICATE"
  | "ERR_NETWORK"
  | "ERR_PERSONAL_ACCESS_TOKEN"
  | "ERR_INVALID_CREDENTIAL"
  | "ERR_ACCOUNT_DETAILS"
  | "ERR_LOGIN_RESTRICTED"
  | "ERR_REQUEST_BODY_NOT_REPLAYABLE"
  | BackendErrorCode
  | "ERR_WORKSPACE_ROUTING"
  | "ERR_RATE_LIMITS"
  | "ERR_CLOUD_CONFIG_UNAVAILABLE"
  | LoginErrorCode
  | RefreshTokenErrorCode
  | RpcRequestErrorCode;

/**
 * Base class of every error codex-auth throws. Not constructed directly:
 * each subclass fixes its `code` (or its family of codes).
 */
export abstract class CodexAuthError extends Error {
  abstract readonly code: CodexAuthErrorCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** auth.json (or a keyring secret) holds something that is not a valid auth record. */
export class AuthFileMalformedError extends CodexAuthError {
  readonly code = "ERR_AUTH_FILE_MALFORMED";
  /** Where the bad record was read from (a path, or a keyring description). */
  readonly source: string;
  /**
   * The record's `auth_mode` when that is a mode name this version does not
   * know (a newer Codex may have written it), so callers can report it as an
   * unknown mode rather than guess one.
   */
  readonly unknownAuthMode: string | undefined;
  constructor(source: string, problem: string, options?: { cause?: unknown; unknownAuthMode?: string }) {
    super(
      `${source} is not a valid auth record: ${problem}. It was left unchanged; fix it, or move it aside and sign in again.`,
      options,
    );
    this.source = source;
    this.unknownAuthMode = options?.unknownAuthMode;
  }
}

/** Reading or writing credential storage failed at the operating-system level. */
export class StorageIoError extends CodexAuthError {
  readonly code = "ERR_AUTH_FILE_IO";
  readonly path: string;
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.path = path;
  }
}

/** An existing credential file has no owner-write bit; it was left unchanged (as Codex refuses too). */
export class AuthFileReadOnlyError extends CodexAuthError {
  readonly code = "ERR_AUTH_FILE_READ_ONLY";
  readonly path: string;
  constructor(path: string) {
    super(
      `credential file is read-only: ${path} has no owner-write permission, so it was left unchanged. Run \`chmod 600 ${path}\` to allow sign-in to replace it.`,
    );
    this.path = path;
  }
}

/** Codex's inner commit lock (`auth.json.lock`) stayed held past the bound. */
export class LockTimeoutError extends CodexAuthError {
  readonly code = "ERR_LOCK_TIMEOUT";
  readonly path: string;
  constructor(path: string, waitedMs: number) {
    super(
      `credential commit lock timed out: another process held ${path} for more than ${waitedMs / 1000} s. Try again; if it persists, look for a stuck codex or codex-auth process.`,
    );
    this.path = path;
  }
}

/** The OS keyring could not be reached, or did not answer in time. */
export class KeyringUnavailableError extends CodexAuthError {
  readonly code = "ERR_KEYRING_UNAVAILABLE";
}

/**
 * Codex's encrypted credential store (`CODEX_HOME/secrets/codex_auth.age`)
 * exists, but the keyring holds no key for it (service `codex`, account
 * `secrets|<16 hex>`). Nothing was written: no new key is made and the file
 * is left as it is, since a new key would make the credentials in it
 * unrecoverable. Restore the keyring item, or move the file aside and sign
 * in again.
 */
export class SecretsKeyMissingError extends CodexAuthError {
  readonly code = "ERR_SECRETS_KEY_MISSING";
  /** The encrypted file. */
  readonly path: string;
  constructor(path: string, keyringItem: string) {
    super(
      `${path} holds encrypted credentials, but the keyring has no key for it (${keyringItem}). It was left unchanged and no new key was made; restore that keyring item, or move the file aside and sign in again.`,
    );
    this.path = path;
  }
}

/** Why {@link SecretsFileUnreadableError} was thrown. */
export type SecretsFileProblem =
  /** Not an age file, or a damaged one. */
  | "format"
  /** The keyring's key does not open it (another key, or altered bytes). */
  | "key"
  /** An scrypt work factor above what codex-auth accepts (2^22). */
  | "work-factor"
  /** Decrypted, but not Codex's `{"version", "secrets"}` JSON. */
  | "contents";

/**
 * Codex's encrypted credential store cannot be read: not age, a key that
 * does not open it, or contents that are not Codex's secrets JSON. The file
 * is never rewritten or removed because of it.
 */
export class SecretsFileUnreadableError extends CodexAuthError {
  readonly code = "ERR_SECRETS_FILE_UNREADABLE";
  readonly path: string;
  readonly problem: SecretsFileProblem;
  constructor(path: string, problem: SecretsFileProblem, detail: string, options?: { cause?: unknown }) {
    super(
      `${path} (encrypted credentials) cannot be read: ${detail}. It was left unchanged; move it aside and sign in again if it cannot be restored.`,
      options,
    );
    this.path = path;
    this.problem = problem;
  }
}

/** Codex's encrypted credential store has a `version` newer than 1 (written by a newer Codex); left unchanged. */
export class SecretsFileVersionError extends CodexAuthError {
  readonly code = "ERR_SECRETS_FILE_VERSION";
  readonly path: string;
  /** The version the file declares. */
  readonly version: number;
  constructor(path: string, version: number, supported: number) {
    super(
      `${path} (encrypted credentials) is version ${version}, newer than the supported version ${supported}. It was left unchanged; use the Codex that wrote it, or a newer codex-auth.`,
    );
    this.path = path;
    this.version = version;
  }
}

/** A JWT in the record is not `header.payload.signature` with a JSON payload. */
export class JwtMalformedError extends CodexAuthError {
  readonly code = "ERR_JWT_MALFORMED";
}

/** A record says `"auth_mode": "apikey"` but holds no `OPENAI_API_KEY`. */
export class ApiKeyMissingError extends CodexAuthError {
  readonly code = "ERR_API_KEY_MISSING";
}

/**
 * A record's `auth_mode` names a credential the record does not hold (e.g.
 * `"personalAccessToken"` without `personal_access_token`). The message starts
 * with Codex 0.169's words for it.
 */
export class CredentialMissingError extends CodexAuthError {
  readonly code = "ERR_CREDENTIAL_MISSING";
  /** The mode whose credential is missing. */
  readonly mode: string;
  constructor(mode: string, message: string) {
    super(message);
    this.mode = mode;
  }
}

/**
 * Credentials that cannot do what was asked: an Agent Identity or Amazon
 * Bedrock keys have no bearer token to hand out; host-supplied `headers`
 * cannot be loaded from storage.
 */
export class UnsupportedAuthModeError extends CodexAuthError {
  readonly code = "ERR_UNSUPPORTED_AUTH_MODE";
}

/** No credentials (or no tokens) where the operation needs them. */
export class NotLoggedInError extends CodexAuthError {
  readonly code = "ERR_NOT_LOGGED_IN";
}

/**
 * config.toml, a `-c` override or `CODEX_HOME` is invalid. `override` is
 * true when a `-c` override itself cannot be parsed (Codex then says
 * `Error parsing -c overrides: …` rather than `Error loading configuration: …`).
 */
export class ConfigError extends CodexAuthError {
  readonly code = "ERR_CONFIG_INVALID";
  readonly override: boolean;
  constructor(message: string, options?: { cause?: unknown; override?: boolean }) {
    super(message, options);
    this.override = options?.override ?? false;
  }
}

/**
 * The administrator's managed requirements (`/etc/codex/requirements.toml`)
 * cannot be applied: the file is unreadable or malformed (`reason`
 * `malformed`, `path` set), or, merged with the configuration, they allow
 * no login method at all (`no-login-method`). Codex 0.169 refuses to start
 * in both cases; so does every codex-auth entry point, and credentials are
 * never touched. Permanent until the administrator or the user changes a file.
 */
export class RequirementsError extends CodexAuthError {
  readonly code = "ERR_REQUIREMENTS_INVALID";
  /** What is wrong. */
  readonly reason: "malformed" | "no-login-method";
  /** The requirements file at fault (for `malformed`). */
  readonly path: string | undefined;
  constructor(
    reason: "malformed" | "no-login-method",
    message: string,
    options?: { path?: string; cause?: unknown },
  ) {
    super(message, options);
    this.reason = reason;
    this.path = options?.path;
  }
}

/** A custom CA bundle (`CODEX_CA_CERTIFICATE`, `SSL_CERT_FILE`) is missing, unreadable or holds no certificate. */
export class CaCertificateError extends CodexAuthError {
  readonly code = "ERR_CA_CERTIFICATE";
  /** The file that could not be used. */
  readonly path: string;
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.path = path;
  }
}

/** Why a request got no HTTP answer. */
export type NetworkFailure = "timeout" | "aborted" | "connect";

/**
 * A request to the issuer or backend got no HTTP answer: the connection,
 * TLS or proxy failed, the timeout passed, or the caller aborted.
 */
export class NetworkError extends CodexAuthError {
  readonly code = "ERR_NETWORK";
  readonly reason: NetworkFailure;
  /** The URL requested (never carries a secret: credentials travel in bodies and headers). */
  readonly url: string;
  constructor(url: string, reason: NetworkFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.url = url;
    this.reason = reason;
  }
}

/**
 * Why a personal access token could not be confirmed: no HTTP answer
 * (`network`), an answer other than 2xx (`status`: expired, revoked or
 * unknown tokens get 401), or an answer that is not the expected JSON
 * (`response`).
 */
export type PersonalAccessTokenFailure = "network" | "status" | "response";

/**
 * OpenAI's `whoami` did not confirm a personal access token, so Codex (and
 * codex-auth) cannot use it. Messages are Codex 0.169's (`personal access
 * token metadata request failed with status 401 Unauthorized`); the HTTP
 * status is kept non-enumerable.
 */
export class PersonalAccessTokenError extends CodexAuthError {
  readonly code = "ERR_PERSONAL_ACCESS_TOKEN";
  readonly reason: PersonalAccessTokenFailure;
  declare readonly status: number | undefined;
  constructor(
    reason: PersonalAccessTokenFailure,
    message: string,
    options?: { cause?: unknown; status?: number },
  ) {
    super(message, { cause: options?.cause });
    this.reason = reason;
    Object.defineProperty(this, "status", { value: options?.status, enumerable: false });
  }
}

/**
 * The ChatGPT backend's `accounts/check` did not describe the workspace
 * (Codex 0.169's `workspace routing discovery failed`, `… missing backend
 * origin`, `selected workspace missing from routing discovery`). Transient
 * or not, the credentials themselves are untouched.
 */
export class AccountDetailsError extends CodexAuthError {
  readonly code = "ERR_ACCOUNT_DETAILS";
}

/**
 * A credential handed to a sign-in was refused before anything was saved
 * (an empty Amazon Bedrock key, a region Codex does not support), in Codex
 * 0.169's words. Never quotes the credential.
 */
export class InvalidCredentialError extends CodexAuthError {
  readonly code = "ERR_INVALID_CREDENTIAL";
}

/** A login restriction from config.toml (`forced_login_method`, `forced_chatgpt_workspace_id`) was violated. */
export class LoginRestrictedError extends CodexAuthError {
  readonly code = "ERR_LOGIN_RESTRICTED";
}

/**
 * A sign-in flow did not complete; nothing was saved and earlier credentials
 * are untouched. `transient` is true for a step that failed without a
 * definite answer (no connection, a timeout, 5xx, 429) and may succeed when
 * repeated; `retryAfterMs` is the wait the server asked for, if any.
 */
export class LoginError extends CodexAuthError {
  readonly code: LoginErrorCode;
  readonly transient: boolean;
  declare readonly retryAfterMs: number | undefined;
  constructor(
    code: LoginErrorCode,
    message: string,
    options?: { cause?: unknown; transient?: boolean; retryAfterMs?: number },
  ) {
    super(message, options);
    this.code = code;
    this.transient = options?.transient ?? false;
    Object.defineProperty(this, "retryAfterMs", { value: options?.retryAfterMs, enumerable: false });
  }
}

/**
 * Why a refresh failed for good: the issuer said the refresh token expired,
 * was already used (`exhausted`) or revoked; the record holds none
 * (`missing`, decided locally); or anything else permanent (`other`).
 */
export type RefreshTokenFailedReason = "expired" | "exhausted" | "revoked" | "missing" | "other";

/**
 * A token refresh failed. `permanent` failures need a new sign-in; transient
 * ones may succeed on retry. The HTTP status, when there was one, is kept
 * non-enumerable so it never serializes into logs.
 */
export class RefreshTokenError extends CodexAuthError {
  readonly code: RefreshTokenErrorCode;
  readonly permanent: boolean;
  readonly reason: RefreshTokenFailedReason | undefined;
  declare readonly status: number | undefined;
  constructor(
    code: RefreshTokenErrorCode,
    message: string,
    init: { permanent: boolean; reason?: RefreshTokenFailedReason; status?: number; cause?: unknown },
  ) {
    super(message, { cause: init.cause });
    this.code = code;
    this.permanent = init.permanent;
    this.reason = init.reason;
    Object.defineProperty(this, "status", { value: init.status, enumerable: false });
  }
}

/**
 * A request sent through the authenticated fetch has a body that could not
 * be kept for the retry after a 401: a stream larger than the buffering
 * limit, a stream the caller refused to have buffered, or one that could not
 * be read. Nothing was sent.
 */
export class RequestBodyNotReplayableError extends CodexAuthError {
  readonly code = "ERR_REQUEST_BODY_NOT_REPLAYABLE";
}

/** Codes of {@link BackendError}. */
export type BackendErrorCode = "ERR_BACKEND_STATUS" | "ERR_BACKEND_RESPONSE";

/**
 * A request to the ChatGPT backend (`chatgpt_base_url`, e.g. `wham/usage`)
 * got an HTTP answer that is not a success (`ERR_BACKEND_STATUS`, with the
 * status), or a success whose body is not what the endpoint promises
 * (`ERR_BACKEND_RESPONSE`). The status is non-enumerable and the body is
 * never kept: it could carry anything.
 */
export class BackendError extends CodexAuthError {
  readonly code: BackendErrorCode;
  /** The URL requested (never carries a secret: credentials travel in headers). */
  readonly url: string;
  declare readonly status: number | undefined;
  constructor(code: BackendErrorCode, url: string, message: string, status?: number) {
    super(message);
    this.code = code;
    this.url = url;
    Object.defineProperty(this, "status", { value: status, enumerable: false });
  }
}

/**
 * Workspace routing discovery (`GET <chatgpt_base_url>/wham/accounts/check`)
 * failed, or did not describe the selected workspace. The message is Codex
 * 0.169's (`workspace routing discovery failed`).
 */
export class WorkspaceRoutingError extends CodexAuthError {
  readonly code = "ERR_WORKSPACE_ROUTING";
  /** The backend refused the access token (HTTP 401): new tokens may help. */
  readonly unauthorized: boolean;
  constructor(message: string, options?: { cause?: unknown; unauthorized?: boolean }) {
    super(message, options);
    this.unauthorized = options?.unauthorized ?? false;
  }
}

/** Reading the account's rate limits (`<chatgpt_base_url>/wham/usage`) failed; the message is Codex 0.169's. */
export class RateLimitsError extends CodexAuthError {
  readonly code = "ERR_RATE_LIMITS";
}

/**
 * The workspace's cloud-delivered configuration (`GET
 * <chatgpt_base_url>/wham/config/bundle`, fetched for business, education
 * and enterprise ChatGPT workspaces) could not be loaded. `reason`
 * `request-failed`: no usable answer after every attempt (an HTTP error, an
 * unreachable backend, a body that is not the bundle) — transient;
 * `invalid-bundle`: a delivered requirements fragment is not valid TOML —
 * permanent until the workspace's administrator changes it. The message is
 * Codex 0.169's; the HTTP status, when there was one, is kept
 * non-enumerable. Nothing stored is changed by this failure.
 */
export class CloudConfigError extends CodexAuthError {
  readonly code = "ERR_CLOUD_CONFIG_UNAVAILABLE";
  readonly reason: "request-failed" | "invalid-bundle";
  declare readonly status: number | undefined;
  constructor(
    reason: "request-failed" | "invalid-bundle",
    message: string,
    options?: { cause?: unknown; status?: number },
  ) {
    super(message, options);
    this.reason = reason;
    Object.defineProperty(this, "status", { value: options?.status, enumerable: false });
  }
  /** True for `request-failed`: a later start may succeed. */
  get transient(): boolean {
    return this.reason === "request-failed";
  }
}

/**
 * The app server refused a JSON-RPC request before running it. The message
 * is the one Codex 0.169 answers with (`Not initialized`, `Invalid request:
 * missing field \`params\``); the app server maps the code to a JSON-RPC error code.
 */
export class RpcRequestError extends CodexAuthError {
  readonly code: RpcRequestErrorCode;
  constructor(code: RpcRequestErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Describes an unknown thrown value for a message, without leaking objects. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
