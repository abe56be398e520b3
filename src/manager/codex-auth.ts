import { ApiKeyMissingError, NotLoggedInError, UnsupportedAuthModeError } from "../errors.js";
import { type AuthMode, type AuthRecord, resolvedMode, type StoredTokens } from "../record/auth-record.js";
import { type IdTokenInfo, parseIdToken } from "../record/claims.js";
import { jwtExpiry } from "../record/jwt.js";
import type { PlanType } from "../record/plan.js";

/** Token data with the ID token's claims decoded. */
export interface TokenData extends StoredTokens {
  idTokenInfo: IdTokenInfo;
}

/**
 * One snapshot of a user's credentials: an API key, or ChatGPT tokens.
 * Immutable; a refresh or reload produces a new snapshot.
 */
export class CodexAuth {
  /** How these credentials authenticate. */
  readonly mode: AuthMode;
  /** The stored record, or undefined for a key that came from `CODEX_API_KEY`. */
  readonly record: AuthRecord | undefined;
  private tokenData: TokenData | undefined;
  /** Access-token expiry in ms since the epoch; NaN when unknown; undefined until first asked. */
  private expiryMs: number | undefined;

  private constructor(mode: AuthMode, record: AuthRecord | undefined) {
    this.mode = mode;
    this.record = record;
  }

  /** API-key credentials not backed by storage (e.g. from `CODEX_API_KEY`). */
  static fromApiKey(apiKey: string): CodexAuth {
    return new CodexAuth("apikey", { auth_mode: "apikey", OPENAI_API_KEY: apiKey });
  }

  /**
   * Credentials from a stored record.
   *
   * @throws {CodexAuthError} `ERR_API_KEY_MISSING` when the record says `apikey` but holds no key;
   * `ERR_UNSUPPORTED_AUTH_MODE` for an agent-identity record without its material.
   */
  static fromRecord(record: AuthRecord, source = "the stored record"): CodexAuth {
    const mode = resolvedMode(record);
    if (mode === "apikey" && record.OPENAI_API_KEY === null) {
      throw new ApiKeyMissingError(
        `API key auth is missing a key: ${source} has "auth_mode": "apikey" but no "OPENAI_API_KEY". Sign in again.`,
      );
    }
    if (mode === "agentIdentity" && typeof record.extra?.agent_identity !== "string") {
      throw new UnsupportedAuthModeError(
        `agent identity auth is missing agent identity auth material (${source} has "auth_mode": "agentIdentity" but no "agent_identity").`,
      );
    }
    return new CodexAuth(mode, record);
  }

  /** True for modes whose tokens codex-auth refreshes and revokes (`chatgpt`). */
  get isManagedChatgpt(): boolean {
    return this.mode === "chatgpt";
  }

  /** True for modes that use ChatGPT tokens (`chatgpt`, `chatgptAuthTokens`). */
  get usesChatgptTokens(): boolean {
    return this.mode === "chatgpt" || this.mode === "chatgptAuthTokens";
  }

  /** The API key, when this is API-key auth. */
  get apiKey(): string | undefined {
    return this.mode === "apikey" ? (this.record?.OPENAI_API_KEY ?? undefined) : undefined;
  }

  /**
   * The ChatGPT tokens with decoded ID-token claims.
   *
   * @throws {CodexAuthError} `ERR_NOT_LOGGED_IN` when there are no tokens.
   */
  getTokenData(): TokenData {
    if (this.tokenData) return this.tokenData;
    const tokens = this.record?.tokens;
    if (!tokens) throw new NotLoggedInError("Token data is not available.");
    this.tokenData = { ...tokens, idTokenInfo: parseIdToken(tokens.id_token) };
    return this.tokenData;
  }

  /**
   * The bearer credential for API calls: the API key, or the ChatGPT access token.
   *
   * @throws {CodexAuthError} when ChatGPT auth has no tokens.
   */
  getToken(): string {
    const key = this.apiKey;
    if (key !== undefined) return key;
    if (!this.usesChatgptTokens) {
      throw new UnsupportedAuthModeError(
        `codex-auth does not manage "${this.mode}" credentials; use codex for them.`,
      );
    }
    return this.getTokenData().access_token;
  }

  /** `tokens.account_id` (the ChatGPT workspace), when present. */
  getAccountId(): string | undefined {
    return this.record?.tokens?.account_id ?? undefined;
  }

  /** When the access token expires (its `exp`), or undefined for opaque tokens and API keys. Cached. */
  accessTokenExpiresAt(): Date | undefined {
    const ms = this.accessTokenExpiryMs();
    return Number.isNaN(ms) ? undefined : new Date(ms);
  }

  /** {@link accessTokenExpiresAt} as epoch ms, NaN when unknown: the cheap form for hot paths. */
  accessTokenExpiryMs(): number {
    if (this.expiryMs === undefined) {
      const token = this.record?.tokens?.access_token;
      this.expiryMs = token === undefined ? Number.NaN : (jwtExpiry(token)?.getTime() ?? Number.NaN);
    }
    return this.expiryMs;
  }

  /** The account's email from the ID token, when present. */
  getAccountEmail(): string | undefined {
    return this.safeInfo()?.email;
  }

  /** The ChatGPT plan; `"unknown"` when ChatGPT auth has no plan claim; undefined for API keys. */
  accountPlanType(): PlanType | undefined {
    if (!this.usesChatgptTokens) return undefined;
    return this.safeInfo()?.planType ?? "unknown";
  }

  /** The ChatGPT user id (`chatgpt_user_id`, else `user_id`). */
  getChatgptUserId(): string | undefined {
    return this.safeInfo()?.chatgptUserId;
  }

  private safeInfo(): IdTokenInfo | undefined {
    if (!this.record?.tokens) return undefined;
    try {
      return this.getTokenData().idTokenInfo;
    } catch {
      return undefined;
    }
  }

  /** Two snapshots are equal when their records serialize the same way. */
  equals(other: CodexAuth | undefined): boolean {
    return (
      other !== undefined &&
      this.mode === other.mode &&
      JSON.stringify(this.record) === JSON.stringify(other.record)
    );
  }
}
