/**
 * The closed set of errors codex-auth throws. Every error has a stable string
 * `code` so callers can `switch (err.code)`; messages name the file or value
 * that is wrong and what to do, and never contain a secret.
 */

/** Every code a {@link CodexAuthError} can carry. */
export type CodexAuthErrorCode =
  | "ERR_AUTH_FILE_MALFORMED"
  | "ERR_AUTH_FILE_IO"
  | "ERR_AUTH_FILE_READ_ONLY"
  | "ERR_JWT_MALFORMED"
  | "ERR_API_KEY_MISSING"
  | "ERR_UNSUPPORTED_AUTH_MODE"
  | "ERR_CONFIG_INVALID"
  | "ERR_CODEX_HOME_MISSING"
  | "ERR_KEYRING_UNAVAILABLE"
  | "ERR_LOCK_TIMEOUT"
  | "ERR_LOGIN_RESTRICTED"
  | "ERR_NOT_LOGGED_IN"
  | "ERR_REFRESH_TOKEN_EXPIRED"
  | "ERR_REFRESH_TOKEN_REUSED"
  | "ERR_REFRESH_TOKEN_REVOKED"
  | "ERR_REFRESH_TOKEN_FAILED"
  | "ERR_REFRESH_TRANSIENT"
  | "ERR_ACCOUNT_CHANGED"
  | "ERR_LOGIN_FAILED"
  | "ERR_LOGIN_CANCELLED"
  | "ERR_LOGIN_DENIED"
  | "ERR_LOGIN_EXPIRED"
  | "ERR_PORT_IN_USE"
  | "ERR_TOKEN_EXCHANGE"
  | "ERR_DEVICE_CODE_UNSUPPORTED"
  | "ERR_USAGE";

/** Base class of every error codex-auth throws. */
export class CodexAuthError extends Error {
  readonly code: CodexAuthErrorCode;
  constructor(code: CodexAuthErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** auth.json (or a keyring secret) holds something that is not a valid auth record. */
export class AuthFileMalformedError extends CodexAuthError {
  /** Where the bad record was read from (a path, or a keyring description). */
  readonly source: string;
  constructor(source: string, problem: string, options?: { cause?: unknown }) {
    super(
      "ERR_AUTH_FILE_MALFORMED",
      `${source} is not a valid auth record: ${problem}. It was left unchanged; fix it, or move it aside and sign in again.`,
      options,
    );
    this.source = source;
  }
}

/** A JWT in the record is not `header.payload.signature` with a JSON payload. */
export class JwtMalformedError extends CodexAuthError {
  constructor(problem: string, options?: { cause?: unknown }) {
    super("ERR_JWT_MALFORMED", problem, options);
  }
}

/** config.toml (or a `-c` override) is invalid. */
export class ConfigError extends CodexAuthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_CONFIG_INVALID", message, options);
  }
}

/** Reading or writing credential storage failed at the operating-system level. */
export class StorageIoError extends CodexAuthError {
  readonly path: string;
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super("ERR_AUTH_FILE_IO", message, options);
    this.path = path;
  }
}

/** The OS keyring could not be reached, or did not answer in time. */
export class KeyringUnavailableError extends CodexAuthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_KEYRING_UNAVAILABLE", message, options);
  }
}

/** A login restriction from config.toml (`forced_login_method`, `forced_chatgpt_workspace_id`) was violated. */
export class LoginRestrictedError extends CodexAuthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_LOGIN_RESTRICTED", message, options);
  }
}

/** A sign-in flow did not complete; nothing was saved and earlier credentials are untouched. */
export class LoginError extends CodexAuthError {}

/** Why a refresh failed for good. */
export type RefreshTokenFailedReason = "expired" | "exhausted" | "revoked" | "other";

/**
 * A token refresh failed. `permanent` failures need a new sign-in; transient
 * ones may succeed on retry. The HTTP response, when there was one, is kept
 * non-enumerable so it never serializes into logs.
 */
export class RefreshTokenError extends CodexAuthError {
  readonly permanent: boolean;
  readonly reason: RefreshTokenFailedReason | undefined;
  declare readonly status: number | undefined;
  constructor(
    code: CodexAuthErrorCode,
    message: string,
    init: { permanent: boolean; reason?: RefreshTokenFailedReason; status?: number; cause?: unknown },
  ) {
    super(code, message, { cause: init.cause });
    this.permanent = init.permanent;
    this.reason = init.reason;
    Object.defineProperty(this, "status", { value: init.status, enumerable: false });
  }
}

/** Describes an unknown thrown value for a message, without leaking objects. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
