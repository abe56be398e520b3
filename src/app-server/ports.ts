/**
 * The seams between the app server's protocol layer and the library: small
 * interfaces the account methods are written against. The defaults
 * (`adapters.ts`) are built on what codex-auth has today — `AuthManager`,
 * `startBrowserLogin`, `runDeviceLogin`, the operations in `manager/` — and
 * each can be replaced on its own (tests; the embedding API's sign-in,
 * watcher and rate-limit sources once they exist).
 */
import type { CodexAuth } from "../record/codex-auth.js";
import type { WorkspaceRouting } from "./protocol.js";

/** The credentials in effect, and the changes the account methods make to them. */
export interface CredentialsPort {
  /**
   * The loaded credentials, without I/O — except that while none are
   * loaded, storage is read again (Codex 0.169 picks up a login another
   * process saved this way).
   */
  current(): Promise<CodexAuth | undefined>;
  /** {@link current}, with stale ChatGPT tokens refreshed first; a failed refresh returns the old snapshot. */
  fresh(): Promise<CodexAuth | undefined>;
  /**
   * Refreshes managed ChatGPT tokens now.
   *
   * @throws {RefreshTokenError} permanent or transient.
   */
  forceRefresh(): Promise<void>;
  /** True when a refresh of these tokens failed permanently in this process (Codex then shows no token). */
  refreshFailedPermanently(auth: CodexAuth): boolean;
  /**
   * Saves an API-key login, as given (the app server does not trim it).
   *
   * @throws {CodexAuthError} when storage cannot be read or written; nothing changed.
   */
  saveApiKey(apiKey: string): Promise<void>;
  /**
   * Saves an Amazon Bedrock sign-in as Codex 0.169's app server does (the
   * record replaces what was stored; config.toml gets `model_provider =
   * "amazon-bedrock"`, and the region for access keys).
   *
   * @throws {InvalidCredentialError} an empty key or an unsupported region (Codex's words); nothing changed.
   * @throws {LoginRestrictedError} with `forced_login_method = "chatgpt"`.
   * @throws {CodexAuthError} when storage or config.toml cannot be read or written; nothing changed.
   */
  saveBedrock(login: BedrockLogin): Promise<void>;
  /**
   * Removes the stored credentials, revoking managed ChatGPT tokens (best effort).
   *
   * @throws {CodexAuthError} when storage cannot be read or changed.
   */
  logout(): Promise<void>;
  /** Reads storage again (after a sign-in saved new credentials). */
  reload(): Promise<void>;
}

/** An Amazon Bedrock sign-in: an API key, or AWS access keys; each with its AWS region. */
export type BedrockLogin =
  | { kind: "apiKey"; apiKey: string; region: string }
  | {
      kind: "accessKeys";
      accessKeyId: string;
      secretAccessKey: string;
      sessionToken: string | undefined;
      region: string;
    };

/**
 * config.toml's `model_provider`, read when asked: Codex's answers depend
 * on it (`amazon-bedrock` makes every account an Amazon Bedrock one that
 * needs no OpenAI sign-in), and sign-in and logout change it.
 */
export interface ModelProviderPort {
  /**
   * The provider id, or undefined when not set (OpenAI).
   *
   * @throws {ConfigError} when config.toml cannot be read or parsed.
   */
  current(): Promise<string | undefined>;
}

/** A running browser sign-in. */
export interface BrowserSignIn {
  /** The URL the user opens. */
  authUrl: string;
  /**
   * Settles once: resolves when the new credentials are saved and the
   * browser was shown the success page (or stopped waiting for it);
   * rejects with the failure ({@link CodexAuthError}) otherwise.
   */
  done: Promise<void>;
  /** Ends the sign-in (nothing is saved unless the save already started); `done` rejects. */
  cancel(): void;
  /** Resolves when the callback server has stopped listening. */
  closed: Promise<void>;
}

/** A running device-code sign-in, once the code is known. */
export interface DeviceSignIn {
  verificationUrl: string;
  userCode: string;
  /** Resolves when the new credentials are saved; rejects with the failure. */
  done: Promise<void>;
  /** Ends the sign-in; `done` rejects. */
  cancel(): void;
}

/** Options of a sign-in started by the app server. */
export interface SignInOptions {
  /** The issuer (`CODEX_APP_SERVER_LOGIN_ISSUER`, else OpenAI's). */
  issuer: string;
  /** `originator` for the authorize URL and requests: the client's name. */
  originator: string;
  /** `forced_chatgpt_workspace_id`. */
  allowedWorkspaceIds: readonly string[] | undefined;
}

/** Starts sign-ins. */
export interface SignInPort {
  /**
   * Binds the callback server and returns the authorize URL.
   *
   * @throws {CodexAuthError} when the sign-in cannot start (port in use, unreadable stored credentials).
   */
  startBrowser(options: SignInOptions): Promise<BrowserSignIn>;
  /**
   * Requests a device code; polling goes on in the background.
   *
   * @throws {CodexAuthError} when no code could be obtained.
   */
  startDevice(options: SignInOptions): Promise<DeviceSignIn>;
}

/** What `accounts/check` says about the selected workspace. */
export interface WorkspaceInfo {
  /** Display name of the workspace, when the backend gives one. */
  name: string | null;
  routing: WorkspaceRouting;
}

/** Workspace routing discovery. */
export interface WorkspacePort {
  /**
   * Looks up the workspace `accountId` with the given access token.
   *
   * @throws {WorkspaceRoutingError} with Codex's message.
   */
  discover(accessToken: string, accountId: string, originator: string): Promise<WorkspaceInfo>;
}

/** Rate limits of the ChatGPT account (`account/rateLimits/read`). */
export interface RateLimitsPort {
  /**
   * The account's current rate limits, as the protocol's
   * `GetAccountRateLimitsResponse`.
   *
   * @throws {RateLimitsError} with Codex's message when the backend refuses or cannot be reached.
   */
  read(accessToken: string, accountId: string | null, originator: string): Promise<unknown>;
}

/**
 * Changes made to the credentials by other processes. Codex 0.169 does not
 * notice them; a watcher (the embedding API's, later) lets the server
 * announce them with `account/updated`.
 */
export interface AccountWatchPort {
  /** Calls `onChange` after storage changed; returns a function that stops watching. */
  watch(onChange: () => void): () => void;
}
