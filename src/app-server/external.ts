/**
 * Host-supplied ChatGPT tokens (`account/login/start` with
 * `chatgptAuthTokens`): kept in memory only, never written; when the
 * backend refuses them, the host is asked for new ones through a refresh
 * callback (the app server sends `account/chatgptAuthTokens/refresh` and
 * waits for the answer). The embedding API's host-token support can take
 * this module's place behind {@link ExternalTokensPort}.
 */
import { LoginError } from "../errors.js";
import { authFromRecord, type ChatgptAuth } from "../record/codex-auth.js";
import { planTypeFromRaw } from "../record/plan.js";
import { type JsonNode, JsonSyntaxError, parseJson } from "./json.js";
import type { PlanType } from "./protocol.js";
import { unexpected } from "./serde.js";

/** Tokens as a host hands them over. */
export interface HostTokens {
  accessToken: string;
  chatgptAccountId: string;
  /** Raw plan name; null: taken from the access token's claims. */
  chatgptPlanType: string | null;
}

/** The host-supplied credentials in effect: a snapshot and the plan to report. */
export interface ExternalCredentials {
  auth: ChatgptAuth & { mode: "chatgptAuthTokens" };
  planType: PlanType;
}

/** Asks the host for new tokens; rejects when the host cannot give any. */
export type HostRefresh = (previousAccountId: string | null) => Promise<HostTokens>;

/** The seam for host-supplied tokens. */
export interface ExternalTokensPort {
  current(): ExternalCredentials | undefined;
  /**
   * Replaces the tokens.
   *
   * @throws {LoginError} `failed to set external auth: invalid ID token format` when the access token is not a JWT.
   */
  set(tokens: HostTokens): ExternalCredentials;
  clear(): void;
  /**
   * Asks the host for new tokens (one request at a time) and takes them.
   *
   * @throws whatever the host's answer was instead of tokens, or {@link LoginError} for unusable ones.
   */
  refresh(): Promise<ExternalCredentials>;
}

/**
 * The snapshot of host tokens: the access token stands in for the ID token
 * (its claims give email, user and plan), the account id is the host's.
 *
 * @throws {LoginError} when the access token is not a JWT.
 */
export function externalCredentials(tokens: HostTokens): ExternalCredentials {
  const problem = accessTokenProblem(tokens.accessToken);
  if (problem !== undefined)
    throw new LoginError("ERR_LOGIN_FAILED", `failed to set external auth: ${problem}`);
  let auth: ExternalCredentials["auth"];
  try {
    auth = authFromRecord({
      auth_mode: "chatgptAuthTokens",
      OPENAI_API_KEY: null,
      tokens: {
        id_token: tokens.accessToken,
        access_token: tokens.accessToken,
        refresh_token: "",
        account_id: tokens.chatgptAccountId,
      },
    }) as ExternalCredentials["auth"];
  } catch (err) {
    throw new LoginError("ERR_LOGIN_FAILED", "failed to set external auth: invalid ID token format", {
      cause: err,
    });
  }
  const planType =
    tokens.chatgptPlanType !== null
      ? planTypeFromRaw(tokens.chatgptPlanType)
      : (auth.idToken.planType ?? "unknown");
  return { auth, planType };
}

const BASE64URL = /^[A-Za-z0-9_-]$/;

/**
 * Why Codex 0.169 refuses a host-supplied access token, in its words (its
 * JWT splitting, then the base64 crate's and serde_json's messages), or
 * undefined when the token's claims can be read.
 */
export function accessTokenProblem(token: string): string | undefined {
  const first = token.indexOf(".");
  const second = first < 0 ? -1 : token.indexOf(".", first + 1);
  if (first <= 0 || second < 0 || second === first + 1 || second === token.length - 1) {
    return "invalid ID token format";
  }
  const payload = token.slice(first + 1, second);
  // Padding at the end is refused as padding; anywhere else as a bad symbol.
  if (/^[A-Za-z0-9_-]*=+$/.test(payload)) return "Invalid padding";
  for (let i = 0; i < payload.length; i++) {
    if (!BASE64URL.test(payload[i]!)) return `Invalid symbol ${payload.charCodeAt(i)}, offset ${i}.`;
  }
  if (payload.length % 4 === 1) return `Invalid input length: ${payload.length}`;
  const bytes = Buffer.from(payload, "base64url");
  if (bytes.toString("base64url") !== payload) {
    const last = payload.length - 1;
    return `Invalid last symbol ${payload.charCodeAt(last)}, offset ${last}.`;
  }
  let claims: JsonNode;
  try {
    claims = parseJson(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    return err instanceof JsonSyntaxError ? err.message : "invalid UTF-8 in the token payload";
  }
  if (claims.kind !== "object")
    return `invalid type: ${unexpected(claims)}, expected struct IdClaims at line 1 column 1`;
  return undefined;
}

/** {@link ExternalTokensPort} in memory, refreshed through `hostRefresh`. */
export class ExternalTokens implements ExternalTokensPort {
  private credentials: ExternalCredentials | undefined;
  private inflight: Promise<ExternalCredentials> | undefined;

  constructor(private readonly hostRefresh: HostRefresh) {}

  current(): ExternalCredentials | undefined {
    return this.credentials;
  }

  set(tokens: HostTokens): ExternalCredentials {
    this.credentials = externalCredentials(tokens);
    return this.credentials;
  }

  clear(): void {
    this.credentials = undefined;
  }

  refresh(): Promise<ExternalCredentials> {
    this.inflight ??= (async () => {
      const previous = this.credentials?.auth.accountId ?? null;
      const tokens = await this.hostRefresh(previous);
      return this.set(tokens);
    })().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }
}
