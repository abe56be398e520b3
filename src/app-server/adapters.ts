/**
 * The default ports, built on the library as it is: the credentials through
 * an {@link AuthManager}, sign-ins through `startBrowserLogin` and
 * `runDeviceLogin`, all on the storage `cli_auth_credentials_store` selects.
 */
import { type FSWatcher, watch } from "node:fs";
import type { CredentialsStoreMode, ForcedLoginMethod } from "../config/config.js";
import type { Env } from "../config/env.js";
import type { ResidencyRequirement } from "../config/requirements.js";
import { describeError, RefreshTokenError } from "../errors.js";
import { startBrowserLogin } from "../login/browser.js";
import { runDeviceLogin } from "../login/device.js";
import { AuthManager } from "../manager/auth-manager.js";
import { type CodexAuth, isManagedChatgpt } from "../record/codex-auth.js";
import type { AuthStorage } from "../storage/storage.js";
import type {
  AccountWatchPort,
  BrowserSignIn,
  CredentialsPort,
  DeviceSignIn,
  ModelProviderPort,
  SignInOptions,
  SignInPort,
} from "./ports.js";

/** Options of {@link createManagedCredentials}. */
export interface ManagedCredentialsOptions {
  codexHome: string;
  credentialsStore: CredentialsStoreMode;
  /** `[features] secret_auth_storage`: keyring and auto use Codex's encrypted store. */
  secretAuthStorage?: boolean;
  env: Env;
  fetch?: typeof fetch;
  /** `originator` of refresh and revoke requests: the client's name. */
  originator: string;
  /** `enforce_residency` from the administrator's requirements, sent on refresh and revoke as Codex's app server does. */
  residency?: ResidencyRequirement;
  /** Diagnostics (stderr). Never given a secret. */
  log: (message: string) => void;
  /** A storage to use instead of building one (tests). */
  storage?: AuthStorage;
  /** `chatgpt_base_url`: where an Agent Identity's keys are fetched, and whether Codex accepts one at all. */
  chatgptBaseUrl?: string | undefined;
  /** `forced_login_method` (Bedrock sign-in is refused with `"chatgpt"`). */
  forcedLoginMethod?: ForcedLoginMethod | undefined;
}

/** {@link CredentialsPort} over an {@link AuthManager}, plus the storage it uses (for sign-ins). */
export interface ManagedCredentials extends CredentialsPort {
  readonly storage: AuthStorage;
}

/**
 * Credentials as Codex 0.169's app server keeps them: loaded once and cached
 * (re-read while logged out); `OPENAI_API_KEY` / `CODEX_API_KEY` ignored; an
 * unreadable record counts as logged out; a permanent refresh failure hides
 * the token for the rest of the process (for those tokens). A personal
 * access token is confirmed with OpenAI (`whoami`) when loaded, and an Agent
 * Identity verified (environment, JWKS, key, task registration) as Codex
 * loads them: one that fails counts as logged out, the failure logged.
 */
export async function createManagedCredentials(o: ManagedCredentialsOptions): Promise<ManagedCredentials> {
  const failedForGood = new Set<string>();
  const remember = (auth: CodexAuth | undefined, err: unknown) => {
    if (err instanceof RefreshTokenError && err.permanent && isManagedChatgpt(auth)) {
      failedForGood.add(auth.tokens.refresh_token);
    }
  };
  const manager: AuthManager = await AuthManager.create({
    codexHome: o.codexHome,
    credentialsStore: o.credentialsStore,
    secretAuthStorage: o.secretAuthStorage ?? false,
    ...(o.storage ? { storage: o.storage } : {}),
    env: o.env,
    fetch: o.fetch,
    enableCodexApiKeyEnv: false,
    originator: o.originator,
    ...(o.residency ? { residency: o.residency } : {}),
    log: o.log,
    onRefreshFailed: (error) => {
      remember(manager.authCached(), error);
      o.log(`Failed to refresh token: ${error.message}`);
    },
  });
  // An Agent Identity's check, by identity: done once per process (Codex checks on every load).
  const agentChecks = new Map<string, Promise<boolean>>();
  const usable = async (auth: CodexAuth | undefined): Promise<CodexAuth | undefined> => {
    if (auth?.mode !== "agentIdentity") return auth;
    const key = JSON.stringify(auth.identity);
    let check = agentChecks.get(key);
    if (check === undefined) {
      check = import("../manager/agent-identity.js")
        .then(({ checkAgentIdentity }) =>
          checkAgentIdentity(auth, {
            env: o.env,
            fetch: o.fetch,
            originator: o.originator,
            ...(o.chatgptBaseUrl ? { chatgptBaseUrl: o.chatgptBaseUrl } : {}),
          }),
        )
        .then(
          () => true,
          (err: unknown) => {
            o.log(`failed to load credentials: ${describeError(err)}`);
            return false;
          },
        );
      agentChecks.set(key, check);
    }
    return (await check) ? auth : undefined;
  };
  const current = async () => {
    if (manager.authCached() === undefined) await manager.reload();
    return usable(manager.authCached());
  };
  return {
    storage: manager.storage,
    current,
    async fresh() {
      await current();
      return usable(await manager.auth());
    },
    async forceRefresh() {
      const before = await current();
      try {
        await manager.refreshToken();
      } catch (err) {
        remember(before, err);
        throw err;
      }
    },
    refreshFailedPermanently: (auth) =>
      isManagedChatgpt(auth) && failedForGood.has(auth.tokens.refresh_token),
    async saveApiKey(apiKey) {
      await manager.storage.transaction(async (tx) => {
        // Read first: credentials that cannot be read are never replaced (the library's rule).
        await tx.load();
        await tx.save({ auth_mode: "apikey", OPENAI_API_KEY: apiKey });
      });
      await manager.reload();
    },
    async saveBedrock(login) {
      const { loginWithBedrockAccessKeys, loginWithBedrockApiKey } = await import("../manager/bedrock.js");
      const options = { config: { forcedLoginMethod: o.forcedLoginMethod } };
      if (login.kind === "apiKey") {
        await loginWithBedrockApiKey(o.codexHome, login, manager.storage, options);
      } else {
        await loginWithBedrockAccessKeys(o.codexHome, login, manager.storage, options);
      }
      await manager.reload();
    },
    async logout() {
      await manager.logout();
    },
    async reload() {
      await manager.reload();
    },
  };
}

/** {@link ModelProviderPort} over config.toml, read on each call; `fallback` (the start-up value) when it cannot be read. */
export function configModelProvider(
  codexHome: string,
  fallback: string | undefined,
  log: (message: string) => void,
): ModelProviderPort {
  return {
    async current() {
      const { readModelProvider } = await import("../config/bedrock-provider.js");
      try {
        return await readModelProvider(codexHome);
      } catch (err) {
        log(`cannot read model_provider: ${describeError(err)}`);
        return fallback;
      }
    },
  };
}

/** Options of {@link librarySignIn}. */
export interface LibrarySignInOptions {
  storage: AuthStorage;
  env: Env;
  fetch?: typeof fetch;
  /** Callback port (default 1455, as Codex); 0 picks a free one (tests). */
  callbackPort?: number;
  /** How long the callback server waits for the browser to load the success page (default 3 s). */
  successGraceMs?: number;
}

/** {@link SignInPort} over `startBrowserLogin` and `runDeviceLogin`. */
export function librarySignIn(o: LibrarySignInOptions): SignInPort {
  return {
    async startBrowser(options: SignInOptions): Promise<BrowserSignIn> {
      let successPage!: () => void;
      const successServed = new Promise<void>((resolve) => {
        successPage = resolve;
      });
      const login = await startBrowserLogin({
        issuer: options.issuer,
        storage: o.storage,
        ...(options.allowedWorkspaceIds ? { allowedWorkspaceIds: options.allowedWorkspaceIds } : {}),
        ...(o.callbackPort !== undefined ? { port: o.callbackPort } : {}),
        ...(o.successGraceMs !== undefined ? { successGraceMs: o.successGraceMs } : {}),
        env: o.env,
        fetch: o.fetch,
        originator: options.originator,
        onSuccessPage: successPage,
      });
      // Saved, and the browser reached the success page — or the server stopped waiting for it.
      const done = login.done.then(() => Promise.race([successServed, login.closed]));
      done.catch(() => {});
      return { authUrl: login.authUrl, done, cancel: login.cancel, closed: login.closed };
    },
    async startDevice(options: SignInOptions): Promise<DeviceSignIn> {
      const abort = new AbortController();
      let codeKnown!: (code: { verificationUrl: string; userCode: string }) => void;
      const code = new Promise<{ verificationUrl: string; userCode: string }>((resolve) => {
        codeKnown = resolve;
      });
      const finished = runDeviceLogin({
        issuer: options.issuer,
        storage: o.storage,
        ...(options.allowedWorkspaceIds ? { allowedWorkspaceIds: options.allowedWorkspaceIds } : {}),
        env: o.env,
        fetch: o.fetch,
        signal: abort.signal,
        onCode: (c) => codeKnown({ verificationUrl: c.verificationUrl, userCode: c.userCode }),
      });
      finished.catch(() => {});
      // Either the code arrives, or the login fails before there is one.
      const first = await Promise.race([code, finished.then(() => undefined)]);
      if (first === undefined) throw new Error("device login ended before a code was issued");
      return {
        verificationUrl: first.verificationUrl,
        userCode: first.userCode,
        done: finished.then(() => undefined),
        cancel: () => abort.abort(),
      };
    },
  };
}

/**
 * {@link AccountWatchPort} over `fs.watch` on CODEX_HOME: any event naming
 * auth.json (Codex and codex-auth replace it by rename) is reported once
 * the burst is over. Keyring-only storage has no file to watch: nothing is
 * reported then. The embedding API's watcher can replace this one.
 */
export function fileAccountWatcher(codexHome: string, log: (message: string) => void): AccountWatchPort {
  return {
    watch(onChange) {
      let timer: NodeJS.Timeout | undefined;
      let watcher: FSWatcher;
      try {
        watcher = watch(codexHome, { persistent: false }, (_event, file) => {
          if (file !== null && file !== "auth.json") return;
          clearTimeout(timer);
          timer = setTimeout(onChange, 20);
          timer.unref();
        });
      } catch (err) {
        log(`cannot watch ${codexHome} for credential changes: ${describeError(err)}`);
        return () => {};
      }
      watcher.on("error", (err) => log(`stopped watching ${codexHome}: ${describeError(err)}`));
      return () => {
        clearTimeout(timer);
        watcher.close();
      };
    },
  };
}
