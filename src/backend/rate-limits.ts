/**
 * Rate limits and usage of the signed-in ChatGPT account: what Codex's app
 * server answers to `account/rateLimits/read`, read from the same endpoint
 * (`GET {chatgpt_base_url}/wham/usage`) with the same headers, and mapped
 * to the same shape (learned from codex 0.169 against a local stub; see
 * `test/backend/rate-limits.test.ts`, which compares the two).
 */
import { loadConfig } from "../config/config.js";
import { usageEndpoint } from "../config/endpoints.js";
import { BackendError, NotLoggedInError, UnsupportedAuthModeError } from "../errors.js";
import { httpReasonPhrase } from "../lazy-require.js";
import type { AuthManager } from "../manager/auth-manager.js";
import type { UnauthorizedRecovery } from "../manager/recovery.js";
import { defaultUserAgent, httpRequest } from "../oauth/http.js";
import { accountIdOf, bearerToken, type CodexAuth } from "../record/codex-auth.js";
import { type PlanType, planTypeFromRaw } from "../record/plan.js";

/** One rate-limit window. */
export interface RateLimitWindow {
  /** How much of the window's allowance is used, in percent (0–100; the backend's integer). */
  usedPercent: number;
  /** The window's length in minutes (seconds rounded up); null when the backend gives none. */
  windowDurationMins: number | null;
  /** When the window resets: Unix time in seconds; null when unknown. */
  resetsAt: number | null;
}

/** Credits of the account (`credits`). */
export interface CreditsSnapshot {
  hasCredits: boolean;
  unlimited: boolean;
  /** The balance as the backend writes it (a decimal string), or null. */
  balance: string | null;
}

/** A workspace spend-control limit of the user (`spend_control.individual_limit`). */
export interface SpendControlLimitSnapshot {
  /** The limit, as the backend writes it (a decimal string). */
  limit: string;
  /** What is used of it (a decimal string). */
  used: string;
  remainingPercent: number;
  /** Unix time in seconds. */
  resetsAt: number;
}

/** Why requests are being refused, when they are. */
export type RateLimitReachedType =
  | "rate_limit_reached"
  | "workspace_owner_credits_depleted"
  | "workspace_member_credits_depleted"
  | "workspace_owner_usage_limit_reached"
  | "workspace_member_usage_limit_reached";

/** The limits of one metered bucket (`codex`, or an additional one such as a smaller model's). */
export interface RateLimitSnapshot {
  /** The bucket (`codex` for the main one, else the backend's `metered_feature`). */
  limitId: string | null;
  /** Its display name (null for the main bucket). */
  limitName: string | null;
  /** The model the bucket is named after, when the backend says. */
  normalModelSlug: string | null;
  /** The short window (e.g. 5 hours). */
  primary: RateLimitWindow | null;
  /** The long window (e.g. a week). */
  secondary: RateLimitWindow | null;
  /** Credits (main bucket only). */
  credits: CreditsSnapshot | null;
  /** The user's spend-control limit (main bucket only). */
  individualLimit: SpendControlLimitSnapshot | null;
  /** Whether a spend-control limit is reached; null when unknown. */
  spendControlReached: boolean | null;
  planType: PlanType | null;
  rateLimitReachedType: RateLimitReachedType | null;
}

/**
 * Usage of the account: the JSON-RPC result of Codex 0.169's
 * `account/rateLimits/read`, field for field, so an app server can answer
 * with it as it is.
 */
export interface AccountRateLimits {
  /** Codex reports null here (the backend's permission is not in the usage response); always null. */
  ordinaryUsageAllowed: boolean | null;
  /** The main (`codex`) bucket. */
  rateLimits: RateLimitSnapshot;
  /** Every bucket by `limitId`, the main one included. */
  rateLimitsByLimitId: Record<string, RateLimitSnapshot> | null;
  /**
   * Reset credits the account holds. `credits` is always null here: Codex
   * fetches their details from a separate endpoint, codex-auth does not.
   */
  rateLimitResetCredits: { availableCount: number; credits: null } | null;
  /** The account the usage belongs to, when the backend says. */
  accountId: string | null;
  /** Codex's upsell banner; always null here. */
  rateLimitUpsell: null;
}

/** Options of {@link readRateLimits}. */
export interface ReadRateLimitsOptions {
  /**
   * The ChatGPT backend (`chatgpt_base_url`). Default: the manager's
   * config, else `CODEX_HOME/config.toml`, else `https://chatgpt.com/backend-api/`.
   */
  chatgptBaseUrl?: string;
  /** Aborts the request: rejects with `NetworkError` (`reason: "aborted"`). */
  signal?: AbortSignal;
  /** Time limit per request in ms (default 30 000). */
  timeoutMs?: number;
  /** The `user-agent` sent (default codex-auth's, `codex-auth/VERSION (OS; ARCH) node/VERSION`). */
  userAgent?: string;
}

/**
 * Reads the signed-in ChatGPT account's rate limits and usage from
 * `GET {chatgpt_base_url}/wham/usage` (`…/api/codex/usage` for a base
 * without `/backend-api`), sending what Codex sends there: `authorization`,
 * `chatgpt-account-id`, `user-agent`. Stale tokens are refreshed first; a
 * 401 runs the manager's unauthorized recovery and asks again (Codex's
 * app server gives up at the first 401).
 *
 * @example
 * const usage = await readRateLimits(manager);
 * const w = usage.rateLimits.primary; // { usedPercent: 42, windowDurationMins: 300, resetsAt: 1767225600 }
 *
 * @throws {NotLoggedInError} `ERR_NOT_LOGGED_IN`: no credentials, or a ChatGPT record without tokens.
 * @throws {UnsupportedAuthModeError} `ERR_UNSUPPORTED_AUTH_MODE`: not ChatGPT credentials
 *   (Codex: `chatgpt authentication required to read rate limits`).
 * @throws {BackendError} `ERR_BACKEND_STATUS` (non-2xx, `status` kept; a 401 after recovery included),
 *   `ERR_BACKEND_RESPONSE` (the body is not a usage payload; the field is named, the body never quoted).
 * @throws {RefreshTokenError} when a refresh (before the request, or after a 401) fails for good.
 * @throws {NetworkError} no HTTP answer (connect, TLS, proxy, timeout, abort).
 * @throws {ConfigError} when config.toml is invalid (read only when no base URL or config is given).
 */
export async function readRateLimits(
  manager: AuthManager,
  options: ReadRateLimitsOptions = {},
): Promise<AccountRateLimits> {
  const context = manager.context;
  const baseUrl =
    options.chatgptBaseUrl ??
    (context.config ?? (await loadConfig({ codexHome: manager.codexHome, env: context.env }))).chatgptBaseUrl;
  const url = usageEndpoint(baseUrl);
  let auth = requireChatgpt(await manager.auth());
  let recovery: UnauthorizedRecovery | undefined;
  // Each retry needs a token that changed since the last 401: a handful at most.
  for (let attempt = 1; ; attempt++) {
    const token = bearerToken(auth);
    const accountId = accountIdOf(auth);
    const response = await httpRequest(
      {
        url,
        method: "GET",
        timeoutMs: options.timeoutMs ?? 30_000,
        ...(options.signal ? { signal: options.signal } : {}),
        headers: {
          "user-agent": options.userAgent ?? defaultUserAgent(),
          authorization: `Bearer ${token}`,
          ...(accountId !== undefined ? { "chatgpt-account-id": accountId } : {}),
        },
      },
      { env: context.env, fetch: context.fetch },
    );
    if (response.status === 401) {
      recovery ??= manager.unauthorizedRecovery();
      let next = manager.authCached();
      while (recovery.hasNext() && tokenOf(next) === token) {
        await recovery.next();
        next = manager.authCached();
      }
      if (attempt < 4 && tokenOf(next) !== undefined && tokenOf(next) !== token) {
        auth = requireChatgpt(next!);
        continue;
      }
    }
    if (!response.ok) {
      throw new BackendError(
        "ERR_BACKEND_STATUS",
        url,
        `failed to fetch codex rate limits: GET ${url} failed: ${response.status} ${httpReasonPhrase(response.status) ?? ""}`.trimEnd(),
        response.status,
      );
    }
    return parseUsagePayload(response.text, url);
  }
}

function requireChatgpt(auth: CodexAuth | undefined): CodexAuth {
  if (auth === undefined)
    throw new NotLoggedInError("Not logged in: sign in with ChatGPT to read rate limits.");
  if (auth.mode !== "chatgpt" && auth.mode !== "chatgptAuthTokens") {
    throw new UnsupportedAuthModeError("chatgpt authentication required to read rate limits");
  }
  return auth;
}

function tokenOf(auth: CodexAuth | undefined): string | undefined {
  try {
    return auth && bearerToken(auth);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- the payload

type Json = Record<string, unknown>;

const REACHED_TYPES: ReadonlySet<string> = new Set<RateLimitReachedType>([
  "rate_limit_reached",
  "workspace_owner_credits_depleted",
  "workspace_member_credits_depleted",
  "workspace_owner_usage_limit_reached",
  "workspace_member_usage_limit_reached",
]);

/** Reads fields of one object of the payload; a missing or mistyped required field names its path. */
class Reader {
  constructor(
    private readonly url: string,
    private readonly obj: Json,
    private readonly path: string,
  ) {}

  private fail(key: string, expected: string): never {
    throw new BackendError(
      "ERR_BACKEND_RESPONSE",
      this.url,
      `the usage response from ${this.url} is not what Codex expects: ${this.path}${key} must be ${expected}`,
    );
  }

  /** A nested object; undefined when absent or null. */
  object(key: string): Reader | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "object" || Array.isArray(v)) this.fail(key, "an object");
    return new Reader(this.url, v as Json, `${this.path}${key}.`);
  }

  /** An array of objects; undefined when absent or null. */
  objects(key: string): Reader[] | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) this.fail(key, "an array");
    return v.map((item, i) => {
      if (typeof item !== "object" || item === null || Array.isArray(item))
        this.fail(`${key}[${i}]`, "an object");
      return new Reader(this.url, item as Json, `${this.path}${key}[${i}].`);
    });
  }

  string(key: string): string {
    const v = this.obj[key];
    if (typeof v !== "string") this.fail(key, "a string");
    return v;
  }

  optionalString(key: string): string | null {
    const v = this.obj[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== "string") this.fail(key, "a string");
    return v;
  }

  /** A whole number (Codex's i32/i64 fields; a whole float like `10.0` is accepted, as Codex does). */
  integer(key: string): number {
    const v = this.obj[key];
    if (typeof v !== "number" || !Number.isInteger(v)) this.fail(key, "a whole number");
    return v;
  }

  /** A number (Codex's f64 fields). */
  number(key: string): number {
    const v = this.obj[key];
    if (typeof v !== "number" || !Number.isFinite(v)) this.fail(key, "a number");
    return v;
  }

  boolean(key: string): boolean {
    const v = this.obj[key];
    if (typeof v !== "boolean") this.fail(key, "true or false");
    return v;
  }
}

function window(r: Reader | undefined): RateLimitWindow | null {
  if (!r) return null;
  const usedPercent = r.integer("used_percent");
  const seconds = r.integer("limit_window_seconds");
  r.integer("reset_after_seconds");
  const resetAt = r.integer("reset_at");
  return {
    usedPercent,
    windowDurationMins: seconds > 0 ? Math.ceil(seconds / 60) : null,
    resetsAt: resetAt,
  };
}

function windows(r: Reader | undefined): Pick<RateLimitSnapshot, "primary" | "secondary"> {
  if (!r) return { primary: null, secondary: null };
  r.boolean("allowed");
  r.boolean("limit_reached");
  return { primary: window(r.object("primary_window")), secondary: window(r.object("secondary_window")) };
}

function individualLimit(r: Reader | undefined): SpendControlLimitSnapshot | null {
  if (!r) return null;
  const limit = r.string("limit");
  const used = r.string("used");
  r.string("remaining");
  const remainingPercent = r.number("remaining_percent");
  r.number("used_percent");
  r.integer("reset_after_seconds");
  return { limit, used, remainingPercent, resetsAt: r.integer("reset_at") };
}

/**
 * Maps a `wham/usage` body to the app server's `account/rateLimits/read`
 * result, as codex 0.169 does: `plan_type` is required (an unknown plan is
 * `unknown`), windows need `used_percent`, `limit_window_seconds`,
 * `reset_after_seconds` and `reset_at` (whole numbers); a window length of
 * 0 is null; unknown fields are ignored.
 *
 * @throws {BackendError} `ERR_BACKEND_RESPONSE` naming the first bad field (never quoting the body).
 */
export function parseUsagePayload(text: string, url = "the usage endpoint"): AccountRateLimits {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BackendError("ERR_BACKEND_RESPONSE", url, `the usage response from ${url} is not JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new BackendError(
      "ERR_BACKEND_RESPONSE",
      url,
      `the usage response from ${url} is not a JSON object`,
    );
  }
  const r = new Reader(url, value as Json, "");
  const planType = planTypeFromRaw(r.string("plan_type"));
  const reachedKind = r.object("rate_limit_reached_type")?.optionalString("type") ?? null;
  const spend = r.object("spend_control");
  const credits = r.object("credits");
  const main: RateLimitSnapshot = {
    limitId: "codex",
    limitName: null,
    normalModelSlug: null,
    ...windows(r.object("rate_limit")),
    credits: credits
      ? {
          hasCredits: credits.boolean("has_credits"),
          unlimited: credits.boolean("unlimited"),
          balance: credits.optionalString("balance"),
        }
      : null,
    individualLimit: individualLimit(spend?.object("individual_limit")),
    spendControlReached: spend ? spend.boolean("reached") : null,
    planType,
    rateLimitReachedType:
      reachedKind !== null && REACHED_TYPES.has(reachedKind) ? (reachedKind as RateLimitReachedType) : null,
  };
  const byId: Record<string, RateLimitSnapshot> = { codex: main };
  for (const extra of r.objects("additional_rate_limits") ?? []) {
    const limitId = extra.string("metered_feature");
    byId[limitId] = {
      limitId,
      limitName: extra.string("limit_name"),
      normalModelSlug: extra.optionalString("normal_model_slug"),
      ...windows(extra.object("rate_limit")),
      credits: null,
      individualLimit: null,
      spendControlReached: null,
      planType,
      rateLimitReachedType: null,
    };
  }
  const resetCredits = r.object("rate_limit_reset_credits");
  return {
    ordinaryUsageAllowed: null,
    rateLimits: main,
    rateLimitsByLimitId: byId,
    rateLimitResetCredits: resetCredits
      ? { availableCount: resetCredits.integer("available_count"), credits: null }
      : null,
    accountId: r.optionalString("account_id"),
    rateLimitUpsell: null,
  };
}
