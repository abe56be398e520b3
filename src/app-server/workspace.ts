/**
 * Workspace routing discovery as Codex 0.169's app server does it before it
 * describes a ChatGPT account: `GET <chatgpt_base_url>/wham/accounts/check`
 * with the access token, then the entry of the selected workspace (its
 * name, backend origin and routing override). Failures carry Codex's words.
 */
import type { Env } from "../config/env.js";
import { WorkspaceRoutingError } from "../errors.js";
import { httpRequest } from "../oauth/http.js";
import type { WorkspaceInfo, WorkspacePort } from "./ports.js";
import type { AccountRoutingOverride } from "./protocol.js";

/** Codex's default `chatgpt_base_url`. */
export const DEFAULT_CHATGPT_BASE_URL = "https://chatgpt.com/backend-api/";

const ROUTING_OVERRIDES: readonly AccountRoutingOverride[] = ["NO_CONSTRAINT", "us", "us_cr"];

/** How long one accounts/check may take. */
const ACCOUNTS_CHECK_TIMEOUT_MS = 30_000;

/**
 * The accounts/check URL for a `chatgpt_base_url`: ChatGPT's own hosts get
 * `/backend-api`; a base under `/backend-api` uses `/wham/…`, any other
 * the Codex API path `/api/codex/…`.
 */
export function accountsCheckUrl(chatgptBaseUrl: string): string {
  let base = chatgptBaseUrl.replace(/\/+$/, "");
  if (/^https:\/\/(chatgpt\.com|chat\.openai\.com)$/.test(base)) base += "/backend-api";
  return base.includes("/backend-api") ? `${base}/wham/accounts/check` : `${base}/api/codex/accounts/check`;
}

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
}

/** The default {@link WorkspacePort}: one accounts/check request per lookup. */
export function httpWorkspaceDirectory(o: WorkspaceDirectoryOptions): WorkspacePort {
  const url = accountsCheckUrl(o.chatgptBaseUrl ?? DEFAULT_CHATGPT_BASE_URL);
  return {
    async discover(accessToken, accountId, originator) {
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
