/**
 * `GET {chatgpt_base_url}/wham/accounts/check`: the ChatGPT backend call
 * Codex 0.169 makes before it uses ChatGPT credentials (workspace routing
 * discovery), with `authorization: Bearer <access token>` and
 * `chatgpt-account-id`. Its answer names each workspace the user belongs to,
 * the backend origin to use and the routing constraint.
 */
import { accountsCheckEndpoint } from "../config/endpoints.js";
import { AccountDetailsError } from "../errors.js";
import { type HttpDeps, httpRequest } from "./http.js";

/** Time limit of one accounts/check request. */
export const ACCOUNTS_CHECK_TIMEOUT_MS = 30_000;

/** Where a workspace's requests go, as Codex's app server reports it (`workspaceRouting`). */
export interface WorkspaceRouting {
  chatgptAccountId: string;
  /** An https origin, e.g. `https://chatgpt.com`. */
  backendOrigin: string;
  /** `NO_CONSTRAINT`, `us` or `us_cr`. */
  accountRoutingOverride: string;
}

/** The account details Codex reports in `account/read`. */
export interface AccountDetails {
  /** The workspace's display name, when the backend gives one. */
  workspaceName: string | null;
  workspaceRouting: WorkspaceRouting;
}

const ROUTING = new Set(["NO_CONSTRAINT", "us", "us_cr"]);

/** Options of {@link requestAccountDetails}. */
export interface AccountsCheckOptions extends HttpDeps {
  /** `chatgpt_base_url` (default `https://chatgpt.com/backend-api`). */
  chatgptBaseUrl?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Asks the ChatGPT backend about the workspace `accountId` and returns its
 * name and routing, checked as Codex 0.169 checks them.
 *
 * @throws {AccountDetailsError} `ERR_ACCOUNT_DETAILS` in Codex's words: `workspace routing discovery failed`
 *   (no answer, not 2xx, not JSON), `workspace routing discovery missing backend origin`,
 *   `selected workspace missing from routing discovery`.
 */
export async function requestAccountDetails(
  accessToken: string,
  accountId: string,
  options: AccountsCheckOptions = {},
): Promise<AccountDetails> {
  const failed = (detail: string, cause?: unknown) =>
    new AccountDetailsError(`workspace routing discovery failed: ${detail}`, { cause });
  let response: Awaited<ReturnType<typeof httpRequest>>;
  try {
    response = await httpRequest(
      {
        url: accountsCheckEndpoint(options.chatgptBaseUrl),
        method: "GET",
        headers: { authorization: `Bearer ${accessToken}`, "chatgpt-account-id": accountId },
        timeoutMs: options.timeoutMs ?? ACCOUNTS_CHECK_TIMEOUT_MS,
        identify: true,
        ...(options.signal ? { signal: options.signal } : {}),
      },
      options,
    );
  } catch (err) {
    throw failed((err as Error).message, err);
  }
  if (!response.ok) throw failed(`HTTP ${response.status}`);
  let body: { accounts?: unknown };
  try {
    body = JSON.parse(response.text) as { accounts?: unknown };
  } catch {
    throw failed("the answer is not JSON");
  }
  if (!Array.isArray(body?.accounts)) throw failed("the answer lists no accounts");
  const account = (body.accounts as Array<Record<string, unknown>>).find((a) => a?.id === accountId);
  if (!account) throw new AccountDetailsError("selected workspace missing from routing discovery");
  const origin = account.workspace_backend_origin;
  const routing = account.account_routing_override;
  if (
    typeof origin !== "string" ||
    !/^https:\/\/[^/?#]+$/.test(origin) ||
    typeof routing !== "string" ||
    !ROUTING.has(routing)
  ) {
    throw new AccountDetailsError("workspace routing discovery missing backend origin");
  }
  return {
    workspaceName: typeof account.name === "string" ? account.name : null,
    workspaceRouting: { chatgptAccountId: accountId, backendOrigin: origin, accountRoutingOverride: routing },
  };
}
