import { STATUS_CODES } from "node:http";
import { describeError, LoginError } from "../errors.js";
import { trimIssuer } from "./authorize.js";
import { CLIENT_ID } from "./constants.js";

/** What the issuer returns when a device code is requested. */
export interface DeviceCode {
  deviceAuthId: string;
  userCode: string;
  /** Seconds between polls. */
  intervalSeconds: number;
  /** Where the user enters the code: `ISSUER/codex/device` (not taken from the response, as in Codex). */
  verificationUrl: string;
}

/** A poll's outcome. */
export type DevicePoll =
  | { kind: "pending" }
  | { kind: "slow-down" }
  | { kind: "approved"; authorizationCode: string; codeVerifier: string };

/**
 * POSTs JSON to a device-auth endpoint and reads the body. A failure to
 * connect is `ERR_LOGIN_FAILED` naming the URL, or `ERR_LOGIN_CANCELLED`
 * when `signal` was aborted.
 */
async function postJson(
  url: string,
  body: unknown,
  o: { fetch?: typeof fetch; signal?: AbortSignal },
): Promise<{ response: Response; text: string }> {
  const timeout = AbortSignal.timeout(30_000);
  try {
    const response = await (o.fetch ?? fetch)(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(body),
      signal: o.signal ? AbortSignal.any([o.signal, timeout]) : timeout,
    });
    return { response, text: await response.text() };
  } catch (cause) {
    if (o.signal?.aborted) throw new LoginError("ERR_LOGIN_CANCELLED", "Login cancelled", { cause });
    throw new LoginError("ERR_LOGIN_FAILED", `error sending request to ${url}: ${describeError(cause)}`, {
      cause,
    });
  }
}

/** A status as Codex prints one (Rust's `StatusCode` display): `500 Internal Server Error`. */
function statusLine(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? "<unknown status code>"}`;
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
export async function requestDeviceCode(
  issuer: string,
  o: { fetch?: typeof fetch; signal?: AbortSignal } = {},
): Promise<DeviceCode> {
  const base = trimIssuer(issuer);
  const { response, text } = await postJson(
    `${base}/api/accounts/deviceauth/usercode`,
    { client_id: CLIENT_ID },
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
  let obj: Record<string, unknown>;
  try {
    obj = JSON.parse(text);
  } catch {
    throw new LoginError("ERR_LOGIN_FAILED", "device code response is not JSON");
  }
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
 * (as Codex reads them).
 *
 * @throws {LoginError} `ERR_LOGIN_DENIED`, `ERR_LOGIN_EXPIRED`, or `ERR_LOGIN_FAILED` (`device auth failed with status 500 Internal Server Error`).
 */
export async function pollDeviceToken(
  issuer: string,
  code: Pick<DeviceCode, "deviceAuthId" | "userCode">,
  o: { fetch?: typeof fetch; signal?: AbortSignal } = {},
): Promise<DevicePoll> {
  const base = trimIssuer(issuer);
  const { response, text } = await postJson(
    `${base}/api/accounts/deviceauth/token`,
    { device_auth_id: code.deviceAuthId, user_code: code.userCode },
    o,
  );
  if (response.status === 403 || response.status === 404) return { kind: "pending" };
  let obj: Record<string, unknown> = {};
  try {
    obj = JSON.parse(text);
  } catch {
    // handled below
  }
  if (!response.ok) {
    const error = obj.error;
    const codeName =
      (typeof error === "string"
        ? error
        : typeof error === "object" && error !== null
          ? (error as { code?: unknown }).code
          : undefined) ?? obj.code;
    switch (typeof codeName === "string" ? codeName.toLowerCase() : undefined) {
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
      default:
        throw new LoginError(
          "ERR_LOGIN_FAILED",
          `device auth failed with status ${statusLine(response.status)}`,
        );
    }
  }
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
