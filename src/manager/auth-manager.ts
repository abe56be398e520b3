import type { AuthConfig, CredentialsStoreMode } from "../config/config.js";
import { refreshEndpoint } from "../config/endpoints.js";
import type { Env } from "../config/env.js";
import { describeError, RefreshTokenError } from "../errors.js";
import {
  ACCOUNT_CHANGED_MESSAGE,
  type RefreshedTokens,
  type RefreshReason,
  requestTokenRefresh,
} from "../oauth/refresh.js";
import { type AuthMode, type AuthRecord, nowRfc3339 } from "../record/auth-record.js";
import { parseIdToken } from "../record/claims.js";
import { createStorage } from "../storage/index.js";
import type { AuthStorage, AuthTransaction } from "../storage/storage.js";
import { CodexAuth } from "./codex-auth.js";
import { loadAuth, logout as logoutStored } from "./operations.js";
import { UnauthorizedRecovery } from "./recovery.js";
import { enforceLoginRestrictions } from "./restrictions.js";
import { DEFAULT_REFRESH_WINDOW_MS, isStale } from "./staleness.js";

/** Options for {@link AuthManager.create}. */
export interface AuthManagerOptions {
  codexHome: string;
  /** A backend to use; default: built from `credentialsStore`. */
  storage?: AuthStorage;
  /** Default `"file"` (or `config.credentialsStore` when a config is given). */
  credentialsStore?: CredentialsStoreMode;
  /** Honour `CODEX_API_KEY`. Default false. */
  enableCodexApiKeyEnv?: boolean;
  /** When given, login restrictions are enforced at creation (as Codex does at start-up). */
  config?: AuthConfig;
  env?: Env;
  fetch?: typeof fetch;
  /** Where to report problems that do not stop the caller (never secrets). Default: silent. */
  log?: (message: string) => void;
  /** Refresh when the access token expires within this many ms (default 5 minutes). */
  refreshWindowMs?: number;
  /** Timeout of one refresh request (default 30 s). */
  refreshTimeoutMs?: number;
  /**
   * After the issuer says our refresh token was already used, how long to wait
   * for the process that spent it to save its result (default 2 s).
   */
  adoptWaitMs?: number;
  /** Clock (ms since the epoch). */
  now?: () => number;
}

/** What one refresh transaction ended with. */
type RefreshOutcome =
  | { kind: "adopt"; auth: CodexAuth }
  | { kind: "spent"; error: RefreshTokenError; refreshToken: string };

/** Outcome of {@link AuthManager.reloadIfAccountIdMatches}. */
export type ReloadOutcome = "reloaded" | "skipped-no-account" | "skipped-other-account";

/**
 * The single source of truth for credentials in a process. Loads once,
 * caches, and hands out immutable {@link CodexAuth} snapshots; refreshes
 * stale ChatGPT tokens without races: concurrent callers share one in-flight
 * refresh, and processes (ours and real Codex) are serialized by Codex's own
 * `auth.lock`, held across read → refresh → write.
 *
 * @example
 * const manager = await AuthManager.create({ codexHome: findCodexHome() });
 * const auth = await manager.auth(); // refreshed first when about to expire
 * if (auth) headers.authorization = `Bearer ${auth.getToken()}`;
 */
export class AuthManager {
  readonly codexHome: string;
  readonly storage: AuthStorage;
  private readonly options: AuthManagerOptions;
  private readonly now: () => number;
  private readonly windowMs: number;
  private current: CodexAuth | undefined;
  private inflight: Promise<void> | undefined;
  /** A permanent failure, remembered for the refresh token that caused it. */
  private permanentFailure: { refreshToken: string; error: RefreshTokenError } | undefined;

  private constructor(options: AuthManagerOptions, storage: AuthStorage) {
    this.options = options;
    this.codexHome = options.codexHome;
    this.storage = storage;
    this.now = options.now ?? Date.now;
    this.windowMs = options.refreshWindowMs ?? DEFAULT_REFRESH_WINDOW_MS;
  }

  /**
   * Creates a manager and loads the credentials. A record that cannot be
   * read counts as logged out (reported through `log`).
   *
   * @throws {LoginRestrictedError} when `config` forbids the stored credentials (they are logged out first).
   */
  static async create(options: AuthManagerOptions): Promise<AuthManager> {
    const storage =
      options.storage ??
      (await createStorage(
        options.codexHome,
        options.credentialsStore ?? options.config?.credentialsStore ?? "file",
      ));
    const manager = new AuthManager(options, storage);
    manager.current = await manager.loadQuietly();
    if (options.config) {
      await enforceLoginRestrictions(manager.current, options.config, () => manager.logout());
    }
    return manager;
  }

  /** The cached snapshot, without I/O. */
  authCached(): CodexAuth | undefined {
    return this.current;
  }

  /**
   * The current credentials, refreshed first when ChatGPT tokens are stale.
   * A failed refresh is logged (without secrets) and the old snapshot returned.
   */
  async auth(): Promise<CodexAuth | undefined> {
    const current = this.current;
    if (current === undefined || !isStale(current, this.now(), this.windowMs)) return current;
    if (this.permanentFailure?.refreshToken === current.record?.tokens?.refresh_token) return current;
    try {
      await this.refreshShared("proactive_expiry");
    } catch (err) {
      const message = describeError(err);
      this.options.log?.(
        message.startsWith("Failed to refresh token") ? message : `Failed to refresh token: ${message}`,
      );
      return current;
    }
    return this.current;
  }

  /**
   * Refreshes ChatGPT tokens now (API keys: nothing to do). Concurrent calls
   * share one refresh.
   *
   * @throws {RefreshTokenError} permanent or transient; stored tokens are untouched on failure.
   */
  async refreshToken(): Promise<void> {
    await this.refreshShared("forced");
  }

  /** Re-reads storage; true when the credentials changed. */
  async reload(): Promise<boolean> {
    return this.setCurrent(await this.loadQuietly());
  }

  /**
   * Reloads only when storage still holds the account `expected` (the
   * seed's guarded reload for unauthorized recovery).
   */
  async reloadIfAccountIdMatches(expected: string | undefined): Promise<ReloadOutcome> {
    if (expected === undefined) return "skipped-no-account";
    const next = await this.loadQuietly();
    if (next?.getAccountId() !== expected) return "skipped-other-account";
    this.setCurrent(next);
    return "reloaded";
  }

  /** Logs out (revoking managed ChatGPT tokens best effort); true when something was removed. */
  async logout(): Promise<boolean> {
    const removed = await logoutStored(this.codexHome, this.storage, {
      ...(this.options.env ? { env: this.options.env } : {}),
      ...(this.options.fetch ? { fetch: this.options.fetch } : {}),
    });
    await this.reload();
    return removed;
  }

  /** The mode of the cached credentials. */
  getAuthMode(): AuthMode | undefined {
    return this.current?.mode;
  }

  /** A recovery state machine for an API call that got HTTP 401 (see {@link UnauthorizedRecovery}). */
  unauthorizedRecovery(): UnauthorizedRecovery {
    return new UnauthorizedRecovery(this);
  }

  private setCurrent(next: CodexAuth | undefined): boolean {
    const changed = !(this.current === undefined ? next === undefined : this.current.equals(next));
    this.current = next;
    return changed;
  }

  private async loadQuietly(): Promise<CodexAuth | undefined> {
    try {
      return await loadAuth(this.storage, {
        enableCodexApiKeyEnv: this.options.enableCodexApiKeyEnv ?? false,
        env: this.options.env ?? process.env,
      });
    } catch (err) {
      this.options.log?.(`failed to load credentials: ${describeError(err)}`);
      return undefined;
    }
  }

  private refreshShared(reason: RefreshReason): Promise<void> {
    this.inflight ??= this.refreshGuarded(reason).finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  /**
   * One refresh inside one storage transaction (for the built-in backends:
   * Codex's auth.lock, held across read → refresh → write). Invariant for
   * every write: never write refreshed tokens into a record that belongs to
   * another account or whose refresh token changed since it was read —
   * adopt what is there instead.
   */
  private async refreshGuarded(reason: RefreshReason): Promise<void> {
    const snapshot = this.current;
    const ours = snapshot?.record?.tokens;
    if (!snapshot?.isManagedChatgpt || !ours) return;
    const memo = this.permanentFailure;
    if (memo?.refreshToken === ours.refresh_token) throw memo.error;
    const account = snapshot.getAccountId();

    const outcome = await this.storage.transaction(async (tx): Promise<RefreshOutcome> => {
      const stored = await this.readForRefresh(tx);
      const storedTokens = stored?.record?.tokens;
      if (!stored?.isManagedChatgpt || !storedTokens || stored.getAccountId() !== account) {
        throw new RefreshTokenError("ERR_ACCOUNT_CHANGED", ACCOUNT_CHANGED_MESSAGE, {
          permanent: true,
          reason: "other",
        });
      }
      // Another process already refreshed: adopt its tokens.
      if (storedTokens.refresh_token !== ours.refresh_token) return { kind: "adopt", auth: stored };
      let refreshed: RefreshedTokens;
      try {
        refreshed = await requestTokenRefresh(storedTokens.refresh_token, {
          url: refreshEndpoint(this.options.env ?? process.env, stored.record),
          reason,
          ...(this.options.fetch ? { fetch: this.options.fetch } : {}),
          ...(this.options.refreshTimeoutMs ? { timeoutMs: this.options.refreshTimeoutMs } : {}),
        });
      } catch (err) {
        // The winner may be a Codex process blocked on the auth.lock this
        // transaction holds, waiting to write its new tokens: end the
        // transaction to let it, then adopt them.
        if (err instanceof RefreshTokenError && err.reason === "exhausted")
          return { kind: "spent", error: err, refreshToken: storedTokens.refresh_token };
        if (err instanceof RefreshTokenError && err.permanent)
          this.permanentFailure = { refreshToken: storedTokens.refresh_token, error: err };
        throw err;
      }
      const record = applyRefresh(stored.record!, refreshed, this.now());
      await tx.save(record);
      return { kind: "adopt", auth: CodexAuth.fromRecord(record, this.storage.describe()) };
    });
    if (outcome.kind === "adopt") {
      this.setCurrent(outcome.auth);
      return;
    }
    const adopted = await this.waitForRotation(outcome.refreshToken, account);
    if (adopted) {
      this.setCurrent(adopted);
      return;
    }
    this.permanentFailure = { refreshToken: outcome.refreshToken, error: outcome.error };
    throw outcome.error;
  }

  private async readForRefresh(tx: AuthTransaction): Promise<CodexAuth | undefined> {
    try {
      const record = await tx.load();
      return record && CodexAuth.fromRecord(record, this.storage.describe());
    } catch (err) {
      throw new RefreshTokenError("ERR_REFRESH_TRANSIENT", `Failed to refresh token: ${describeError(err)}`, {
        permanent: false,
        cause: err,
      });
    }
  }

  /** Polls storage (bounded) until it holds a different refresh token for the same account. */
  private async waitForRotation(spent: string, account: string | undefined): Promise<CodexAuth | undefined> {
    const deadline = this.now() + (this.options.adoptWaitMs ?? 2_000);
    for (;;) {
      const stored = await loadAuth(this.storage).catch(() => undefined);
      const tokens = stored?.record?.tokens;
      if (stored && tokens && tokens.refresh_token !== spent && stored.getAccountId() === account)
        return stored;
      if (this.now() >= deadline) return undefined;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/** The stored record with a refresh applied: only the fields present are replaced; `last_refresh` set. */
export function applyRefresh(stored: AuthRecord, refreshed: RefreshedTokens, nowMs: number): AuthRecord {
  const tokens = stored.tokens!;
  if (refreshed.id_token !== undefined) {
    try {
      parseIdToken(refreshed.id_token);
    } catch (err) {
      throw new RefreshTokenError(
        "ERR_REFRESH_TRANSIENT",
        `Failed to refresh token: the new id_token is unusable: ${describeError(err)}`,
        {
          permanent: false,
          cause: err,
        },
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
