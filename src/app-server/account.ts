/**
 * The account methods, answered as Codex 0.169's app server answers them
 * (see `reference/codex-cli-observed.md` §4 and the differential tests):
 * what each returns in each state, which notifications follow, and the life
 * of a pending sign-in. Written against the ports only.
 */
import { BEDROCK_PROVIDER } from "../config/bedrock-provider.js";
import type { AuthConfig } from "../config/config.js";
import {
  describeError,
  LoginError,
  LoginRestrictedError,
  NetworkError,
  RateLimitsError,
  RpcRequestError,
  WorkspaceRoutingError,
} from "../errors.js";
import { loginRestrictionViolation } from "../manager/restrictions.js";
import {
  agentRecordOf,
  type ChatgptAuth,
  type CodexAuth,
  isManagedChatgpt,
  type PersonalAccessTokenAuth,
  planTypeOf,
} from "../record/codex-auth.js";
import type { ExternalTokensPort, HostTokens } from "./external.js";
import { parseLoginId } from "./login-id.js";
import type { ParamsOf } from "./methods.js";
import type {
  AccountWatchPort,
  BedrockLogin,
  CredentialsPort,
  ModelProviderPort,
  RateLimitsPort,
  SignInOptions,
  SignInPort,
  WorkspaceInfo,
  WorkspacePort,
} from "./ports.js";
import type {
  AccountLoginCompletedNotification,
  AccountUpdatedNotification,
  CancelLoginAccountResponse,
  GetAccountResponse,
  GetAuthStatusResponse,
  LoginAccountResponse,
  LogoutAccountResponse,
  PlanType,
} from "./protocol.js";

/**
 * A method's answer, and what to do once it is written (notifications that
 * follow it). A promise returned by `after` is waited for before the next
 * request takes effect, so those notifications precede its answer, as in
 * Codex; work that outlives the request (a sign-in in progress) is not
 * returned.
 */
export interface Reply<T> {
  result: T;
  after?: () => void | Promise<void>;
}

import type { ConfigWarning } from "./startup.js";

/** Sends a notification to the client (dropped when the client opted out of it). */
export type Notify = {
  (method: "account/updated", params: AccountUpdatedNotification): void;
  (method: "account/login/completed", params: AccountLoginCompletedNotification): void;
  (method: "configWarning", params: ConfigWarning): void;
};

/** What an account session needs. */
export interface AccountSessionOptions {
  credentials: CredentialsPort;
  signIn: SignInPort;
  workspace: WorkspacePort;
  config: Pick<AuthConfig, "forcedLoginMethod" | "forcedChatgptWorkspaceIds">;
  /** Issuer of sign-ins. */
  issuer: string;
  /** The client's name, as `originator`. */
  originator: string;
  /** `capabilities.experimentalApi` from `initialize`. */
  experimentalApi: boolean;
  notify: Notify;
  /** Host-supplied tokens (`chatgptAuthTokens`). */
  external: ExternalTokensPort;
  /** `account/rateLimits/read`. */
  rateLimits: RateLimitsPort;
  /** Changes to stored credentials made by other processes (announced with `account/updated`; Codex does not notice them). */
  watch?: AccountWatchPort;
  /** config.toml's `model_provider` (default: none, i.e. OpenAI). */
  modelProvider?: ModelProviderPort;
  /** Diagnostics (stderr). Never given a secret. */
  log: (message: string) => void;
}

/** How a pending sign-in ended when it did not succeed, in Codex's words. */
type EndReason = "canceled" | "replaced";

interface PendingLogin {
  id: string;
  kind: "browser" | "device";
  /** Ends it; its `account/login/completed` says why. */
  end(reason: EndReason): void;
  /** Resolves when it has fully stopped (callback server closed). */
  stopped: Promise<void>;
}

const LOGGED_OUT: GetAccountResponse = {
  account: null,
  userId: null,
  requiresOpenaiAuth: true,
  workspaceRouting: null,
};

/**
 * One client's account state: answers the account methods and keeps the
 * pending sign-in (at most one, as in Codex).
 */
export class AccountSession {
  private pending: PendingLogin | undefined;
  private closed = false;
  /** The last `account/updated` sent (JSON), to tell a change by another process from none. */
  private lastAnnounced: string | undefined;
  /** Changes of our own in progress (a save, then its announcement): the watcher waits for them. */
  private ownChanges = 0;
  /** The watcher fired while our own change was in progress: look again afterwards. */
  private recheck = false;
  private checking: Promise<void> = Promise.resolve();
  private unwatch: (() => void) | undefined;

  constructor(private readonly o: AccountSessionOptions) {}

  /** The credentials as the client may see them: login restrictions hide (never delete) the rest. */
  private visible(auth: CodexAuth | undefined): CodexAuth | undefined {
    if (auth === undefined) return undefined;
    return loginRestrictionViolation(auth, this.o.config) ? undefined : auth;
  }

  /**
   * The credentials in effect: host-supplied tokens while set, else the
   * stored ones (refreshed first when stale if `fresh`); hidden by login
   * restrictions.
   */
  private async inEffect(fresh: boolean): Promise<CodexAuth | undefined> {
    const external = this.o.external.current();
    if (external) return this.visible(external.auth);
    return this.visible(fresh ? await this.o.credentials.fresh() : await this.o.credentials.current());
  }

  /** The plan to report: the host's for host-supplied tokens, else the ID token's. */
  private planOf(auth: CodexAuth): PlanType | null {
    const external = this.o.external.current();
    if (external && auth === external.auth) return external.planType;
    return planTypeOf(auth) ?? null;
  }

  /**
   * Whether config.toml selects Amazon Bedrock: Codex then reports every
   * account as a Bedrock one that needs no OpenAI sign-in.
   */
  private async onBedrock(): Promise<boolean> {
    return (await this.o.modelProvider?.current()) === BEDROCK_PROVIDER;
  }

  /** A personal access token's account (`whoami`, checked when loaded) and workspace routing (`accounts/check`, with the token as bearer). */
  private async readPersonalAccessToken(auth: PersonalAccessTokenAuth): Promise<GetAccountResponse> {
    const metadata = auth.metadata;
    if (metadata === undefined) return LOGGED_OUT;
    const info = await this.o.workspace.discover(
      auth.accessToken,
      metadata.chatgptAccountId,
      this.o.originator,
    );
    return {
      account: {
        type: "chatgpt",
        email: metadata.email ?? null,
        planType: metadata.planType,
        workspaceName: info.name,
      },
      userId: metadata.chatgptUserId,
      requiresOpenaiAuth: true,
      workspaceRouting: info.routing,
    };
  }

  private updated(auth: CodexAuth | undefined): AccountUpdatedNotification {
    const shown = this.visible(auth);
    if (shown === undefined) return { authMode: null, planType: null };
    return { authMode: shown.mode, planType: this.planOf(shown) };
  }

  /**
   * Workspace routing for ChatGPT tokens. When the backend refuses
   * host-supplied tokens, the host is asked for new ones once (Codex sends
   * `account/chatgptAuthTokens/refresh`) and the lookup is retried with
   * them; if the host cannot help, the refusal stands.
   */
  private async discover(
    auth: ChatgptAuth,
    accountId: string,
  ): Promise<{ info: WorkspaceInfo; auth: ChatgptAuth }> {
    try {
      return {
        info: await this.o.workspace.discover(auth.tokens.access_token, accountId, this.o.originator),
        auth,
      };
    } catch (err) {
      if (!(err instanceof WorkspaceRoutingError && err.unauthorized) || auth.mode !== "chatgptAuthTokens")
        throw err;
      let next: ChatgptAuth;
      try {
        next = (await this.o.external.refresh()).auth;
      } catch (refreshErr) {
        this.o.log(`the client did not refresh its ChatGPT tokens: ${describeError(refreshErr)}`);
        throw err;
      }
      const nextId = next.tokens.account_id ?? accountId;
      return {
        info: await this.o.workspace.discover(next.tokens.access_token, nextId, this.o.originator),
        auth: next,
      };
    }
  }

  /** Sends `account/updated` and remembers what it said. */
  private announce(params: AccountUpdatedNotification): void {
    this.lastAnnounced = JSON.stringify(params);
    this.o.notify("account/updated", params);
  }

  /** Marks a change of our own; the returned function ends it (call it once, after the announcement). */
  private beginOwnChange(): () => void {
    this.ownChanges++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.ownChanges--;
      if (this.recheck) this.storageChanged();
    };
  }

  /**
   * The watcher saw stored credentials change. Unless the change is ours
   * (it is announced by the method that made it), read storage again and
   * announce the account if what the client sees changed.
   */
  private storageChanged(): void {
    if (this.closed) return;
    if (this.ownChanges > 0 || this.pending) {
      this.recheck = true;
      return;
    }
    this.recheck = false;
    this.checking = this.checking.then(async () => {
      try {
        await this.o.credentials.reload();
        const params = this.updated(await this.inEffect(false));
        if (!this.closed && JSON.stringify(params) !== this.lastAnnounced) this.announce(params);
      } catch (err) {
        this.o.log(`re-reading credentials after a change failed: ${describeError(err)}`);
      }
    });
  }

  /**
   * After `initialize`: with ChatGPT credentials, Codex discovers the
   * workspace routing in the background and then announces the account.
   * From here on, changes by other processes are watched for.
   */
  start(): void {
    void (async () => {
      this.lastAnnounced = JSON.stringify(this.updated(await this.inEffect(false)));
      if (this.o.watch && !this.closed) this.unwatch = this.o.watch.watch(() => this.storageChanged());
      // With Amazon Bedrock selected, Codex looks nothing up.
      if (await this.onBedrock()) return;
      const auth = this.visible(await this.o.credentials.current());
      let bearer: string;
      let accountId: string;
      if (isManagedChatgpt(auth) && auth.tokens.account_id) {
        [bearer, accountId] = [auth.tokens.access_token, auth.tokens.account_id];
      } else if (auth?.mode === "personalAccessToken" && auth.metadata) {
        [bearer, accountId] = [auth.accessToken, auth.metadata.chatgptAccountId];
      } else {
        return;
      }
      try {
        await this.o.workspace.discover(bearer, accountId, this.o.originator);
      } catch {
        return;
      }
      if (!this.closed) this.announce(this.updated(await this.o.credentials.current()));
    })().catch((err) => this.o.log(`account start-up check failed: ${describeError(err)}`));
  }

  /** A forced refresh as Codex does it: only for managed tokens with a workspace id; failures are logged. */
  private async forcedRefresh(): Promise<void> {
    // Host-supplied tokens are the host's to refresh: the flag is ignored for them.
    if (this.o.external.current()) return;
    const auth = this.visible(await this.o.credentials.current());
    if (!isManagedChatgpt(auth) || !auth.tokens.account_id) return;
    try {
      await this.o.credentials.forceRefresh();
    } catch (err) {
      this.o.log(`Failed to refresh token: ${describeError(err)}`);
    }
  }

  /** `account/read`. */
  async read(params: ParamsOf<"account/read">): Promise<Reply<GetAccountResponse>> {
    if (params.refreshToken) await this.forcedRefresh();
    let auth = await this.inEffect(true);
    if (await this.onBedrock()) {
      const codexManaged = auth?.mode === "bedrockApiKey" || auth?.mode === "bedrockAccessKeys";
      return {
        result: {
          account: { type: "amazonBedrock", usesCodexManagedCredentials: codexManaged },
          userId: null,
          requiresOpenaiAuth: false,
          workspaceRouting: null,
        },
      };
    }
    if (auth === undefined) return { result: LOGGED_OUT };
    switch (auth.mode) {
      case "apikey":
        return { result: { ...LOGGED_OUT, account: { type: "apiKey" } } };
      case "chatgpt":
      case "chatgptAuthTokens": {
        if (auth.tokens === undefined || this.o.credentials.refreshFailedPermanently(auth)) {
          return { result: LOGGED_OUT };
        }
        const accountId = auth.tokens.account_id;
        let info: WorkspaceInfo | undefined;
        if (accountId) ({ info, auth } = await this.discover(auth, accountId));
        const planType = this.planOf(auth) ?? "unknown";
        return {
          result: {
            account: {
              type: "chatgpt",
              email: auth.idToken.email ?? null,
              planType,
              workspaceName: info?.name ?? null,
            },
            userId: auth.idToken.chatgptUserId ?? null,
            requiresOpenaiAuth: true,
            workspaceRouting: info?.routing ?? null,
          },
        };
      }
      case "personalAccessToken":
        return { result: await this.readPersonalAccessToken(auth) };
      case "agentIdentity": {
        // The identity's own claims; Codex looks up no workspace routing for it.
        const record = agentRecordOf(auth);
        if (record === undefined) return { result: LOGGED_OUT };
        return {
          result: {
            account: {
              type: "chatgpt",
              email: record.email || null,
              planType: planTypeOf(auth) ?? "unknown",
              workspaceName: null,
            },
            userId: record.chatgpt_user_id,
            requiresOpenaiAuth: true,
            workspaceRouting: null,
          },
        };
      }
      case "bedrockApiKey":
      case "bedrockAccessKeys":
        // Codex's words, for access keys too.
        throw new RpcRequestError(
          "ERR_RPC_PROVIDER_MISMATCH",
          "Bedrock API key auth is only supported by the Amazon Bedrock model provider",
        );
    }
  }

  /** `getAuthStatus`. */
  async authStatus(params: ParamsOf<"getAuthStatus">): Promise<Reply<GetAuthStatusResponse>> {
    const includeToken = params.includeToken ?? false;
    if (params.refreshToken) await this.forcedRefresh();
    const auth = await this.inEffect(includeToken);
    if (await this.onBedrock()) {
      return { result: { authMethod: null, authToken: null, requiresOpenaiAuth: false } };
    }
    const none: GetAuthStatusResponse = { authMethod: null, authToken: null, requiresOpenaiAuth: true };
    if (auth === undefined) return { result: none };
    switch (auth.mode) {
      case "apikey":
        // Codex counts an empty stored key as no credentials here (account/read still says apiKey).
        if (auth.apiKey === "") return { result: none };
        return {
          result: {
            authMethod: "apikey",
            authToken: includeToken ? auth.apiKey : null,
            requiresOpenaiAuth: true,
          },
        };
      case "chatgpt":
      case "chatgptAuthTokens": {
        const usable = auth.tokens !== undefined && !this.o.credentials.refreshFailedPermanently(auth);
        return {
          result: {
            authMethod: auth.mode,
            authToken: includeToken && usable && auth.tokens ? auth.tokens.access_token : null,
            requiresOpenaiAuth: true,
          },
        };
      }
      case "personalAccessToken":
      case "agentIdentity":
        // Codex never hands these out, whatever `includeToken` says.
        return { result: { authMethod: auth.mode, authToken: null, requiresOpenaiAuth: true } };
      case "bedrockApiKey":
      case "bedrockAccessKeys":
        // Outside the Amazon Bedrock provider Codex does not count them.
        return { result: none };
    }
  }

  private signInOptions(): SignInOptions {
    return {
      issuer: this.o.issuer,
      originator: this.o.originator,
      allowedWorkspaceIds: this.o.config.forcedChatgptWorkspaceIds,
    };
  }

  private refuseChatgptLogin(): void {
    if (this.o.config.forcedLoginMethod === "api") {
      throw new LoginRestrictedError("ChatGPT login is disabled. Use API key login instead.");
    }
  }

  /** Ends the pending sign-in, if any; resolves when it has stopped. */
  private async endPending(reason: EndReason): Promise<void> {
    const pending = this.pending;
    if (!pending) return;
    this.pending = undefined;
    pending.end(reason);
    await pending.stopped;
  }

  private completed(loginId: string | null, error: string | null): void {
    this.o.notify("account/login/completed", {
      loginId,
      success: error === null,
      error,
      onboardingEntrypoint: null,
    });
  }

  /** After a sign-in saved new credentials: reload, then announce. */
  private async announceSignIn(loginId: string | null): Promise<void> {
    this.o.external.clear();
    await this.o.credentials.reload();
    this.completed(loginId, null);
    this.announce(this.updated(await this.o.credentials.current()));
  }

  /** `account/login/start`. */
  async loginStart(params: ParamsOf<"account/login/start">): Promise<Reply<LoginAccountResponse>> {
    switch (params.type) {
      case "apiKey": {
        if (this.o.config.forcedLoginMethod === "chatgpt") {
          throw new LoginRestrictedError("API key login is disabled. Use ChatGPT login instead.");
        }
        await this.endPending("canceled");
        return this.storedSignIn({ type: "apiKey" }, () => this.o.credentials.saveApiKey(params.apiKey));
      }
      case "chatgpt":
        this.refuseChatgptLogin();
        return this.startBrowser();
      case "chatgptDeviceCode":
        this.refuseChatgptLogin();
        return this.startDevice();
      case "chatgptAuthTokens":
        if (!this.o.experimentalApi) {
          throw new RpcRequestError(
            "ERR_RPC_EXPERIMENTAL_API_REQUIRED",
            "account/login/start.chatgptAuthTokens requires experimentalApi capability",
          );
        }
        return this.useHostTokens({
          accessToken: params.accessToken,
          chatgptAccountId: params.chatgptAccountId,
          chatgptPlanType: params.chatgptPlanType ?? null,
        });
      case "amazonBedrock":
      case "amazonBedrockAccessKeys":
        if (!this.o.experimentalApi) {
          throw new RpcRequestError(
            "ERR_RPC_EXPERIMENTAL_API_REQUIRED",
            `account/login/start.${params.type} requires experimentalApi capability`,
          );
        }
        if (this.o.config.forcedLoginMethod === "chatgpt") {
          throw new LoginRestrictedError("Amazon Bedrock login is disabled. Use ChatGPT login instead.");
        }
        return this.saveBedrock(
          params.type === "amazonBedrock"
            ? { kind: "apiKey", apiKey: params.apiKey, region: params.region }
            : {
                kind: "accessKeys",
                accessKeyId: params.accessKeyId,
                secretAccessKey: params.secretAccessKey,
                sessionToken: params.sessionToken ?? undefined,
                region: params.region,
              },
        );
    }
  }

  /**
   * An Amazon Bedrock sign-in, as Codex's: saved at once (the record and
   * config.toml's provider), answered `{type: "amazonBedrock"}` for both
   * kinds, then `account/login/completed` and `account/updated`.
   */
  private saveBedrock(login: BedrockLogin): Promise<Reply<LoginAccountResponse>> {
    return this.storedSignIn({ type: "amazonBedrock" }, () => this.o.credentials.saveBedrock(login));
  }

  /**
   * A sign-in saved at once (API key, Amazon Bedrock): the credentials are
   * stored, host-supplied tokens dropped, the answer sent, then
   * `account/login/completed` and `account/updated` before the next answer.
   */
  private async storedSignIn(
    result: LoginAccountResponse,
    save: () => Promise<void>,
  ): Promise<Reply<LoginAccountResponse>> {
    const end = this.beginOwnChange();
    try {
      await save();
    } catch (err) {
      end();
      throw err;
    }
    this.o.external.clear();
    return {
      result,
      after: () => {
        this.completed(null, null);
        return this.o.credentials
          .current()
          .then((auth) => this.announce(this.updated(auth)))
          .finally(end);
      },
    };
  }

  /**
   * Host-supplied tokens: taken at once (memory only), then checked against
   * the backend as Codex does; `account/login/completed` tells how that went.
   */
  private useHostTokens(tokens: HostTokens): Reply<LoginAccountResponse> {
    const credentials = this.o.external.set(tokens);
    const check = async () => {
      const accountId = credentials.auth.tokens.account_id;
      try {
        if (this.visible(credentials.auth) && accountId) await this.discover(credentials.auth, accountId);
      } catch (err) {
        return this.completed(null, describeError(err));
      }
      this.completed(null, null);
      this.announce(this.updated(await this.inEffect(false)));
    };
    return {
      result: { type: "chatgptAuthTokens" },
      after: () => {
        check().catch((err) => this.o.log(`host token check failed: ${describeError(err)}`));
      },
    };
  }

  private async startBrowser(): Promise<Reply<LoginAccountResponse>> {
    await this.endPending("replaced");
    if (this.closed) throw new LoginError("ERR_LOGIN_CANCELLED", "Login cancelled");
    const signIn = await this.o.signIn.startBrowser(this.signInOptions());
    const id = crypto.randomUUID();
    let reason: EndReason | undefined;
    const pending: PendingLogin = {
      id,
      kind: "browser",
      end: (why) => {
        reason = why;
        signIn.cancel();
      },
      stopped: signIn.closed,
    };
    this.pending = pending;
    // The sign-in saves credentials itself and announces them: a change of our own throughout.
    const end = this.beginOwnChange();
    const settle = async () => {
      try {
        await signIn.done;
      } catch (err) {
        if (this.pending === pending) this.pending = undefined;
        if (reason === "canceled") return this.completed(id, "Login server error: Login was not completed");
        if (reason === "replaced") return this.completed(id, "Login server error: Login cancelled");
        return this.completed(id, loginFailureText(err));
      }
      if (this.pending === pending) this.pending = undefined;
      await this.announceSignIn(id);
    };
    return {
      result: { type: "chatgpt", loginId: id, authUrl: signIn.authUrl },
      after: () => {
        settle()
          .catch((err) => this.o.log(`sign-in bookkeeping failed: ${describeError(err)}`))
          .finally(end);
      },
    };
  }

  private async startDevice(): Promise<Reply<LoginAccountResponse>> {
    await this.endPending("replaced");
    if (this.closed) throw new LoginError("ERR_LOGIN_CANCELLED", "Login cancelled");
    let signIn: Awaited<ReturnType<SignInPort["startDevice"]>>;
    try {
      signIn = await this.o.signIn.startDevice(this.signInOptions());
    } catch (err) {
      throw new LoginError("ERR_LOGIN_FAILED", `failed to request device code: ${codexRequestFailure(err)}`, {
        cause: err,
      });
    }
    const id = crypto.randomUUID();
    let reason: EndReason | undefined;
    const stopped = signIn.done.then(
      () => {},
      () => {},
    );
    const pending: PendingLogin = {
      id,
      kind: "device",
      end: (why) => {
        reason = why;
        signIn.cancel();
      },
      stopped,
    };
    this.pending = pending;
    const end = this.beginOwnChange();
    const settle = async () => {
      try {
        await signIn.done;
      } catch (err) {
        if (this.pending === pending) this.pending = undefined;
        // Codex says the same whether the device login was cancelled or replaced.
        if (reason !== undefined) return this.completed(id, "Login was not completed");
        return this.completed(id, loginFailureText(err));
      }
      if (this.pending === pending) this.pending = undefined;
      await this.announceSignIn(id);
    };
    return {
      result: {
        type: "chatgptDeviceCode",
        loginId: id,
        verificationUrl: signIn.verificationUrl,
        userCode: signIn.userCode,
      },
      after: () => {
        settle()
          .catch((err) => this.o.log(`sign-in bookkeeping failed: ${describeError(err)}`))
          .finally(end);
      },
    };
  }

  /** `account/login/cancel`. */
  async loginCancel(params: ParamsOf<"account/login/cancel">): Promise<Reply<CancelLoginAccountResponse>> {
    const id = parseLoginId(params.loginId);
    if (id === undefined) {
      throw new RpcRequestError("ERR_RPC_INVALID_LOGIN_ID", `invalid login id: ${params.loginId}`);
    }
    if (this.pending?.id !== id) return { result: { status: "notFound" } };
    const pending = this.pending;
    this.pending = undefined;
    pending.end("canceled");
    return { result: { status: "canceled" } };
  }

  /** `account/logout`. */
  async logout(): Promise<Reply<LogoutAccountResponse>> {
    this.o.external.clear();
    const end = this.beginOwnChange();
    let left: CodexAuth | undefined;
    try {
      await this.o.credentials.logout();
      // What is still in effect: a CODEX_ACCESS_TOKEN outlives the logout (announced, as Codex, without a plan).
      left = await this.inEffect(false);
    } catch (err) {
      end();
      throw err;
    }
    return {
      result: {},
      after: () => {
        this.announce({ authMode: left?.mode ?? null, planType: null });
        // The watcher compares with the full account: the plan left out above is not a change to announce later.
        this.lastAnnounced = JSON.stringify(this.updated(left));
        end();
      },
    };
  }

  /** `account/rateLimits/read`: needs ChatGPT credentials. */
  async rateLimits(_params: ParamsOf<"account/rateLimits/read">): Promise<Reply<unknown>> {
    const auth = await this.inEffect(true);
    if (auth === undefined) {
      throw new RpcRequestError(
        "ERR_RPC_AUTH_REQUIRED",
        "codex account authentication required to read rate limits",
      );
    }
    if (auth.mode === "personalAccessToken") {
      // The token is the bearer, for the workspace `whoami` named.
      if (auth.metadata === undefined) {
        throw new RpcRequestError(
          "ERR_RPC_AUTH_REQUIRED",
          "codex account authentication required to read rate limits",
        );
      }
      return {
        result: await this.o.rateLimits.read(
          auth.accessToken,
          auth.metadata.chatgptAccountId,
          this.o.originator,
        ),
      };
    }
    if (auth.mode === "agentIdentity") {
      // Codex signs the request with the identity's key; codex-auth sends nothing as an agent.
      throw new RateLimitsError(
        "failed to fetch codex rate limits: codex-auth does not send requests as an Agent Identity",
      );
    }
    if (auth.mode !== "chatgpt" && auth.mode !== "chatgptAuthTokens") {
      throw new RpcRequestError(
        "ERR_RPC_AUTH_REQUIRED",
        "chatgpt authentication required to read rate limits",
      );
    }
    if (auth.tokens === undefined) {
      throw new RpcRequestError(
        "ERR_RPC_AUTH_REQUIRED",
        "codex account authentication required to read rate limits",
      );
    }
    const result = await this.o.rateLimits.read(
      auth.tokens.access_token,
      auth.tokens.account_id,
      this.o.originator,
    );
    return { result };
  }

  /** Ends the pending sign-in (its callback server stops) and refuses new ones. */
  async close(): Promise<void> {
    this.closed = true;
    this.unwatch?.();
    await this.endPending("canceled");
  }
}

/**
 * A request that got no HTTP answer, in the words of Codex's HTTP client
 * (`error sending request for url (URL)`); other failures as they are.
 */
function codexRequestFailure(err: unknown): string {
  for (let e = err; e instanceof Error; e = e.cause) {
    if (e instanceof NetworkError) return `error sending request for url (${e.url})`;
  }
  return describeError(err);
}

/** A failed sign-in's `error` text. */
function loginFailureText(err: unknown): string {
  return describeError(err);
}
