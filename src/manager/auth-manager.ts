import type { AuthConfig, CredentialsStoreMode } from "../config/config.js";
import { refreshEndpoint } from "../config/endpoints.js";
import { type Env, readCodexApiKeyFromEnv } from "../config/env.js";
import type { ResidencyRequirement } from "../config/requirements.js";
import { type Deps, resolveDeps } from "../deps.js";
import { describeError, NetworkError, RefreshTokenError } from "../errors.js";
import type { AccountDetails } from "../oauth/accounts-check.js";
import {
  ACCOUNT_CHANGED_MESSAGE,
  type RefreshedTokens,
  type RefreshReason,
  requestTokenRefresh,
} from "../oauth/refresh.js";
import { isTransientStatus, retryTransient } from "../oauth/retry.js";
import { type AuthMode, type AuthRecord, nowRfc3339, type StoredTokens } from "../record/auth-record.js";
import { parseIdToken } from "../record/claims.js";
import {
  accountIdOf,
  authFromRecord,
  type ChatgptAuth,
  type CodexAuth,
  isManagedChatgpt,
  sameCredentials,
} from "../record/codex-auth.js";
import {
  CLOCK_SKEW_WARN_MS,
  clockOffsetMs,
  DEFAULT_REFRESH_WINDOW_MS,
  isStale,
} from "../record/staleness.js";
import { createStorage } from "../storage/index.js";
import type { AuthStorage, AuthTransaction } from "../storage/storage.js";
import type { StorageWatch } from "../storage/watch.js";
import {
  type AuthChangeEvent,
  type AuthChangeListener,
  type AuthWatchOptions,
  describeChange,
  watchStorage,
} from "./account-changes.js";
import {
  dropHostTokens,
  ensureHostWorkspaceAllowed,
  type HostTokens,
  hostTokensAuth,
  hostTokensRecord,
  hostTokensStorage,
  loadHostTokens,
  type RefreshHostTokens,
} from "./host-tokens.js";
import { loadAuth, logout as logoutStored } from "./operations.js";
import { UnauthorizedRecovery } from "./recovery.js";
import { enforceLoginRestrictions } from "./restrictions.js";

/** Options for {@link AuthManager.create}. `fetch`, `now`, `sleep`, `random`, `env`: see {@link Deps}. */
export interface AuthManagerOptions extends Partial<Deps> {
  codexHome: string;
  /** A backend to use; default: built from `credentialsStore`. Its own transactions are used as they are. */
  storage?: AuthStorage;
  /** Default `"file"` (or `config.credentialsStore` when a config is given). */
  credentialsStore?: CredentialsStoreMode;
  /**
   * `[features] secret_auth_storage`: `keyring` and `auto` keep credentials in
   * Codex's encrypted store (see `EncryptedAuthStorage`). Default false (or
   * `config.secretAuthStorage` when a config is given).
   */
  secretAuthStorage?: boolean;
  /** Honour `CODEX_API_KEY`. Default false. */
  enableCodexApiKeyEnv?: boolean;
  /** When given, login restrictions are enforced at creation (as Codex does at start-up). */
  config?: AuthConfig;
  /** Where to report problems that do not stop the caller (never secrets). Default: silent. */
  log?: (message: string) => void;
  /**
   * Follow changes that other processes (Codex, codex-auth, anything writing
   * the same storage) make: sign-in, refresh, account switch, logout. The
   * manager reloads and emits an {@link AuthChangeEvent}. auth.json is
   * watched through the OS (a change arrives within milliseconds); the
   * keyring, memory and custom backends are polled (`pollIntervalMs`).
   * `true` = default options. Default false. Stop with {@link AuthManager.close}.
   */
  watch?: boolean | AuthWatchOptions;
  /**
   * Receives every change of the credentials in effect, whatever made it
   * (another process, or this manager's refresh, logout or reload), at most
   * once per change. Same as calling {@link AuthManager.onChange} right
   * after creation, but also sees changes made during `create` (a logout
   * forced by login restrictions).
   */
  onChange?: AuthChangeListener;
  /**
   * Called when {@link AuthManager.auth} could not refresh stale tokens and
   * returned the old snapshot instead. Default: the message goes to `log`.
   */
  onRefreshFailed?: (error: RefreshTokenError) => void;
  /**
   * The `originator` header sent on refresh and revoke: the host
   * application's name (default `codex_cli_rs`, as Codex's CLI;
   * `CODEX_INTERNAL_ORIGINATOR_OVERRIDE` still wins).
   */
  originator?: string;
  /**
   * The administrator's `enforce_residency`
   * (`config.requirements?.enforceResidency`), sent as
   * `x-openai-internal-codex-residency` on refresh and revoke. Codex 0.169's
   * app server sends it there; its CLI does not, so it is opt-in. Default:
   * not sent.
   */
  residency?: ResidencyRequirement;
  /**
   * Called once per manager when the local clock looks wrong: it was more
   * than 5 minutes off the issuer's when the tokens arrived
   * (`offsetMs` > 0: local clock ahead). Expiry is judged from elapsed time,
   * so nothing breaks, but other programs may. Default: a warning to `log`.
   */
  onClockSkew?: (offsetMs: number) => void;
  /** Refresh when the access token expires within this many ms (default 5 minutes). */
  refreshWindowMs?: number;
  /** Timeout of one refresh request in ms (default 30 s). */
  refreshTimeoutMs?: number;
  /**
   * After the issuer says our refresh token was already used, how long (ms)
   * to wait for the process that spent it to save its result (default 2 s).
   */
  adoptWaitMs?: number;
}

/**
 * What sign-ins, the authenticated fetch and the usage reader started for a
 * manager share with it (see {@link AuthManager.context}).
 */
export interface ManagerContext {
  env: Env;
  fetch: typeof fetch | undefined;
  originator: string | undefined;
  config: AuthConfig | undefined;
  now(): number;
}

/** Outcome of {@link AuthManager.reloadIfAccountIdMatches}. */
export type ReloadOutcome = "reloaded" | "skipped-no-account" | "skipped-other-account";

/** What one refresh transaction ended with. */
type RefreshOutcome =
  | { kind: "adopt"; auth: CodexAuth }
  | { kind: "unsaved"; auth: CodexAuth; error: RefreshTokenError }
  | { kind: "spent"; error: RefreshTokenError; refreshToken: string };

/** Why a record without a refresh token cannot be refreshed, and what to do. */
export const MISSING_REFRESH_TOKEN_MESSAGE =
  "Your access token could not be refreshed because no refresh token is stored. Sign in again with `codex-auth login`.";

/** Wait before the one retry of a refresh that got no definite answer. */
const REFRESH_RETRY_MS = 1_000;

/** How often storage is re-read while waiting for another process's rotation. */
const ADOPT_POLL_MS = 25;

/**
 * The single source of truth for credentials in a process. Loads once,
 * caches, and hands out immutable {@link CodexAuth} snapshots; refreshes
 * stale ChatGPT tokens without races: concurrent callers share one in-flight
 * refresh, and processes (ours and real Codex) are serialized by the
 * storage's transaction (for the built-in backends, Codex's own
 * `auth.lock`, held across read → refresh → write).
 *
 * @example
 * const manager = await AuthManager.create({ codexHome: findCodexHome() });
 * const auth = await manager.auth(); // refreshed first when about to expire
 * if (auth) headers.authorization = `Bearer ${bearerToken(auth)}`;
 */
export class AuthManager {
  readonly codexHome: string;
  readonly storage: AuthStorage;
  private readonly options: AuthManagerOptions;
  private readonly deps: Deps;
  private readonly windowMs: number;
  private current: CodexAuth | undefined;
  private failedLoad: unknown;
  private inflight: Promise<void> | undefined;
  /**
   * The stored refresh token this process spent in a rotation whose result
   * could not be saved: storage still holding it means our tokens are newer.
   */
  private unsavedRotationFrom: string | undefined;
  /** accounts/check's answer for the credentials it was asked with (account id and ID token). */
  private accountDetailsCache: { key: string; details: AccountDetails } | undefined;
  /** A permanent failure, remembered for the refresh token that caused it. */
  private permanentFailure: { refreshToken: string; error: RefreshTokenError } | undefined;
  /** The host's refresher for host-supplied tokens (see {@link AuthManager.useHostTokens}). */
  private hostRefresher: RefreshHostTokens | undefined;
  private readonly listeners = new Set<AuthChangeListener>();
  /** Bumped by every {@link setCurrent}: a storage read that started before is stale. */
  private generation = 0;
  private watcher: StorageWatch | undefined;
  /** The reload a storage signal started; at most one at a time. */
  private following: Promise<void> | undefined;
  /** A signal arrived while `following` (or before the first load): read once more. */
  private followAgain = false;
  private loaded = false;
  private closed = false;

  private constructor(options: AuthManagerOptions, storage: AuthStorage) {
    this.options = options;
    this.deps = resolveDeps(options);
    this.codexHome = options.codexHome;
    this.storage = storage;
    this.windowMs = options.refreshWindowMs ?? DEFAULT_REFRESH_WINDOW_MS;
  }

  /**
   * Creates a manager and loads the credentials. A record that cannot be
   * read counts as logged out (reported through `log`).
   *
   * With `watch`, the watch starts before the first read (nothing written
   * in between is missed) and is stopped again when creation fails.
   *
   * @throws {LoginRestrictedError} when `config` forbids the stored credentials (they are logged out first).
   */
  static async create(options: AuthManagerOptions): Promise<AuthManager> {
    const storage =
      options.storage ??
      (await createStorage(
        options.codexHome,
        options.credentialsStore ?? options.config?.credentialsStore ?? "file",
        { secretAuthStorage: options.secretAuthStorage ?? options.config?.secretAuthStorage ?? false },
      ));
    const manager = new AuthManager(options, storage);
    if (options.onChange) manager.listeners.add(options.onChange);
    // Watching starts before the first read, so nothing written in between is
    // missed: signals that arrive meanwhile are replayed once it is done.
    if (options.watch) manager.startWatching(options.watch === true ? {} : options.watch);
    try {
      manager.current = await manager.loadQuietly();
      manager.checkClock(manager.current);
      manager.loaded = true;
      if (manager.followAgain) manager.onStorageSignal();
      if (options.config) {
        // Codex's forced logout clears the stores only; config.toml stays as it is.
        await enforceLoginRestrictions(manager.current, options.config, () =>
          manager.logout({ clearBedrockProvider: false }),
        );
      }
    } catch (err) {
      await manager.close();
      throw err;
    }
    return manager;
  }

  /** The cached snapshot, without I/O or allocation. */
  authCached(): CodexAuth | undefined {
    return this.current;
  }

  /**
   * The current credentials, refreshed first when ChatGPT tokens are stale.
   * A failed refresh does not throw: `onRefreshFailed` gets the typed error
   * (default: its message goes to `log`) and the old snapshot is returned.
   */
  async auth(): Promise<CodexAuth | undefined> {
    const current = this.current;
    if (current === undefined || !isStale(current, this.deps.now(), this.windowMs)) return current;
    if (isManagedChatgpt(current) && this.permanentFailure?.refreshToken === current.tokens.refresh_token)
      return current;
    try {
      await this.refreshShared("proactive_expiry");
    } catch (err) {
      const error = asRefreshError(err);
      if (this.options.onRefreshFailed) this.options.onRefreshFailed(error);
      else this.options.log?.(error.message);
      // The old snapshot — or, when a rotation could not be saved, the new tokens kept in memory.
      return this.current;
    }
    return this.current;
  }

  /**
   * Refreshes ChatGPT tokens now (API keys: nothing to do). Concurrent calls
   * share one refresh.
   *
   * @throws {RefreshTokenError} permanent or transient; stored tokens are untouched on failure.
   * @throws {CodexAuthError} when the refreshed tokens could not be saved.
   */
  async refreshToken(): Promise<void> {
    await this.refreshShared("forced");
  }

  /** Re-reads storage; true when the credentials changed. */
  async reload(): Promise<boolean> {
    return this.setCurrent(this.keepUnsaved(await this.loadQuietly()));
  }

  /**
   * Reloads only when storage still holds the account `expected` (the
   * seed's guarded reload for unauthorized recovery).
   */
  async reloadIfAccountIdMatches(expected: string | undefined): Promise<ReloadOutcome> {
    if (expected === undefined) return "skipped-no-account";
    const next = this.keepUnsaved(await this.loadQuietly());
    if (accountIdOf(next) !== expected) return "skipped-other-account";
    this.setCurrent(next);
    return "reloaded";
  }

  /**
   * Logs out (revoking managed ChatGPT tokens best effort, and taking
   * config.toml off Amazon Bedrock as Codex's logout does, unless
   * `clearBedrockProvider` is false) and drops host-supplied tokens; true
   * when something was removed.
   */
  async logout(options: { clearBedrockProvider?: boolean } = {}): Promise<boolean> {
    const droppedHostTokens = await dropHostTokens(this.codexHome);
    this.hostRefresher = undefined;
    const removed = await logoutStored(this.codexHome, this.storage, {
      env: this.deps.env,
      fetch: this.deps.fetch,
      sleep: this.deps.sleep,
      originator: this.options.originator,
      ...(this.options.residency ? { residency: this.options.residency } : {}),
      ...options,
    });
    await this.reload();
    return removed || droppedHostTokens;
  }

  /**
   * Uses ChatGPT tokens the host application manages itself (Codex's
   * `chatgptAuthTokens` mode) instead of stored credentials: kept in memory
   * only (this process's ephemeral slot for the CODEX_HOME, where Codex
   * keeps them) and never written to auth.json or the keyring; they win
   * over stored credentials until {@link AuthManager.logout}. codex-auth never
   * refreshes them itself: when the backend answers 401, the
   * {@link UnauthorizedRecovery} (and so the authenticated fetch) calls
   * `refresh` with `{ reason: "unauthorized", previousAccountId }` and uses
   * what it returns. Without `refresh`, a 401 is final.
   *
   * @returns the new snapshot (mode `chatgptAuthTokens`).
   * @throws {JwtMalformedError} when `accessToken` is not a JWT.
   * @throws {LoginRestrictedError} when `config.forcedChatgptWorkspaceIds` does not list the account.
   */
  async useHostTokens(tokens: HostTokens, refresh?: RefreshHostTokens): Promise<ChatgptAuth> {
    const record = hostTokensRecord(tokens, this.deps.now());
    ensureHostWorkspaceAllowed(tokens, this.options.config?.forcedChatgptWorkspaceIds);
    await hostTokensStorage(this.codexHome).save(record);
    this.hostRefresher = refresh;
    const auth = hostTokensAuth(record);
    this.setCurrent(auth);
    return auth;
  }

  /** Whether a refresher for host-supplied tokens is set (see {@link AuthManager.useHostTokens}). */
  hasHostTokensRefresher(): boolean {
    return this.hostRefresher !== undefined;
  }

  /**
   * What sign-ins, the authenticated fetch and the usage reader started for
   * this manager share with it: the environment, `fetch`, originator, config
   * and clock it was created with.
   */
  get context(): ManagerContext {
    return {
      env: this.deps.env,
      fetch: this.deps.fetch,
      originator: this.options.originator,
      config: this.options.config,
      now: this.deps.now,
    };
  }

  /**
   * Registers `listener` for every change of the credentials in effect:
   * changes by other processes (with the `watch` option), and those this
   * manager makes itself (refresh, logout, reload). One event per change at
   * most; a listener that throws is reported through `log`.
   *
   * @returns a function that unregisters the listener.
   * @example
   * const manager = await AuthManager.create({ codexHome, watch: true });
   * manager.onChange((e) => {
   *   if (e.kind === "signed-out") showSignIn();
   *   else showAccount(e.account.email, e.account.plan);
   * });
   */
  onChange(listener: AuthChangeListener): () => void {
    if (!this.closed) this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * Stops watching storage and delivering change events; resolves once a
   * reload in progress has finished (no event is delivered after that). The
   * manager stays usable (`auth()`, `authCached()`, refresh). Idempotent.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    this.watcher?.close();
    this.watcher = undefined;
    await this.following;
  }

  /** `await using manager = await AuthManager.create(…)`: {@link close} at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * The workspace name and routing of ChatGPT credentials, as Codex 0.169's
   * app server reports them in `account/read` (`workspaceName`,
   * `workspaceRouting`): asked of the ChatGPT backend's `accounts/check`
   * (`config.chatgptBaseUrl`, default `https://chatgpt.com/backend-api`)
   * with fresh tokens, then cached for these credentials; a new sign-in or
   * another account asks again. Undefined for other modes and for tokens
   * without an account id (Codex reports null then).
   *
   * @throws {AccountDetailsError} `ERR_ACCOUNT_DETAILS` with Codex's words when the backend does not describe the workspace.
   */
  async accountDetails(): Promise<AccountDetails | undefined> {
    const auth = await this.auth();
    if ((auth?.mode !== "chatgpt" && auth?.mode !== "chatgptAuthTokens") || !auth.tokens) return undefined;
    const accountId = auth.tokens.account_id;
    if (!accountId) return undefined;
    const key = `${accountId}\n${auth.tokens.id_token}`;
    if (this.accountDetailsCache?.key === key) return this.accountDetailsCache.details;
    const { requestAccountDetails } = await import("../oauth/accounts-check.js");
    const details = await requestAccountDetails(auth.tokens.access_token, accountId, {
      env: this.deps.env,
      fetch: this.deps.fetch,
      originator: this.options.originator,
      ...(this.options.config?.chatgptBaseUrl ? { chatgptBaseUrl: this.options.config.chatgptBaseUrl } : {}),
    });
    this.accountDetailsCache = { key, details };
    return details;
  }

  /** The mode of the cached credentials. */
  getAuthMode(): AuthMode | undefined {
    return this.current?.mode;
  }

  /** A recovery state machine for an API call that got HTTP 401 (see {@link UnauthorizedRecovery}). */
  unauthorizedRecovery(): UnauthorizedRecovery {
    return new UnauthorizedRecovery(this);
  }

  /** What was loaded — unless it is the spent token of an unsaved rotation, which our tokens replace. */
  private keepUnsaved(loaded: CodexAuth | undefined): CodexAuth | undefined {
    const spent = this.unsavedRotationFrom;
    if (spent !== undefined && isManagedChatgpt(loaded) && loaded.tokens.refresh_token === spent)
      return this.current;
    return loaded;
  }

  private setCurrent(next: CodexAuth | undefined): boolean {
    const previous = this.current;
    const changed = !sameCredentials(previous, next);
    this.current = next;
    this.generation++;
    if (changed) {
      this.checkClock(next);
      this.emit(describeChange(previous, next));
    }
    return changed;
  }

  private emit(event: AuthChangeEvent | undefined): void {
    if (event === undefined || this.closed) return;
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (err) {
        this.options.log?.(`a change listener failed: ${describeError(err)}`);
      }
    }
  }

  private startWatching(options: AuthWatchOptions): void {
    this.watcher = watchStorage(this.storage, this.codexHome, () => this.onStorageSignal(), {
      ...options,
      log: this.options.log,
    });
  }

  /** Storage may have changed: read it again — one read at a time, and once more if signalled meanwhile. */
  private onStorageSignal(): void {
    if (this.closed) return;
    if (!this.loaded || this.following) {
      this.followAgain = true;
      return;
    }
    this.following = this.followStorage().finally(() => {
      this.following = undefined;
    });
  }

  private async followStorage(): Promise<void> {
    do {
      this.followAgain = false;
      const generation = this.generation;
      let loaded: CodexAuth | undefined;
      try {
        loaded = await this.loadEffective();
      } catch (err) {
        // Unreadable now (a hand edit mid-save, a keyring hiccup): keep what
        // is cached rather than report a logout; the next change is read again.
        this.options.log?.(`failed to reload changed credentials: ${describeError(err)}`);
        continue;
      }
      if (this.closed) return;
      // Something newer (say, this manager's refresh) was set while this read
      // ran: what was read may predate it, so read again.
      if (generation !== this.generation) {
        this.followAgain = true;
        continue;
      }
      this.setCurrent(this.keepUnsaved(loaded));
    } while (this.followAgain && !this.closed);
  }

  private clockReported = false;
  private checkClock(auth: CodexAuth | undefined): void {
    if (this.clockReported || auth === undefined) return;
    const offset = clockOffsetMs(auth);
    if (offset === undefined || Math.abs(offset) <= CLOCK_SKEW_WARN_MS) return;
    this.clockReported = true;
    if (this.options.onClockSkew) this.options.onClockSkew(offset);
    else this.options.log?.(clockSkewWarning(offset));
  }

  /**
   * The credentials in effect: host-supplied tokens win over stored
   * credentials (only CODEX_API_KEY, when enabled, wins over them), as in Codex.
   */
  private async loadEffective(): Promise<CodexAuth | undefined> {
    const envKeyWins = this.options.enableCodexApiKeyEnv && readCodexApiKeyFromEnv(this.deps.env);
    const host = envKeyWins ? undefined : await loadHostTokens(this.codexHome);
    if (host) return host;
    return loadAuth(this.storage, {
      enableCodexApiKeyEnv: this.options.enableCodexApiKeyEnv ?? false,
      env: this.deps.env,
      fetch: this.deps.fetch,
      originator: this.options.originator,
      forcedLoginMethod: this.options.config?.forcedLoginMethod,
      // A personal access token is confirmed with OpenAI on every load, as Codex does.
      checkAccessTokens: true,
    });
  }

  private async loadQuietly(): Promise<CodexAuth | undefined> {
    try {
      const auth = await this.loadEffective();
      this.failedLoad = undefined;
      return auth;
    } catch (err) {
      this.failedLoad = err;
      this.options.log?.(`failed to load credentials: ${describeError(err)}`);
      return undefined;
    }
  }

  /**
   * Why the last read of the credentials failed (the typed error, e.g.
   * `AuthFileMalformedError`, `PersonalAccessTokenError`), or undefined
   * when it succeeded. The manager then carries on as logged out; this
   * tells a caller why.
   */
  get loadError(): unknown {
    return this.failedLoad;
  }

  private refreshShared(reason: RefreshReason): Promise<void> {
    this.inflight ??= this.refreshGuarded(reason).finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  /**
   * One refresh inside one storage transaction. Invariant for every write:
   * never write refreshed tokens into a record that belongs to another
   * account or whose refresh token changed since it was read — adopt what
   * is there instead.
   */
  private async refreshGuarded(reason: RefreshReason): Promise<void> {
    const snapshot = this.current;
    if (snapshot?.mode === "chatgptAuthTokens") return this.refreshHostTokens(snapshot);
    if (!isManagedChatgpt(snapshot)) return;
    const ours = snapshot.tokens;
    const memo = this.permanentFailure;
    if (memo?.refreshToken === ours.refresh_token) throw memo.error;
    const account = snapshot.accountId;

    const outcome = await this.storage.transaction(async (tx): Promise<RefreshOutcome> => {
      const read = await this.readForRefresh(tx);
      // Storage still holds the token this process spent in a rotation it
      // could not save: our in-memory tokens are the live ones.
      const stored =
        isManagedChatgpt(read) && read.tokens.refresh_token === this.unsavedRotationFrom ? snapshot : read;
      if (!isManagedChatgpt(stored) || stored.accountId !== account) {
        throw new RefreshTokenError("ERR_ACCOUNT_CHANGED", ACCOUNT_CHANGED_MESSAGE, {
          permanent: true,
          reason: "other",
        });
      }
      // Another process already refreshed: adopt its tokens.
      if (stored.tokens.refresh_token !== ours.refresh_token) return { kind: "adopt", auth: stored };
      // Nothing to send: decided here, without a request the issuer can only refuse.
      if (stored.tokens.refresh_token.trim() === "") {
        const error = new RefreshTokenError("ERR_REFRESH_TOKEN_FAILED", MISSING_REFRESH_TOKEN_MESSAGE, {
          permanent: true,
          reason: "missing",
        });
        this.permanentFailure = { refreshToken: stored.tokens.refresh_token, error };
        throw error;
      }
      // A refresh token is spent only when its result can be stored: a
      // read-only auth.json must fail here, not after the rotation.
      try {
        await tx.probeSave?.();
      } catch (err) {
        throw new RefreshTokenError(
          "ERR_REFRESH_TRANSIENT",
          `Failed to refresh token: the new tokens could not be saved, so the refresh token was not used: ${describeError(err)}`,
          { permanent: false, cause: err },
        );
      }
      let refreshed: RefreshedTokens;
      try {
        const request = {
          url: refreshEndpoint(this.deps.env, stored.record),
          reason,
          env: this.deps.env,
          fetch: this.deps.fetch,
          originator: this.options.originator,
          ...(this.options.residency ? { residency: this.options.residency } : {}),
          ...(this.options.refreshTimeoutMs ? { timeoutMs: this.options.refreshTimeoutMs } : {}),
        };
        const refreshToken = stored.tokens.refresh_token;
        // One more try after a fault without a definite answer; a permanent failure never retries.
        refreshed = await retryTransient(() => requestTokenRefresh(refreshToken, request), {
          attempts: 2,
          baseMs: REFRESH_RETRY_MS,
          capMs: REFRESH_RETRY_MS,
          sleep: this.deps.sleep,
          transient: refreshFaultVerdict,
        });
      } catch (err) {
        // The winner may be a Codex process blocked on the auth.lock this
        // transaction holds, waiting to write its new tokens: end the
        // transaction to let it, then adopt them.
        if (err instanceof RefreshTokenError && err.reason === "exhausted")
          return { kind: "spent", error: err, refreshToken: stored.tokens.refresh_token };
        if (err instanceof RefreshTokenError && err.permanent)
          this.permanentFailure = { refreshToken: stored.tokens.refresh_token, error: err };
        throw err;
      }
      const record = applyRefresh(stored.record, refreshed, this.deps.now());
      const auth = authFromRecord(record, this.storage.describe());
      try {
        await tx.save(record);
        this.unsavedRotationFrom = undefined;
      } catch (err) {
        // The old refresh token is spent: the new tokens are the only valid
        // ones. Keep them for this process rather than drop them.
        return { kind: "unsaved", auth, error: notSavedError(this.storage.describe(), err) };
      }
      return { kind: "adopt", auth };
    });
    if (outcome.kind === "adopt") {
      this.setCurrent(outcome.auth);
      return;
    }
    if (outcome.kind === "unsaved") {
      // Only the first spent token is remembered: storage still holds that one.
      this.unsavedRotationFrom ??= ours.refresh_token;
      this.setCurrent(outcome.auth);
      throw outcome.error;
    }
    const adopted = await this.waitForRotation(outcome.refreshToken, account);
    if (adopted) {
      this.setCurrent(adopted);
      return;
    }
    this.permanentFailure = { refreshToken: outcome.refreshToken, error: outcome.error };
    throw outcome.error;
  }

  /**
   * Asks the host for new host-supplied tokens (Codex's external refresh:
   * any failure of the host's is transient unless it is a RefreshTokenError).
   */
  private async refreshHostTokens(snapshot: CodexAuth): Promise<void> {
    const refresh = this.hostRefresher;
    if (!refresh) {
      throw new RefreshTokenError(
        "ERR_REFRESH_TRANSIENT",
        "Failed to refresh token: the host supplied these tokens but no refresher to renew them.",
        { permanent: false },
      );
    }
    let record: AuthRecord;
    try {
      const tokens = await refresh({
        reason: "unauthorized",
        previousAccountId: accountIdOf(snapshot) ?? null,
      });
      record = hostTokensRecord(tokens, this.deps.now());
      ensureHostWorkspaceAllowed(tokens, this.options.config?.forcedChatgptWorkspaceIds);
    } catch (err) {
      if (err instanceof RefreshTokenError) throw err;
      throw new RefreshTokenError(
        "ERR_REFRESH_TRANSIENT",
        `Failed to refresh token: the host could not supply new tokens: ${describeError(err)}`,
        { permanent: false, cause: err },
      );
    }
    // Logged out (or replaced) while the host was asked: keep what is there now.
    if (!sameCredentials(this.current, snapshot)) return;
    await hostTokensStorage(this.codexHome).save(record);
    this.setCurrent(hostTokensAuth(record));
  }

  private async readForRefresh(tx: AuthTransaction): Promise<CodexAuth | undefined> {
    try {
      const record = await tx.load();
      return record && authFromRecord(record, this.storage.describe());
    } catch (err) {
      throw new RefreshTokenError("ERR_REFRESH_TRANSIENT", `Failed to refresh token: ${describeError(err)}`, {
        permanent: false,
        cause: err,
      });
    }
  }

  /** Polls storage (bounded by `adoptWaitMs`) until it holds a different refresh token for the same account. */
  private async waitForRotation(
    spent: string,
    account: string | undefined,
  ): Promise<ChatgptAuth | undefined> {
    const deadline = this.deps.now() + (this.options.adoptWaitMs ?? 2_000);
    for (;;) {
      const stored = await loadAuth(this.storage, { codexAccessTokenEnv: false }).catch(() => undefined);
      if (isManagedChatgpt(stored) && stored.tokens.refresh_token !== spent && stored.accountId === account)
        return stored;
      if (this.deps.now() >= deadline) return undefined;
      await this.deps.sleep(ADOPT_POLL_MS);
    }
  }
}

/**
 * Whether a failed refresh request may succeed when repeated: no connection
 * or a timeout (no HTTP answer), or 408/429/5xx. Everything else — permanent
 * failures, other 4xx, unusable answers, a CA error — is final.
 */
function refreshFaultVerdict(err: unknown): { retry: boolean } {
  if (!(err instanceof RefreshTokenError) || err.permanent) return { retry: false };
  if (err.status !== undefined) return { retry: isTransientStatus(err.status) };
  return { retry: err.cause instanceof NetworkError && err.cause.reason !== "aborted" };
}

/**
 * The one-line warning for a wrong clock: how far off, which way, and what
 * to do. `offsetMs` > 0: the local clock is ahead.
 */
export function clockSkewWarning(offsetMs: number): string {
  const minutes = Math.round(Math.abs(offsetMs) / 60_000);
  const amount = minutes >= 120 ? `${Math.round(minutes / 60)} hours` : `${minutes} minutes`;
  return `Warning: this machine's clock is about ${amount} ${offsetMs > 0 ? "ahead of" : "behind"} the issuer's. codex-auth judges token expiry by the time since the tokens arrived, but other programs may refresh too often or too late: set the clock right (e.g. enable time synchronization).`;
}

/** A rotation that could not be saved: what happened and what to do. */
function notSavedError(where: string, cause: unknown): RefreshTokenError {
  return new RefreshTokenError(
    "ERR_REFRESH_NOT_SAVED",
    `The token was refreshed, but the new tokens could not be saved to ${where}: ${describeError(cause)}. This process keeps using them; elsewhere the stored refresh token is now spent. Make the storage writable and sign in again with \`codex-auth login\` if other programs need the login.`,
    { permanent: false, cause },
  );
}

/** Any failure of a proactive refresh, as the typed refresh error `onRefreshFailed` receives. */
function asRefreshError(err: unknown): RefreshTokenError {
  if (err instanceof RefreshTokenError) return err;
  return new RefreshTokenError("ERR_REFRESH_TRANSIENT", `Failed to refresh token: ${describeError(err)}`, {
    permanent: false,
    cause: err,
  });
}

/**
 * The stored record with a refresh applied: only the fields present are
 * replaced; `last_refresh` set to `nowMs`.
 *
 * @throws {RefreshTokenError} transient, when the new ID token cannot be decoded.
 */
export function applyRefresh(
  stored: AuthRecord & { tokens: StoredTokens },
  refreshed: RefreshedTokens,
  nowMs: number,
): AuthRecord {
  const tokens = stored.tokens;
  if (refreshed.id_token !== undefined) {
    try {
      parseIdToken(refreshed.id_token);
    } catch (err) {
      throw new RefreshTokenError(
        "ERR_REFRESH_TRANSIENT",
        `Failed to refresh token: the new id_token is unusable: ${describeError(err)}`,
        { permanent: false, cause: err },
      );
    }
  }
  return {
    ...stored,
    tokens: {
      ...tokens,
      id_token: refreshed.id_token ?? tokens.id_token,
      access_token: refreshed.access_token ?? tokens.access_token,
      refresh_token: refreshed.refresh_token ?? tokens.refresh_token,
    },
    last_refresh: nowRfc3339(new Date(nowMs)),
  };
}
