import { type Deps, resolveDeps } from "../deps.js";
import { LoginError } from "../errors.js";
import { trimIssuer } from "../oauth/authorize.js";
import { type DeviceCode, pollDeviceToken, requestDeviceCode } from "../oauth/device.js";
import { backoffMs, retryTransient } from "../oauth/retry.js";
import { exchangeCodeForTokens } from "../oauth/token-exchange.js";
import type { AuthRecord } from "../record/auth-record.js";
import type { AuthStorage } from "../storage/storage.js";
import {
  chatgptRecord,
  commitLogin,
  ensureSignInCanBeStored,
  ensureWorkspaceAllowed,
  exchangeRetry,
  keepOrRevoke,
} from "./persist.js";

/** Longest wait between polls while the issuer gives no definite answer. */
const MAX_FAULT_BACKOFF_MS = 30_000;

/** How long a device code lives before Codex gives up (15 minutes). */
const DEVICE_CODE_LIFETIME_MS = 15 * 60_000;

/** Options for {@link runDeviceLogin}. `fetch`, `now`, `sleep`, `random`, `env`: see {@link Deps}. */
export interface DeviceLoginOptions extends Partial<Deps> {
  issuer: string;
  storage: AuthStorage;
  allowedWorkspaceIds?: readonly string[];
  /** Called once the code is known: show `verificationUrl` and `userCode` to the user. */
  onCode?: (code: DeviceCode) => void;
  /** Called before each poll (for a spinner). */
  onPoll?: () => void;
  /** Called once the code was approved and the tokens are being fetched and saved. */
  onCompleting?: () => void;
  /** Cancels the login (e.g. Ctrl-C): rejects with `Login cancelled`, nothing saved. */
  signal?: AbortSignal;
  /** Give up after this long (default 15 minutes, as Codex). */
  timeoutMs?: number;
  /** The OAuth client id (Codex's `--experimental_client-id`); default Codex's own. */
  clientId?: string;
}

/**
 * Device-code sign-in: request a user code, let the user approve it in any
 * browser, poll at the server's interval, then exchange and save. Old
 * credentials stay in place until the new ones are saved.
 *
 * @throws {CodexAuthError} `ERR_LOGIN_DENIED`, `ERR_LOGIN_EXPIRED`, `ERR_LOGIN_CANCELLED`,
 * `ERR_DEVICE_CODE_UNSUPPORTED`, `ERR_LOGIN_FAILED`, `ERR_LOGIN_RESTRICTED`; `ERR_AUTH_FILE_MALFORMED`
 * (and other load errors) before anything is requested when the stored credentials cannot be read;
 * `ERR_AUTH_FILE_IO` / `ERR_AUTH_FILE_READ_ONLY` before anything is requested when the result could
 * not be stored (read-only CODEX_HOME, a lock file of another user). A save that still fails after
 * the tokens were issued is `ERR_LOGIN_FAILED`, with the new refresh token revoked.
 */
export async function runDeviceLogin(o: DeviceLoginOptions): Promise<AuthRecord> {
  const deps = resolveDeps(o);
  const cancelled = () => new LoginError("ERR_LOGIN_CANCELLED", "Login cancelled");
  const net = {
    env: deps.env,
    fetch: deps.fetch,
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.clientId ? { clientId: o.clientId } : {}),
  };
  await ensureSignInCanBeStored(o.storage);
  const code = await requestDeviceCode(o.issuer, net);
  o.onCode?.(code);
  const deadline = deps.now() + (o.timeoutMs ?? DEVICE_CODE_LIFETIME_MS);
  let intervalMs = code.intervalSeconds * 1000;
  // Consecutive polls without a definite answer, and the last one's words.
  let faults = 0;
  let lastFault: string | undefined;
  for (;;) {
    if (o.signal?.aborted) throw cancelled();
    o.onPoll?.();
    const poll = await pollDeviceToken(o.issuer, code, net);
    if (poll.kind === "approved") {
      o.onCompleting?.();
      const tokens = await exchangeApproved(o, deps, poll.authorizationCode, poll.codeVerifier);
      const record = chatgptRecord(tokens, o.issuer, undefined, deps, o.clientId);
      // From here on the tokens are live: a refusal or a Ctrl-C revokes them.
      await keepOrRevoke(record, deps, async () => {
        ensureWorkspaceAllowed(tokens.id_token, o.allowedWorkspaceIds);
        // Ctrl-C while the code was being exchanged: save nothing.
        if (o.signal?.aborted) throw cancelled();
      });
      await commitLogin(o.storage, record, {
        ...deps,
        // Cancelled while waiting for storage's lock: save nothing.
        beforeSave: () => {
          if (o.signal?.aborted) throw cancelled();
        },
      });
      return record;
    }
    if (poll.kind === "slow-down") intervalMs += 5_000;
    let waitMs = intervalMs;
    if (poll.kind === "retry") {
      // The approval may already be there: keep asking, backing off, until the code expires.
      lastFault = poll.detail;
      waitMs = Math.max(intervalMs, poll.afterMs ?? 0, backoffMs(faults++, 1_000, MAX_FAULT_BACKOFF_MS));
    } else {
      faults = 0;
      lastFault = undefined;
    }
    const left = deadline - deps.now();
    if (left <= 0) {
      throw new LoginError(
        "ERR_LOGIN_EXPIRED",
        `device auth timed out after 15 minutes${lastFault ? ` (last answer: ${lastFault})` : ""}`,
      );
    }
    await deps.sleep(Math.min(waitMs, left), o.signal).catch(() => {
      throw cancelled();
    });
  }
}

/**
 * Exchanges an approved device code, trying again through transient faults
 * (bounded): the approval is not thrown away because of one 502.
 */
async function exchangeApproved(o: DeviceLoginOptions, deps: Deps, code: string, verifier: string) {
  return retryTransient(
    () =>
      exchangeCodeForTokens(code, `${trimIssuer(o.issuer)}/deviceauth/callback`, verifier, {
        issuer: o.issuer,
        flow: "device",
        env: deps.env,
        fetch: deps.fetch,
        ...(o.clientId ? { clientId: o.clientId } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
      }),
    exchangeRetry(deps, o.signal),
  ).catch((err: unknown) => {
    if (o.signal?.aborted) throw new LoginError("ERR_LOGIN_CANCELLED", "Login cancelled", { cause: err });
    throw err;
  });
}

export type { DeviceCode };
