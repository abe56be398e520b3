import type { Env } from "../config/env.js";
import { LoginError } from "../errors.js";
import { trimIssuer } from "../oauth/authorize.js";
import { type DeviceCode, pollDeviceToken, requestDeviceCode } from "../oauth/device.js";
import { exchangeCodeForTokens } from "../oauth/token-exchange.js";
import type { AuthRecord } from "../record/auth-record.js";
import type { AuthStorage } from "../storage/storage.js";
import { chatgptRecord, commitLogin, ensureWorkspaceAllowed } from "./persist.js";

/** Options for {@link runDeviceLogin}. */
export interface DeviceLoginOptions {
  issuer: string;
  storage: AuthStorage;
  allowedWorkspaceIds?: readonly string[];
  env?: Env;
  fetch?: typeof fetch;
  /** Called once the code is known: show `verificationUrl` and `userCode` to the user. */
  onCode?: (code: DeviceCode) => void;
  /** Called before each poll (for a spinner). */
  onPoll?: () => void;
  /** Cancels the login (e.g. Ctrl-C): rejects with `Login cancelled`, nothing saved. */
  signal?: AbortSignal;
  /** Give up after this long (default 15 minutes, as Codex). */
  timeoutMs?: number;
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new LoginError("ERR_LOGIN_CANCELLED", "Login cancelled"));
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new LoginError("ERR_LOGIN_CANCELLED", "Login cancelled"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Device-code sign-in: request a user code, let the user approve it in any
 * browser, poll at the server's interval, then exchange and save. Old
 * credentials stay in place until the new ones are saved.
 *
 * @throws {CodexAuthError} `ERR_LOGIN_DENIED`, `ERR_LOGIN_EXPIRED`, `ERR_LOGIN_CANCELLED`,
 * `ERR_DEVICE_CODE_UNSUPPORTED`, `ERR_LOGIN_FAILED`, `ERR_LOGIN_RESTRICTED`.
 */
export async function runDeviceLogin(o: DeviceLoginOptions): Promise<AuthRecord> {
  const net = { ...(o.fetch ? { fetch: o.fetch } : {}), ...(o.signal ? { signal: o.signal } : {}) };
  const code = await requestDeviceCode(o.issuer, net);
  o.onCode?.(code);
  const deadline = Date.now() + (o.timeoutMs ?? 15 * 60_000);
  let intervalMs = code.intervalSeconds * 1000;
  for (;;) {
    if (o.signal?.aborted) throw new LoginError("ERR_LOGIN_CANCELLED", "Login cancelled");
    o.onPoll?.();
    const poll = await pollDeviceToken(o.issuer, code, net);
    if (poll.kind === "approved") {
      const tokens = await exchangeCodeForTokens(
        poll.authorizationCode,
        `${trimIssuer(o.issuer)}/deviceauth/callback`,
        poll.codeVerifier,
        { issuer: o.issuer, flow: "device", ...(o.fetch ? { fetch: o.fetch } : {}) },
      );
      ensureWorkspaceAllowed(tokens.id_token, o.allowedWorkspaceIds);
      const record = chatgptRecord(tokens, o.issuer, undefined);
      // Ctrl-C while the code was being exchanged: save nothing.
      if (o.signal?.aborted) throw new LoginError("ERR_LOGIN_CANCELLED", "Login cancelled");
      await commitLogin(o.storage, record, {
        ...(o.env ? { env: o.env } : {}),
        ...(o.fetch ? { fetch: o.fetch } : {}),
      });
      return record;
    }
    if (poll.kind === "slow-down") intervalMs += 5_000;
    const left = deadline - Date.now();
    if (left <= 0) throw new LoginError("ERR_LOGIN_EXPIRED", "device auth timed out after 15 minutes");
    await abortableSleep(Math.min(intervalMs, left), o.signal);
  }
}

export type { DeviceCode };
