import { LoginError, NetworkError } from "../errors.js";
import { httpReasonPhrase } from "../lazy-require.js";
import { trimIssuer } from "./authorize.js";
import { CLIENT_ID, DEVICE_AUTH_TIMEOUT_MS } from "./constants.js";
import { type HttpDeps, type HttpResponse, httpRequest, parseErrorBody } from "./http.js";
import { isTransientStatus, retryAfterMs } from "./retry.js";

/** What the issuer returns when a device code is requested. */
export interface DeviceCode {
  deviceAuthId: string;
  userCode: string;
  /** Seconds between polls. */
  intervalSeconds: number;
  /** Where the user enters the code: `ISSUER/codex/device` (not taken from the response, as in Codex). */
  verificationUrl: string;
}

/**
 * A poll's outcome. `retry`: no definite answer (no connection, a timeout,
 * 408/429/5xx) — the approval may still come; `afterMs` is the wait the
 * server asked for (`Retry-After`), `detail` says what happened.
 */
export type DevicePoll =
  | { kind: "pending" }
  | { kind: "slow-down" }
  | { kind: "retry"; detail: string; afterMs?: number }
  | { kind: "approved"; authorizationCode: string; codeVerifier: string };

/** Options of the device-auth requests: cancellation and the transport's {@link HttpDeps}. */
export interface DeviceAuthOptions extends HttpDeps {
  signal?: AbortSignal;
  /** Default {@link DEVICE_AUTH_TIMEOUT_MS} (30 s) per request. */
  timeoutMs?: number;
  /** The OAuth client id (`--experimental_client-id`); default Codex's. */
  clientId?: string;
}

/**
 * POSTs JSON to a device-auth endpoint (headers as Codex sends there: no
 * originator). No answer is `ERR_LOGIN_FAILED` naming the URL, or
 * `ERR_LOGIN_CANCELLED` when `signal` was aborted.
 */
async function postJson(url: string, value: unknown, o: DeviceAuthOptions): Promise<HttpResponse> {
  try {
    return await httpRequest(
      {
        url,
        body: { kind: "json", value },
        timeoutMs: o.timeoutMs ?? DEVICE_AUTH_TIMEOUT_MS,
        ...(o.signal ? { signal: o.signal } : {}),
      },
      o,
    );
  } catch (err) {
    if (!(err instanceof NetworkError)) throw err;
    if (err.reason === "aborted")
      throw new LoginError("ERR_LOGIN_CANCELLED", "Login cancelled", { cause: err });
    throw new LoginError("ERR_LOGIN_FAILED", `error sending request to ${url}: ${err.message}`, {
      cause: err,
    });
  }
}

/** A status as Codex prints one (Rust's `StatusCode` display): `500 Internal Server Error`. */
function statusLine(status: number): string {
  return `${status} ${httpReasonPhrase(status) ?? "<unknown status code>"}`;
}

function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Parses `interval`, which OpenAI sends as a string; numbers are accepted too. */
function parseInterval(value: unknown): number {
  const n = typeof value === "string" ? Number(value.trim()) : typeof value === "number" ? value : Number.NaN;
  return Number.isFinite(n) && n >= 0 ? n : 5;
}

/**
 * `POST ISSUER/api/accounts/deviceauth/usercode` `{client_id}`.
 *
 * @throws {CodexAuthError} `ERR_DEVICE_CODE_UNSUPPORTED` on 404 (Codex's words), `ERR_LOGIN_FAILED` otherwise.
 */
export async function requestDeviceCode(issuer: string, o: DeviceAuthOptions = {}): Promise<DeviceCode> {
  const base = trimIssuer(issuer);
  const response = await postJson(
    `${base}/api/accounts/deviceauth/usercode`,
    { client_id: o.clientId ?? CLIENT_ID },
    o,
  );
  if (response.status === 404) {
    throw new LoginError(
      "ERR_DEVICE_CODE_UNSUPPORTED",
      "device code login is not enabled for this Codex server. Use the browser login or verify the server URL.",
    );
  }
  if (!response.ok)
    throw new LoginError(
      "ERR_LOGIN_FAILED",
      `device code request failed with status ${statusLine(response.status)}`,
    );
  const obj = jsonObject(response.text);
  if (!obj) throw new LoginError("ERR_LOGIN_FAILED", "device code response is not JSON");
  const deviceAuthId = obj.device_auth_id;
  const userCode = obj.user_code ?? obj.usercode;
  if (typeof deviceAuthId !== "string" || typeof userCode !== "string") {
    throw new LoginError("ERR_LOGIN_FAILED", "device code response lacks device_auth_id or user_code");
  }
  return {
    deviceAuthId,
    userCode,
    intervalSeconds: parseInterval(obj.interval),
    verificationUrl: `${base}/codex/device`,
  };
}

/**
 * One `POST ISSUER/api/accounts/deviceauth/token` poll. 403/404 mean pending
 * (as Codex reads them); no answer, a timeout, 408, 429 and 5xx are `retry`
 * (Codex ends the login there; a transient fault must not throw away the
 * user's approval).
 *
 * @throws {LoginError} `ERR_LOGIN_DENIED`, `ERR_LOGIN_EXPIRED`, or `ERR_LOGIN_FAILED` (`device auth failed with status 500 Internal Server Error`).
 */
export async function pollDeviceToken(
  issuer: string,
  code: Pick<DeviceCode, "deviceAuthId" | "userCode">,
  o: DeviceAuthOptions = {},
): Promise<DevicePoll> {
  const base = trimIssuer(issuer);
  let response: HttpResponse;
  try {
    response = await postJson(
      `${base}/api/accounts/deviceauth/token`,
      { device_auth_id: code.deviceAuthId, user_code: code.userCode },
      o,
    );
  } catch (err) {
    if (err instanceof LoginError && err.code === "ERR_LOGIN_FAILED" && err.cause instanceof NetworkError)
      return { kind: "retry", detail: err.message };
    throw err;
  }
  if (response.status === 403 || response.status === 404) return { kind: "pending" };
  if (!response.ok) {
    switch (parseErrorBody(response.text).code?.toLowerCase()) {
      case "slow_down":
        return { kind: "slow-down" };
      case "access_denied":
      case "authorization_declined":
        throw new LoginError(
          "ERR_LOGIN_DENIED",
          "The sign-in request was denied in the browser. Nothing was saved.",
        );
      case "expired_token":
      case "device_code_expired":
        throw new LoginError(
          "ERR_LOGIN_EXPIRED",
          "The device code expired before it was approved. Run the login again for a new code.",
        );
      default: {
        const detail = `device auth failed with status ${statusLine(response.status)}`;
        if (isTransientStatus(response.status)) {
          const afterMs = retryAfterMs(response.headers.get("retry-after"), Date.now());
          return { kind: "retry", detail, ...(afterMs === undefined ? {} : { afterMs }) };
        }
        throw new LoginError("ERR_LOGIN_FAILED", detail);
      }
    }
  }
  // A 2xx that is not a JSON object lacks the fields: reported below.
  const obj = jsonObject(response.text) ?? {};
  const authorizationCode = obj.authorization_code;
  const codeVerifier = obj.code_verifier;
  if (typeof authorizationCode !== "string" || typeof codeVerifier !== "string") {
    throw new LoginError(
      "ERR_LOGIN_FAILED",
      "device auth response lacks authorization_code or code_verifier",
    );
  }
  return { kind: "approved", authorizationCode, codeVerifier };
}
