/**
 * Workspace routing discovery as Codex 0.169's app server does it before it
 * describes a ChatGPT account: `GET <chatgpt_base_url>/wham/accounts/check`
 * with the access token, then the entry of the selected workspace (its
 * name, backend origin and routing override). Failures carry Codex's words.
 */
import { parseUsagePayload } from "../backend/rate-limits.js";
import { accountsCheckEndpoint, usageEndpoint } from "../config/endpoints.js";
import type { Env } from "../config/env.js";
import {
  ConfigError,
  describeError,
  RateLimitsError,
  RequirementsError,
  WorkspaceRoutingError,
} from "../errors.js";
import { httpReasonPhrase } from "../lazy-require.js";
import { httpRequest } from "../oauth/http.js";
import type { RateLimitsPort, WorkspaceInfo, WorkspacePort } from "./ports.js";
import type { AccountRoutingOverride } from "./protocol.js";
import { CLOUD_REQUIREMENTS_FAILED, type CloudConfigState, NETWORK_POLICY_UNAVAILABLE } from "./startup.js";

const ROUTING_OVERRIDES: readonly AccountRoutingOverride[] = ["NO_CONSTRAINT", "us", "us_cr"];

/** How long one accounts/check may take. */
const ACCOUNTS_CHECK_TIMEOUT_MS = 30_000;

const failed = () => new WorkspaceRoutingError("workspace routing discovery failed");

/**
 * Reads an accounts/check answer for `accountId`.
 *
 * @throws {WorkspaceRoutingError} with Codex's message for each failure.
 */
export function workspaceFromAccountsCheck(body: string, accountId: string): WorkspaceInfo {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw failed();
  }
  const accounts = (parsed as { accounts?: unknown } | null)?.accounts;
  if (!Array.isArray(accounts)) throw failed();
  const entry = accounts.find(
    (a): a is Record<string, unknown> => !!a && typeof a === "object" && a.id === accountId,
  );
  if (!entry) throw new WorkspaceRoutingError("selected workspace missing from routing discovery");
  const origin = entry.workspace_backend_origin;
  const override = entry.account_routing_override;
  if (typeof origin !== "string" || !ROUTING_OVERRIDES.includes(override as AccountRoutingOverride)) {
    throw new WorkspaceRoutingError("workspace routing discovery missing backend origin");
  }
  return {
    name: typeof entry.name === "string" ? entry.name : null,
    routing: {
      chatgptAccountId: accountId,
      backendOrigin: origin,
      accountRoutingOverride: override as AccountRoutingOverride,
    },
  };
}

/** Options of {@link httpWorkspaceDirectory}. */
export interface WorkspaceDirectoryOptions {
  chatgptBaseUrl: string | undefined;
  env: Env;
  fetch?: typeof fetch;
  /**
   * Re-reads the configuration and the administrator's requirements
   * (`loadConfig` as at start-up). Codex 0.169's app server reloads them
   * ("workspace requirements") before each routing lookup: a file made
   * invalid since start-up fails `account/read` for a ChatGPT account. The
   * values read are not applied (Codex keeps its start-up restrictions too).
   */
  reloadConfig?: () => Promise<unknown>;
  /**
   * The workspace's cloud configuration load (`app-server/startup.ts`):
   * after a failure every lookup and usage read is refused in Codex 0.169's
   * words, with no request sent.
   */
  cloud?: CloudConfigState;
}

/**
 * What a reload of the configuration before a routing lookup reports, in
 * Codex 0.169's words: `failed to load workspace requirements: invalid data`
 * for a requirements.toml that cannot be read or parsed, `…: invalid
 * configuration at <file>:<line>:<col>` for an invalid config value. A
 * requirements.toml that leaves no login method is not an error here (Codex
 * does not resolve login methods again either).
 */
async function loadWorkspaceRequirements(reload: () => Promise<unknown>): Promise<void> {
  const prefix = "failed to load workspace requirements";
  try {
    await reload();
  } catch (err) {
    if (err instanceof RequirementsError) {
      if (err.reason === "no-login-method") return;
      throw new WorkspaceRoutingError(`${prefix}: invalid data`, { cause: err });
    }
    if (err instanceof ConfigError) {
      const at = /^(.+:\d+:\d+): /.exec(err.message)?.[1];
      throw new WorkspaceRoutingError(
        `${prefix}: ${at ? `invalid configuration at ${at}` : "invalid data"}`,
        {
          cause: err,
        },
      );
    }
    throw new WorkspaceRoutingError(prefix, { cause: err });
  }
}

/** The default {@link WorkspacePort}: one accounts/check request per lookup. */
export function httpWorkspaceDirectory(o: WorkspaceDirectoryOptions): WorkspacePort {
  const url = accountsCheckEndpoint(o.chatgptBaseUrl);
  return {
    async discover(accessToken, accountId, originator) {
      if (o.cloud?.failure)
        throw new WorkspaceRoutingError(CLOUD_REQUIREMENTS_FAILED, { cause: o.cloud.failure });
      if (o.reloadConfig) await loadWorkspaceRequirements(o.reloadConfig);
      let res: Awaited<ReturnType<typeof httpRequest>>;
      try {
        res = await httpRequest(
          {
            url,
            method: "GET",
            timeoutMs: ACCOUNTS_CHECK_TIMEOUT_MS,
            identify: true,
            headers: { authorization: `Bearer ${accessToken}`, "chatgpt-account-id": accountId },
          },
          { env: o.env, fetch: o.fetch, originator },
        );
      } catch (err) {
        throw new WorkspaceRoutingError("workspace routing discovery failed", { cause: err });
      }
      if (res.status === 401) {
        throw new WorkspaceRoutingError("workspace routing discovery unauthorized (401)", {
          unauthorized: true,
        });
      }
      if (!res.ok) throw failed();
      return workspaceFromAccountsCheck(res.text, accountId);
    },
  };
}

/**
 * Reads `GET <chatgpt_base_url>/wham/usage` for `account/rateLimits/read`.
 * A refusal is reported with Codex's words (`failed to fetch codex rate
 * limits: GET <url> failed: 404 Not Found; content-type=…; body=…`).
 * Turning a usage answer into the protocol's rate-limit snapshot belongs to
 * the embedding API's rate-limit reader: until it is wired in, a successful
 * answer is reported as not available.
 */
export function httpRateLimits(o: WorkspaceDirectoryOptions): RateLimitsPort {
  const url = usageEndpoint(o.chatgptBaseUrl);
  return {
    async read(accessToken, accountId, originator) {
      const prefix = "failed to fetch codex rate limits";
      if (o.cloud?.failure) throw new RateLimitsError(NETWORK_POLICY_UNAVAILABLE, { cause: o.cloud.failure });
      let res: Awaited<ReturnType<typeof httpRequest>>;
      try {
        res = await httpRequest(
          {
            url,
            method: "GET",
            timeoutMs: ACCOUNTS_CHECK_TIMEOUT_MS,
            identify: true,
            headers: {
              authorization: `Bearer ${accessToken}`,
              ...(accountId ? { "chatgpt-account-id": accountId } : {}),
            },
          },
          { env: o.env, fetch: o.fetch, originator },
        );
      } catch (err) {
        throw new RateLimitsError(`${prefix}: error sending request for url (${url})`, { cause: err });
      }
      if (!res.ok) {
        const reason = httpReasonPhrase(res.status) ?? "";
        const contentType = res.headers.get("content-type") ?? "";
        throw new RateLimitsError(
          `${prefix}: GET ${url} failed: ${res.status} ${reason}; content-type=${contentType}; body=${res.text}`,
        );
      }
      try {
        return parseUsagePayload(res.text, url);
      } catch (err) {
        throw new RateLimitsError(`${prefix}: ${describeError(err)}`, { cause: err });
      }
    },
  };
}
