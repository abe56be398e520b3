/**
 * The workspace's cloud-delivered configuration ("workspace requirements"),
 * as Codex 0.169 loads it at start-up for business, education and
 * enterprise ChatGPT workspaces: `GET <chatgpt_base_url>/wham/config/bundle`
 * with the account's bearer and `chatgpt-account-id`, up to 5 attempts with
 * exponential backoff, 15 s in all. The answer carries TOML fragments:
 *
 * ```json
 * { "config_toml": { "enterprise_managed": [{ "id": "…", "name": "…", "contents": "…" }] },
 *   "requirements_toml": { "enterprise_managed": [{ "id": "…", "name": "…", "contents": "…" }] } }
 * ```
 *
 * A requirements fragment that is not valid TOML makes the bundle invalid.
 * Codex 0.169 does not apply sign-in requirements delivered this way
 * (`allowed_login_methods`, `allowed_chatgpt_workspaces` — checked against
 * the real binary: they never reach its effective requirements), so a
 * bundle that loads changes no account answer; one that cannot be loaded
 * makes the app server run on defaults (see `app-server/startup.ts`).
 */
import { configBundleEndpoint } from "../config/endpoints.js";
import type { Env } from "../config/env.js";
import { CloudConfigError } from "../errors.js";
import { httpRequest } from "../oauth/http.js";
import type { CodexAuth } from "../record/codex-auth.js";

/** Codex 0.169's `CLOUD_CONFIG_BUNDLE_MAX_ATTEMPTS`. */
export const CONFIG_BUNDLE_MAX_ATTEMPTS = 5;
/** Codex 0.169's `CLOUD_CONFIG_BUNDLE_TIMEOUT`: the whole load, every attempt included. */
export const CONFIG_BUNDLE_TIMEOUT_MS = 15_000;

/**
 * Raw `chatgpt_plan_type` values for which Codex 0.169 loads the bundle
 * (`is_business_like`, `is_education_like`, `enterprise`; checked plan by
 * plan against the real app server in `test/app-server/differential-plans`).
 */
export const CLOUD_CONFIG_PLANS: ReadonlySet<string> = new Set([
  "business",
  "ent26",
  "enterprise_cbp_automation",
  "enterprise_cbp_usage_based",
  "enterprise",
  "edu",
  "edu_plus",
  "edu_pro",
  "sci",
  "sci_plus",
  "hc",
  "education",
]);

/** One delivered TOML fragment. */
export interface BundleFragment {
  id: string | undefined;
  name: string | undefined;
  contents: string;
}

/** A loaded bundle: its fragments, in the order delivered. */
export interface ConfigBundle {
  config: BundleFragment[];
  requirements: BundleFragment[];
}

/** Who the bundle is fetched for: the bearer and workspace of the credentials in effect. */
export interface BundleCaller {
  bearer: string;
  accountId: string;
}

/**
 * The caller for `auth` when Codex 0.169 would fetch the bundle for it
 * (ChatGPT tokens or a personal access token, in a workspace whose plan is
 * in {@link CLOUD_CONFIG_PLANS}); undefined otherwise.
 */
export function bundleCaller(auth: CodexAuth | undefined): BundleCaller | undefined {
  if (!auth) return undefined;
  if (auth.mode === "chatgpt" && auth.tokens) {
    const plan = auth.idToken.rawPlanType;
    const accountId = auth.accountId ?? auth.idToken.chatgptAccountId;
    if (plan === undefined || !CLOUD_CONFIG_PLANS.has(plan) || !accountId) return undefined;
    return { bearer: auth.tokens.access_token, accountId };
  }
  if (auth.mode === "personalAccessToken" && auth.metadata) {
    if (!CLOUD_CONFIG_PLANS.has(auth.metadata.rawPlanType)) return undefined;
    return { bearer: auth.accessToken, accountId: auth.metadata.chatgptAccountId };
  }
  return undefined;
}

/** What {@link fetchConfigBundle} needs besides the caller. */
export interface ConfigBundleDeps {
  chatgptBaseUrl: string | undefined;
  env: Env;
  fetch?: typeof fetch;
  /** Waits between attempts. Default: a timer. */
  sleep?: (ms: number) => Promise<void>;
  /** Randomness for the backoff's jitter, in [0, 1). Default `Math.random`. */
  random?: () => number;
  /** The originator sent in the user agent. Default Codex's (`codex_cli_rs`). */
  originator?: string;
}

const REQUEST_FAILED = "Failed to load cloud config bundle (workspace-managed policies).";

/** Codex's `backoff(attempt)`: 200 ms doubling per attempt, ±10 % jitter. */
function backoffMs(attempt: number, random: () => number): number {
  return Math.round(200 * 2 ** (attempt - 1) * (0.9 + random() * 0.2));
}

function fragments(section: unknown): BundleFragment[] | undefined {
  if (section === undefined || section === null) return [];
  if (typeof section !== "object" || Array.isArray(section)) return undefined;
  const list = (section as { enterprise_managed?: unknown }).enterprise_managed;
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) return undefined;
  const out: BundleFragment[] = [];
  for (const item of list) {
    if (!item || typeof item !== "object") return undefined;
    const { id, name, contents } = item as Record<string, unknown>;
    if (typeof contents !== "string") return undefined;
    out.push({
      id: typeof id === "string" ? id : undefined,
      name: typeof name === "string" ? name : undefined,
      contents,
    });
  }
  return out;
}

/**
 * Reads a `wham/config/bundle` answer body; undefined when it is not one
 * (Codex then counts the attempt as failed and tries again).
 */
export function parseConfigBundle(body: string): ConfigBundle | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) return undefined;
  const o = parsed as Record<string, unknown>;
  const config = fragments(o.config_toml);
  const requirements = fragments(o.requirements_toml);
  if (!config || !requirements) return undefined;
  return { config, requirements };
}

/**
 * Fetches and checks the workspace's bundle.
 *
 * @throws {CloudConfigError} `request-failed` after {@link CONFIG_BUNDLE_MAX_ATTEMPTS}
 * failed attempts or {@link CONFIG_BUNDLE_TIMEOUT_MS} (Codex's `Failed to load cloud
 * config bundle (workspace-managed policies).`), `invalid-bundle` for a requirements
 * fragment that is not TOML (`invalid cloud config bundle: invalid requirements`).
 * Never carries the bearer or the body.
 */
export async function fetchConfigBundle(caller: BundleCaller, deps: ConfigBundleDeps): Promise<ConfigBundle> {
  const url = configBundleEndpoint(deps.chatgptBaseUrl);
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = deps.random ?? Math.random;
  const deadline = AbortSignal.timeout(CONFIG_BUNDLE_TIMEOUT_MS);
  let lastStatus: number | undefined;
  let lastCause: unknown;
  for (let attempt = 1; attempt <= CONFIG_BUNDLE_MAX_ATTEMPTS && !deadline.aborted; attempt++) {
    try {
      const res = await httpRequest(
        {
          url,
          method: "GET",
          timeoutMs: CONFIG_BUNDLE_TIMEOUT_MS,
          signal: deadline,
          identify: true,
          headers: { authorization: `Bearer ${caller.bearer}`, "chatgpt-account-id": caller.accountId },
        },
        { env: deps.env, fetch: deps.fetch, ...(deps.originator ? { originator: deps.originator } : {}) },
      );
      lastStatus = res.status;
      const bundle = res.ok ? parseConfigBundle(res.text) : undefined;
      if (bundle) {
        await checkRequirements(bundle);
        return bundle;
      }
    } catch (err) {
      if (err instanceof CloudConfigError) throw err;
      lastCause = err;
    }
    if (attempt < CONFIG_BUNDLE_MAX_ATTEMPTS && !deadline.aborted) await sleep(backoffMs(attempt, random));
  }
  throw new CloudConfigError("request-failed", REQUEST_FAILED, {
    ...(lastCause ? { cause: lastCause } : {}),
    ...(lastStatus !== undefined ? { status: lastStatus } : {}),
  });
}

async function checkRequirements(bundle: ConfigBundle): Promise<void> {
  if (bundle.requirements.length === 0) return;
  const { parse } = await import("smol-toml");
  for (const fragment of bundle.requirements) {
    try {
      parse(fragment.contents);
    } catch (err) {
      throw new CloudConfigError("invalid-bundle", "invalid cloud config bundle: invalid requirements", {
        cause: err,
      });
    }
  }
}
