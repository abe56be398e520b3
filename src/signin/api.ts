/**
 * Sign-in for applications: the flows of `codex-auth login` (browser with
 * PKCE and paste-back, device code, API key) plus host-supplied tokens,
 * started from code, reporting progress through callbacks (never printing),
 * cancelled by an `AbortSignal`, and bound to an {@link AuthManager} whose
 * cached credentials they update. One sign-in at a time per CODEX_HOME in a
 * process: starting one cancels the one in progress, as Codex's app server
 * does.
 *
 * Every guarantee of the CLI flows holds, because they run underneath: the
 * callback server on 127.0.0.1:1455 (1457 when busy) checks `state`, the
 * Host header and single use; the previous credentials stay until the new
 * ones are saved (a cancelled or failed sign-in leaves them byte for byte),
 * stored credentials that cannot be read are never replaced, the previous
 * refresh token is revoked only after the save, and `forced_login_method` /
 * `forced_chatgpt_workspace_id` are enforced.
 */
import { type AuthConfig, loadConfig } from "../config/config.js";
import { loginIssuer } from "../config/endpoints.js";
import { LoginError, LoginRestrictedError } from "../errors.js";
import { nodeCrypto } from "../lazy-require.js";
import { runDeviceLogin } from "../login/device.js";
import { ensureSignInCanBeStored } from "../login/persist.js";
import type { AuthManager } from "../manager/auth-manager.js";
import {
  dropHostTokens,
  ensureHostWorkspaceAllowed,
  type RefreshHostTokens,
} from "../manager/host-tokens.js";
import { loginWithApiKey } from "../manager/operations.js";
import type { AuthRecord } from "../record/auth-record.js";
import { accountIdOf, authFromRecord, type CodexAuth, planTypeOf } from "../record/codex-auth.js";
import type { PlanType } from "../record/plan.js";
import { beginSignIn } from "./active.js";

/** The account a sign-in ended with. */
export interface SignedInAccount {
  /** `chatgpt` (browser or device code), `apikey`, or `chatgptAuthTokens` (host-supplied tokens). */
  mode: "chatgpt" | "apikey" | "chatgptAuthTokens";
  /** The ChatGPT account's email (ID-token claim); undefined for API keys. */
  email: string | undefined;
  /** The ChatGPT plan (`"unknown"` when the token names none); undefined for API keys. */
  planType: PlanType | undefined;
  /** The ChatGPT workspace (`chatgpt_account_id`), sent as `chatgpt-account-id`; undefined for API keys. */
  accountId: string | undefined;
  /** The ChatGPT user id (`chatgpt_user_id`); undefined for API keys. */
  userId: string | undefined;
}

/** The login restrictions a sign-in enforces (the `config.toml` keys of the same names). */
export type SignInRestrictions = Pick<AuthConfig, "forcedLoginMethod" | "forcedChatgptWorkspaceIds">;

/** Options every sign-in takes. */
export interface SignInOptions {
  /** The manager whose CODEX_HOME and storage receive the credentials; it is reloaded on success. */
  manager: AuthManager;
  /**
   * Login restrictions. Default: the `config` the manager was created with,
   * else `CODEX_HOME/config.toml` (read as Codex reads it).
   */
  config?: SignInRestrictions;
  /** Cancels the sign-in: it rejects with `ERR_LOGIN_CANCELLED` and nothing is saved. */
  signal?: AbortSignal;
}

/** Options of {@link startChatgptSignIn}. */
export interface ChatgptSignInOptions extends SignInOptions {
  /** The OAuth issuer. Default: `CODEX_AUTH_ISSUER` in the manager's environment, else https://auth.openai.com. */
  issuer?: string;
  /** The `originator` sent in the authorize URL. Default: the manager's (`codex_cli_rs`). */
  originator?: string;
  /** The callback port (default 1455, as Codex); 0 picks a free one (tests; the issuer must accept it). */
  port?: number;
  /** The port used when `port` stays busy (default 1457). */
  fallbackPort?: number;
  /** Called once, before the start resolves, with what the host shows or opens. */
  onUrl?: (info: { loginId: string; authUrl: string; port: number }) => void;
  /** Called when a valid callback (or pasted URL) arrived and the tokens are being fetched and saved. */
  onCompleting?: () => void;
  /** How long (ms) the callback server keeps serving `/success` after the save (default 3000). */
  successGraceMs?: number;
}

/** A browser sign-in in progress (see {@link startChatgptSignIn}). */
export interface ChatgptSignIn {
  /** Identifies this sign-in (a UUID), e.g. for {@link cancelSignIn}. */
  readonly loginId: string;
  /** The authorize URL: open it in the user's browser or a webview. */
  readonly authUrl: string;
  /** The callback port bound on 127.0.0.1 (1455, or 1457 when 1455 stayed busy). */
  readonly port: number;
  /** `http://127.0.0.1:PORT/auth/callback`. */
  readonly redirectUri: string;
  /**
   * Headless paste-back: the final redirect URL the browser ended on (or
   * its query string, or just the code), as the user copied it. Goes
   * through the same checks as the HTTP callback. Resolves with undefined
   * when accepted (then `done` settles), or with a message to show when
   * the input was refused and the sign-in goes on (e.g. `State mismatch`).
   */
  submitPastedUrl(input: string): Promise<string | undefined>;
  /** Cancels: `done` rejects with `ERR_LOGIN_CANCELLED`, nothing is saved (no effect once saving began). */
  cancel(): void;
  /**
   * The account, once its credentials are saved and the manager reloaded.
   * Rejects with a {@link LoginError} (`ERR_LOGIN_CANCELLED`,
   * `ERR_LOGIN_DENIED`, `ERR_LOGIN_FAILED`, `ERR_TOKEN_EXCHANGE`), a
   * {@link LoginRestrictedError} (workspace not allowed), or a storage error
   * (`ERR_AUTH_FILE_MALFORMED`, `ERR_AUTH_FILE_IO`, …); the previous
   * credentials are then unchanged.
   */
  readonly done: Promise<SignedInAccount>;
  /** Settles when the callback server has closed (the port is free again). */
  readonly closed: Promise<void>;
}

/**
 * Starts a browser sign-in (authorization code + PKCE): binds the loopback
 * callback server and resolves at once with the authorize URL, which the
 * host opens in its own browser or webview. The sign-in then completes
 * through the browser's redirect to the callback server, or through
 * {@link ChatgptSignIn.submitPastedUrl} on a headless machine.
 *
 * @example
 * const signIn = await startChatgptSignIn({ manager, signal });
 * await vscode.env.openExternal(vscode.Uri.parse(signIn.authUrl));
 * const account = await signIn.done; // { mode: "chatgpt", email, planType, accountId, userId }
 *
 * @throws {LoginRestrictedError} `forced_login_method = "api"`.
 * @throws {LoginError} `ERR_PORT_IN_USE` when neither port can be bound; `ERR_LOGIN_CANCELLED`
 *   when `signal` aborted, or another sign-in for the same CODEX_HOME started, before the URL was ready.
 * @throws {AuthFileMalformedError} (or another load error) when the stored credentials cannot be read:
 *   they are never replaced.
 * @throws {ConfigError} when config.toml is invalid (only read when neither `config` nor the manager's is given).
 */
export async function startChatgptSignIn(o: ChatgptSignInOptions): Promise<ChatgptSignIn> {
  const { manager } = o;
  const context = manager.context;
  const slot = await claimSlot(o);
  try {
    const restrictions = await chatgptAllowed(o);
    slot.throwIfCancelled();
    const originator = o.originator ?? context.originator;
    // The callback server (node:http, node:net) is loaded when a browser sign-in starts, not with the library.
    const { startBrowserLogin } = await import("../login/browser.js");
    const login = await startBrowserLogin({
      issuer: o.issuer ?? loginIssuer(context.env),
      storage: manager.storage,
      env: context.env,
      ...(context.fetch ? { fetch: context.fetch } : {}),
      ...(originator ? { originator } : {}),
      ...(restrictions.forcedChatgptWorkspaceIds
        ? { allowedWorkspaceIds: restrictions.forcedChatgptWorkspaceIds }
        : {}),
      ...(o.port !== undefined ? { port: o.port } : {}),
      ...(o.fallbackPort !== undefined ? { fallbackPort: o.fallbackPort } : {}),
      ...(o.successGraceMs !== undefined ? { successGraceMs: o.successGraceMs } : {}),
      ...(o.onCompleting ? { onCompleting: o.onCompleting } : {}),
    });
    slot.onCancel(() => login.cancel());
    // Cancelled while the port was being bound: the caller never sees this sign-in.
    if (slot.cancelled()) {
      await login.closed;
      slot.throwIfCancelled();
    }
    const done = login.done.then((record) => finish(manager, record));
    done.catch(() => {}); // observed by the caller
    void done.finally(slot.finish).catch(() => {});
    void settledBoth(done, login.closed).then(slot.release);
    o.onUrl?.({ loginId: slot.loginId, authUrl: login.authUrl, port: login.port });
    return {
      loginId: slot.loginId,
      authUrl: login.authUrl,
      port: login.port,
      redirectUri: login.redirectUri,
      submitPastedUrl: (input) => login.submitPasted(input),
      cancel: () => login.cancel(),
      done,
      closed: login.closed,
    };
  } catch (err) {
    slot.release();
    throw err;
  }
}

/** Options of {@link startDeviceCodeSignIn}. */
export interface DeviceCodeSignInOptions extends SignInOptions {
  /** The OAuth issuer. Default: `CODEX_AUTH_ISSUER` in the manager's environment, else https://auth.openai.com. */
  issuer?: string;
  /** Called once, as soon as the code exists (before the start resolves): show both to the user. */
  onDeviceCode?: (code: { loginId: string; verificationUrl: string; userCode: string }) => void;
  /** Called before each poll of the issuer (for a spinner). */
  onPolling?: () => void;
  /** Called when the code was approved and the tokens are being fetched and saved. */
  onCompleting?: () => void;
  /** Give up after this many ms (default 15 minutes, as Codex): `ERR_LOGIN_EXPIRED`. */
  timeoutMs?: number;
}

/** A device-code sign-in in progress (see {@link startDeviceCodeSignIn}). */
export interface DeviceCodeSignIn {
  /** Identifies this sign-in (a UUID), e.g. for {@link cancelSignIn}. */
  readonly loginId: string;
  /** Where the user enters the code (`ISSUER/codex/device`). */
  readonly verificationUrl: string;
  /** The one-time code to enter there (e.g. `ABCD-EFGHI`); valid 15 minutes. */
  readonly userCode: string;
  /** Cancels: `done` rejects with `ERR_LOGIN_CANCELLED`, nothing is saved (no effect once saving began). */
  cancel(): void;
  /**
   * The account, once approved, saved and the manager reloaded. Rejects
   * with a {@link LoginError} (`ERR_LOGIN_CANCELLED`, `ERR_LOGIN_DENIED`,
   * `ERR_LOGIN_EXPIRED`, `ERR_LOGIN_FAILED`, `ERR_TOKEN_EXCHANGE`), a
   * {@link LoginRestrictedError} or a storage error; the previous
   * credentials are then unchanged.
   */
  readonly done: Promise<SignedInAccount>;
}

/**
 * Starts a device-code sign-in: requests a user code and resolves as soon
 * as it exists, then polls the issuer at the interval it asks for until the
 * user approves the code in any browser, and saves the tokens.
 *
 * @example
 * const signIn = await startDeviceCodeSignIn({ manager, onPolling: spin });
 * show(`Open ${signIn.verificationUrl} and enter ${signIn.userCode}`);
 * const account = await signIn.done;
 *
 * @throws {LoginRestrictedError} `forced_login_method = "api"`.
 * @throws {LoginError} `ERR_DEVICE_CODE_UNSUPPORTED` (the issuer has no device-code endpoint),
 *   `ERR_LOGIN_FAILED` (the code request failed), `ERR_LOGIN_CANCELLED`.
 * @throws {AuthFileMalformedError} (or another load error) when the stored credentials cannot be read.
 * @throws {ConfigError} when config.toml is invalid (only read when no config is given).
 */
export async function startDeviceCodeSignIn(o: DeviceCodeSignInOptions): Promise<DeviceCodeSignIn> {
  const { manager } = o;
  const context = manager.context;
  const slot = await claimSlot(o);
  try {
    const restrictions = await chatgptAllowed(o);
    slot.throwIfCancelled();
    const cancel = new AbortController();
    slot.onCancel(() => cancel.abort(new LoginError("ERR_LOGIN_CANCELLED", "Login cancelled")));
    let codeReady!: (code: { verificationUrl: string; userCode: string }) => void;
    const code = new Promise<{ verificationUrl: string; userCode: string }>((resolve) => {
      codeReady = resolve;
    });
    const record = runDeviceLogin({
      issuer: o.issuer ?? loginIssuer(context.env),
      storage: manager.storage,
      env: context.env,
      fetch: context.fetch,
      now: context.now,
      signal: cancel.signal,
      ...(restrictions.forcedChatgptWorkspaceIds
        ? { allowedWorkspaceIds: restrictions.forcedChatgptWorkspaceIds }
        : {}),
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
      ...(o.onPolling ? { onPoll: o.onPolling } : {}),
      ...(o.onCompleting ? { onCompleting: o.onCompleting } : {}),
      onCode: (c) => {
        o.onDeviceCode?.({ loginId: slot.loginId, verificationUrl: c.verificationUrl, userCode: c.userCode });
        codeReady(c);
      },
    });
    const done = record.then((r) => finish(manager, r));
    done.catch(() => {}); // observed by the caller
    void done.finally(slot.finish).catch(() => {});
    void settledBoth(done).then(slot.release);
    // The code, or the failure that came before it (unsupported issuer, cancel, unreadable storage).
    const ready = await Promise.race([code, record.then(() => code)]);
    return {
      loginId: slot.loginId,
      verificationUrl: ready.verificationUrl,
      userCode: ready.userCode,
      cancel: () => cancel.abort(new LoginError("ERR_LOGIN_CANCELLED", "Login cancelled")),
      done,
    };
  } catch (err) {
    slot.release();
    throw err;
  }
}

/** Options of {@link signInWithApiKey}. */
export interface ApiKeySignInOptions extends Omit<SignInOptions, "signal"> {
  /** The OpenAI API key, saved as it is (`auth_mode: "apikey"`). */
  apiKey: string;
}

/**
 * Saves an API key as the login (what `codex-auth login --with-api-key`
 * does), cancelling any sign-in in progress for the CODEX_HOME and dropping
 * host-supplied tokens; the manager is reloaded.
 *
 * @throws {LoginRestrictedError} `forced_login_method = "chatgpt"`.
 * @throws {AuthFileMalformedError} (or another storage error) when the stored credentials cannot be
 *   read or the key cannot be saved; nothing is changed.
 */
export async function signInWithApiKey(o: ApiKeySignInOptions): Promise<SignedInAccount> {
  const slot = await claimSlot(o);
  try {
    const restrictions = await restrictionsOf(o);
    if (restrictions.forcedLoginMethod === "chatgpt") {
      throw new LoginRestrictedError("API key login is disabled. Use ChatGPT login instead.");
    }
    await ensureSignInCanBeStored(o.manager.storage);
    await loginWithApiKey(o.manager.codexHome, o.apiKey, o.manager.storage);
    return await finish(o.manager, { auth_mode: "apikey", OPENAI_API_KEY: o.apiKey });
  } finally {
    slot.release();
  }
}

/** Options of {@link signInWithHostTokens}. */
export interface HostTokensSignInOptions extends Omit<SignInOptions, "signal"> {
  /** The ChatGPT access token (a JWT) the host manages. */
  accessToken: string;
  /** The workspace it belongs to (sent as `chatgpt-account-id`). */
  chatgptAccountId: string;
  /** The plan, when the host knows it; else taken from the token's claims, else `unknown`. */
  chatgptPlanType?: string | null;
  /**
   * Asked for new tokens when the backend answers 401 (`{ reason:
   * "unauthorized", previousAccountId }`), as Codex's app server asks its
   * client with `account/chatgptAuthTokens/refresh`. Without it, a 401 is final.
   */
  refreshTokens?: RefreshHostTokens;
}

/**
 * Uses ChatGPT tokens the host manages itself (Codex's `chatgptAuthTokens`
 * mode): kept in memory only, never written to auth.json or the keyring,
 * and winning over stored credentials until `manager.logout()`. Cancels
 * any sign-in in progress for the CODEX_HOME. See `AuthManager.useHostTokens`.
 *
 * @throws {LoginRestrictedError} `forced_login_method = "api"`, or a workspace
 *   `forced_chatgpt_workspace_id` does not list.
 * @throws {JwtMalformedError} when `accessToken` is not a JWT.
 */
export async function signInWithHostTokens(o: HostTokensSignInOptions): Promise<SignedInAccount> {
  const slot = await claimSlot(o);
  try {
    const restrictions = await chatgptAllowed(o);
    const tokens = {
      accessToken: o.accessToken,
      chatgptAccountId: o.chatgptAccountId,
      ...(o.chatgptPlanType !== undefined ? { chatgptPlanType: o.chatgptPlanType } : {}),
    };
    ensureHostWorkspaceAllowed(tokens, restrictions.forcedChatgptWorkspaceIds);
    return accountOf(await o.manager.useHostTokens(tokens, o.refreshTokens));
  } finally {
    slot.release();
  }
}

export { activeSignInId, cancelSignIn } from "./active.js";

// ---------------------------------------------------------------- internals

interface Slot {
  loginId: string;
  /** Runs `fn` when the sign-in is cancelled (at once if it already was). */
  onCancel(fn: () => void): void;
  cancelled(): boolean;
  /** @throws {LoginError} `ERR_LOGIN_CANCELLED` when cancelled. */
  throwIfCancelled(): void;
  /** Marks the outcome decided (idempotent). */
  finish(): void;
  /** Marks everything released (idempotent). */
  release(): void;
}

/**
 * Becomes the active sign-in of the manager's CODEX_HOME (cancelling and
 * waiting out the previous one) and links the caller's `signal`.
 */
async function claimSlot(o: { manager: AuthManager; signal?: AbortSignal }): Promise<Slot> {
  const loginId = nodeCrypto().randomUUID();
  let cancelled = false;
  const listeners: Array<() => void> = [];
  const cancel = () => {
    if (cancelled) return;
    cancelled = true;
    for (const fn of listeners.splice(0)) fn();
  };
  let finished = false;
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = () => {
      finished = true;
      resolve();
    };
  });
  const onAbort = () => cancel();
  o.signal?.addEventListener("abort", onAbort, { once: true });
  void released.then(() => o.signal?.removeEventListener("abort", onAbort));
  if (o.signal?.aborted) cancel();
  await beginSignIn(o.manager.codexHome, { loginId, cancel, released, finished: () => finished });
  const slot: Slot = {
    loginId,
    onCancel(fn) {
      if (cancelled) fn();
      else listeners.push(fn);
    },
    cancelled: () => cancelled,
    finish: () => {
      finished = true;
    },
    throwIfCancelled() {
      if (cancelled) throw new LoginError("ERR_LOGIN_CANCELLED", "Login cancelled");
    },
    release,
  };
  try {
    slot.throwIfCancelled();
  } catch (err) {
    release();
    throw err;
  }
  return slot;
}

/**
 * The login restrictions of a ChatGPT sign-in, after refusing one that
 * `forced_login_method = "api"` forbids (Codex's words).
 *
 * @throws {LoginRestrictedError}
 */
async function chatgptAllowed(o: SignInOptions | Omit<SignInOptions, "signal">): Promise<SignInRestrictions> {
  const restrictions = await restrictionsOf(o);
  if (restrictions.forcedLoginMethod === "api") {
    throw new LoginRestrictedError("ChatGPT login is disabled. Use API key login instead.");
  }
  return restrictions;
}

async function restrictionsOf(o: SignInOptions | Omit<SignInOptions, "signal">): Promise<SignInRestrictions> {
  if (o.config) return o.config;
  const context = o.manager.context;
  if (context.config) return context.config;
  return loadConfig({ codexHome: o.manager.codexHome, env: context.env });
}

/** After a save: host tokens give way to the new login, the manager reloads, and the account is reported. */
async function finish(manager: AuthManager, record: AuthRecord): Promise<SignedInAccount> {
  await dropHostTokens(manager.codexHome);
  await manager.reload();
  return accountOf(authFromRecord(record, manager.storage.describe()));
}

/**
 * The account a credential snapshot describes, as the sign-ins report it:
 * mode, and for ChatGPT credentials the email, plan, workspace (account id)
 * and user id from the ID token (undefined where the mode has none).
 */
export function accountOf(auth: CodexAuth): SignedInAccount {
  const chatgpt = (auth.mode === "chatgpt" || auth.mode === "chatgptAuthTokens") && auth.tokens !== undefined;
  return {
    mode: auth.mode === "apikey" || auth.mode === "chatgptAuthTokens" ? auth.mode : "chatgpt",
    email: chatgpt ? auth.idToken.email : undefined,
    planType: planTypeOf(auth),
    accountId: accountIdOf(auth),
    userId: chatgpt ? auth.idToken.chatgptUserId : undefined,
  };
}

function settledBoth(...promises: Promise<unknown>[]): Promise<void> {
  return Promise.allSettled(promises).then(() => undefined);
}
