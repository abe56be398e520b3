/**
 * `GET {authapi}/v1/user-auth-credential/whoami`: what OpenAI says about a
 * personal access token (the ChatGPT account it acts for). Codex 0.169 makes
 * this request every time it loads such a token, and refuses the token when
 * the answer is not a 2xx with the expected JSON.
 */
import { PersonalAccessTokenError } from "../errors.js";
import { httpReasonPhrase } from "../lazy-require.js";
import type { PersonalAccessTokenMetadata } from "../record/codex-auth.js";
import { planTypeFromRaw } from "../record/plan.js";
import { type HttpDeps, httpRequest } from "./http.js";

/** Time limit of one `whoami` request (Codex sets none of its own; ours is generous but bounded). */
export const WHOAMI_TIMEOUT_MS = 30_000;

/** Options for {@link requestPersonalAccessTokenMetadata}: where, and the transport's {@link HttpDeps}. */
export interface WhoamiOptions extends HttpDeps {
  /** The endpoint (see `whoamiEndpoint` in `config/endpoints`). */
  url: string;
  /** Default {@link WHOAMI_TIMEOUT_MS}. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Asks OpenAI which account a personal access token belongs to. Sends the
 * headers Codex sends (`authorization: Bearer …`, `originator`,
 * `user-agent`, `accept`).
 *
 * @throws {PersonalAccessTokenError} `ERR_PERSONAL_ACCESS_TOKEN` with reason `network` (no answer),
 *   `status` (not 2xx; the status is kept non-enumerable) or `response` (not the expected JSON).
 *   Messages start with Codex 0.169's words and never contain the token.
 * @throws {CaCertificateError} when a configured custom CA bundle is unusable.
 */
export async function requestPersonalAccessTokenMetadata(
  accessToken: string,
  options: WhoamiOptions,
): Promise<PersonalAccessTokenMetadata> {
  let response: Awaited<ReturnType<typeof httpRequest>>;
  try {
    response = await httpRequest(
      {
        url: options.url,
        method: "GET",
        headers: { authorization: `Bearer ${accessToken}` },
        timeoutMs: options.timeoutMs ?? WHOAMI_TIMEOUT_MS,
        signal: options.signal,
        identify: true,
      },
      options,
    );
  } catch (err) {
    if ((err as { code?: string }).code !== "ERR_NETWORK") throw err;
    throw new PersonalAccessTokenError(
      "network",
      `failed to request personal access token metadata: ${(err as Error).message}`,
      { cause: err },
    );
  }
  if (!response.ok) {
    throw new PersonalAccessTokenError(
      "status",
      `personal access token metadata request failed with status ${statusLine(response.status)}`,
      { status: response.status },
    );
  }
  return parseWhoamiBody(response.text);
}

/** `401 Unauthorized`, as Codex prints a status. */
function statusLine(status: number): string {
  const reason = httpReasonPhrase(status);
  return reason ? `${status} ${reason}` : String(status);
}

/**
 * Reads a `whoami` answer as Codex's `PersonalAccessTokenMetadata`:
 * `chatgpt_user_id`, `chatgpt_account_id`, `chatgpt_plan_type` strings and
 * `chatgpt_account_is_fedramp` boolean required, `email` a string or
 * null/absent; other fields ignored. Never quotes the body.
 *
 * @throws {PersonalAccessTokenError} reason `response`.
 */
export function parseWhoamiBody(text: string): PersonalAccessTokenMetadata {
  const bad = (problem: string) =>
    new PersonalAccessTokenError("response", `failed to decode personal access token metadata: ${problem}`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw bad("the answer is not JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw bad("expected a JSON object");
  const o = body as Record<string, unknown>;
  for (const key of ["chatgpt_user_id", "chatgpt_account_id", "chatgpt_plan_type"]) {
    if (typeof o[key] !== "string") throw bad(`"${key}" must be a string`);
  }
  if (typeof o.chatgpt_account_is_fedramp !== "boolean")
    throw bad(`"chatgpt_account_is_fedramp" must be a boolean`);
  if (o.email !== undefined && o.email !== null && typeof o.email !== "string") {
    throw bad(`"email" must be a string or null`);
  }
  const rawPlanType = o.chatgpt_plan_type as string;
  return {
    email: (o.email as string | null | undefined) ?? undefined,
    chatgptUserId: o.chatgpt_user_id as string,
    chatgptAccountId: o.chatgpt_account_id as string,
    rawPlanType,
    planType: planTypeFromRaw(rawPlanType),
    fedramp: o.chatgpt_account_is_fedramp as boolean,
  };
}
