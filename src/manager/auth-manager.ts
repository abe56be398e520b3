import type { AuthConfig, CredentialsStoreMode } from "../config/config.js";
import type { Env } from "../config/env.js";
import type { AuthMode } from "../record/auth-record.js";
import { createStorage } from "../storage/index.js";
import type { AuthStorage } from "../storage/storage.js";
import type { CodexAuth } from "./codex-auth.js";
import { loadAuth, logout as logoutStored } from "./operations.js";
import { enforceLoginRestrictions } from "./restrictions.js";

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
}

/**
 * The single source of truth for credentials in a process. Loads once,
 * caches, and hands out immutable {@link CodexAuth} snapshots. Changes made
 * by other processes are seen after {@link reload}.
 *
 * @example
 * const manager = await AuthManager.create({ codexHome: findCodexHome() });
 * const auth = await manager.auth();
 * if (auth) headers.authorization = `Bearer ${auth.getToken()}`;
 */
export class AuthManager {
  readonly codexHome: string;
  readonly storage: AuthStorage;
  private readonly options: AuthManagerOptions;
  private current: CodexAuth | undefined;

  private constructor(options: AuthManagerOptions, storage: AuthStorage) {
    this.options = options;
    this.codexHome = options.codexHome;
    this.storage = storage;
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

  /** The current credentials. */
  async auth(): Promise<CodexAuth | undefined> {
    return this.current;
  }

  /** Re-reads storage; true when the credentials changed. */
  async reload(): Promise<boolean> {
    const next = await this.loadQuietly();
    const changed = !sameAuth(this.current, next);
    this.current = next;
    return changed;
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

  private async loadQuietly(): Promise<CodexAuth | undefined> {
    try {
      return await loadAuth(this.storage, {
        enableCodexApiKeyEnv: this.options.enableCodexApiKeyEnv ?? false,
        env: this.options.env ?? process.env,
      });
    } catch (err) {
      this.options.log?.(`failed to load credentials: ${(err as Error).message}`);
      return undefined;
    }
  }
}

function sameAuth(a: CodexAuth | undefined, b: CodexAuth | undefined): boolean {
  return a === undefined ? b === undefined : a.equals(b);
}
