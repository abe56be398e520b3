/**
 * A `fetch` bound to an {@link AuthManager}: every request carries the
 * current credentials the way Codex sends them to its backend, stale ChatGPT
 * tokens are refreshed before the request, and a 401 runs
 * {@link UnauthorizedRecovery} (reload what another process saved, then
 * refresh; or ask the host for new host-supplied tokens) and sends the
 * request again. Replaces the hand-written loop around `unauthorizedRecovery()`.
 */
import { resolveOriginator } from "../config/network.js";
import { NotLoggedInError, RequestBodyNotReplayableError } from "../errors.js";
import type { AuthManager } from "../manager/auth-manager.js";
import type { UnauthorizedRecovery } from "../manager/recovery.js";
import { defaultUserAgent } from "../oauth/http.js";
import { accountIdOf, bearerToken, type CodexAuth } from "../record/codex-auth.js";

/** Default {@link AuthenticatedFetchOptions.maxBufferedBodyBytes}: 16 MiB. */
export const DEFAULT_MAX_BUFFERED_BODY_BYTES = 16 * 1024 * 1024;

/** Options of {@link createAuthenticatedFetch}. */
export interface AuthenticatedFetchOptions {
  /**
   * The fetch that sends the requests. Default: `globalThis.fetch` (Node's
   * undici: proxies and CAs are its business, e.g. a `dispatcher` in the
   * init, or a fetch of your own).
   */
  fetch?: typeof fetch;
  /**
   * Also send `originator` (the manager's, `codex_cli_rs` by default;
   * `CODEX_INTERNAL_ORIGINATOR_OVERRIDE` wins) and `user-agent`, as Codex
   * does on requests to its model endpoints. `true` uses the manager's
   * originator and codex-auth's user agent; an object sets either. Default:
   * neither (Codex's backend client sends only `user-agent`; `fetch` sends
   * its own).
   */
  identify?: boolean | { originator?: string; userAgent?: string };
  /**
   * Stream bodies (a `ReadableStream`, an async iterable, or a `Request`
   * with a body) are read into memory before the first attempt so the
   * request can be sent again after a 401; larger ones are refused with
   * `ERR_REQUEST_BODY_NOT_REPLAYABLE` before anything is sent. 0 refuses
   * every stream body. Strings, buffers, `Blob`s, `URLSearchParams` and
   * `FormData` are replayable as they are and never count. Default 16 MiB.
   */
  maxBufferedBodyBytes?: number;
}

/** A request body that can be sent more than once. */
type ReplayableBody = Exclude<NonNullable<RequestInit["body"]>, ReadableStream>;

interface Prepared {
  url: string | URL;
  init: RequestInit;
  /** Headers of the request without the credentials (copied per attempt). */
  headers: RequestInit["headers"];
}

/**
 * Creates a `fetch` that authenticates every request with `manager`'s
 * current credentials:
 * - `Authorization: Bearer <access token or API key>` (replacing any the
 *   caller set) and, for ChatGPT credentials, `chatgpt-account-id: <workspace>`
 *   — what Codex 0.169 sends to its backend (`wham/*`); optionally
 *   `originator` and `user-agent` (see {@link AuthenticatedFetchOptions.identify});
 * - ChatGPT tokens about to expire are refreshed first (`manager.auth()`);
 * - on HTTP 401 it runs `manager.unauthorizedRecovery()` — reload what
 *   another process (Codex or ours) saved, then refresh; for host-supplied
 *   tokens, ask the host — and sends the request again with the new
 *   credentials. Recovery steps that leave the token as it was do not cost
 *   a request. When every step is spent (or the credentials are an API
 *   key), the 401 response is returned as it is;
 * - everything else (status, headers, a streamed response body, the
 *   caller's `signal`) is the underlying fetch's.
 *
 * @example
 * const authFetch = createAuthenticatedFetch(manager);
 * const res = await authFetch("https://chatgpt.com/backend-api/wham/usage");
 *
 * The returned function rejects with:
 * - {@link NotLoggedInError} `ERR_NOT_LOGGED_IN`: no credentials, or a ChatGPT record without tokens;
 * - {@link UnsupportedAuthModeError} `ERR_UNSUPPORTED_AUTH_MODE`: credentials codex-auth does not send (agent identity, …);
 * - {@link RefreshTokenError}: a recovery step failed — `permanent` (`ERR_REFRESH_TOKEN_EXPIRED`,
 *   `_REUSED`, `_REVOKED`, `_FAILED`, `ERR_ACCOUNT_CHANGED`): the user must sign in again;
 *   otherwise transient (`ERR_REFRESH_TRANSIENT`, `ERR_REFRESH_NOT_SAVED`);
 * - {@link RequestBodyNotReplayableError} `ERR_REQUEST_BODY_NOT_REPLAYABLE`: a stream body over the limit;
 * - whatever the underlying fetch rejects with (network errors, the signal's abort reason).
 */
export function createAuthenticatedFetch(
  manager: AuthManager,
  options: AuthenticatedFetchOptions = {},
): typeof fetch {
  const maxBody = options.maxBufferedBodyBytes ?? DEFAULT_MAX_BUFFERED_BODY_BYTES;
  const identify = identityHeaders(manager, options.identify);

  const authenticatedFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const send = options.fetch ?? globalThis.fetch;
    const prepared = await prepare(input, init, maxBody);
    let auth = await manager.auth();
    let recovery: UnauthorizedRecovery | undefined;
    // A 401 for a token that another request has replaced meanwhile costs no recovery step; bounded.
    let freeRetries = 2;
    for (;;) {
      if (auth === undefined) throw new NotLoggedInError("Not logged in: sign in first.");
      const token = bearerToken(auth);
      const response = await send(prepared.url, withCredentials(prepared, auth, token, identify));
      if (response.status !== 401) return response;

      let next = manager.authCached();
      if (next !== undefined && tokenOf(next) !== token && freeRetries-- > 0) {
        await discard(response);
        auth = next;
        continue;
      }
      recovery ??= manager.unauthorizedRecovery();
      try {
        while (recovery.hasNext()) {
          await recovery.next();
          next = manager.authCached();
          if (next !== undefined && tokenOf(next) !== token) break;
        }
      } catch (err) {
        await discard(response);
        throw err;
      }
      if (next === undefined || tokenOf(next) === token) return response;
      await discard(response);
      prepared.init.signal?.throwIfAborted();
      auth = next;
    }
  };
  return authenticatedFetch as typeof fetch;
}

/** The bearer token of a snapshot, or undefined when it has none. */
function tokenOf(auth: CodexAuth): string | undefined {
  try {
    return bearerToken(auth);
  } catch {
    return undefined;
  }
}

/** Lets go of a response that will not be returned (frees its connection). */
async function discard(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // already consumed or errored: nothing to free
  }
}

function identityHeaders(
  manager: AuthManager,
  identify: AuthenticatedFetchOptions["identify"],
): ReadonlyArray<readonly [string, string]> {
  if (!identify) return [];
  const o = identify === true ? {} : identify;
  const context = manager.context;
  return [
    ["originator", resolveOriginator(context.env, o.originator ?? context.originator)],
    ["user-agent", o.userAgent ?? defaultUserAgent()],
  ];
}

/** One attempt's init: the caller's, with the credentials set on a copy of its headers. */
function withCredentials(
  prepared: Prepared,
  auth: CodexAuth,
  token: string,
  identify: ReadonlyArray<readonly [string, string]>,
): RequestInit {
  const headers = new Headers(prepared.headers);
  headers.set("authorization", `Bearer ${token}`);
  const accountId = accountIdOf(auth);
  if (accountId !== undefined) headers.set("chatgpt-account-id", accountId);
  for (const [name, value] of identify) headers.set(name, value);
  return { ...prepared.init, headers };
}

/**
 * Turns the caller's arguments into a URL and an init that can be sent more
 * than once: a `Request` is unpacked, a stream body read into memory.
 */
async function prepare(
  input: string | URL | Request,
  init: RequestInit | undefined,
  maxBody: number,
): Promise<Prepared> {
  if (!(input instanceof Request)) {
    const body = init?.body;
    if (body === undefined || body === null || isReplayable(body)) {
      return { url: input, init: { ...init }, headers: init?.headers };
    }
    return {
      url: input,
      init: { ...init, body: await readAll(body as AsyncIterable<Uint8Array>, maxBody), duplex: undefined },
      headers: init?.headers,
    };
  }
  const request = init ? new Request(input, init) : input;
  const body = request.body === null ? undefined : await readAll(request.body, maxBody);
  return {
    url: request.url,
    init: {
      method: request.method,
      ...(body !== undefined ? { body } : {}),
      signal: request.signal,
      redirect: request.redirect,
      keepalive: request.keepalive,
      integrity: request.integrity,
      referrer: request.referrer,
      referrerPolicy: request.referrerPolicy,
      cache: request.cache,
      credentials: request.credentials,
      mode: request.mode,
      // Node's fetch takes its dispatcher (proxy, CA) from the init only.
      ...(init && "dispatcher" in init ? { dispatcher: (init as { dispatcher: unknown }).dispatcher } : {}),
    } as RequestInit,
    headers: request.headers,
  };
}

function isReplayable(body: NonNullable<RequestInit["body"]>): body is ReplayableBody {
  return (
    typeof body === "string" ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    body instanceof Blob ||
    body instanceof URLSearchParams ||
    body instanceof FormData
  );
}

/** Reads a stream (or async iterable) body into one buffer, refusing more than `max` bytes. */
async function readAll(
  body: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
  max: number,
): Promise<Buffer> {
  if (max <= 0) {
    throw new RequestBodyNotReplayableError(
      "The request body is a stream, which the authenticated fetch was told not to buffer (maxBufferedBodyBytes: 0), so it could not be sent again after a 401. Pass a string, Buffer, Blob, URLSearchParams or FormData body instead.",
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
      const bytes = typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk);
      size += bytes.length;
      if (size > max) {
        throw new RequestBodyNotReplayableError(
          `The request body is a stream larger than ${max} bytes (maxBufferedBodyBytes), too large to keep for sending again after a 401. Nothing was sent. Pass a Buffer or Blob body, or raise the limit.`,
        );
      }
      chunks.push(bytes);
    }
  } catch (err) {
    if (err instanceof RequestBodyNotReplayableError) throw err;
    throw new RequestBodyNotReplayableError(
      "The request body is a stream that could not be read (already used or failed). Nothing was sent.",
      { cause: err },
    );
  }
  return Buffer.concat(chunks);
}
