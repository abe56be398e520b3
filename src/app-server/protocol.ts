/**
 * The account part of Codex 0.169's app-server protocol, as TypeScript
 * types: what `codex-auth app-server` reads and writes. They are written by
 * hand and checked against the types the real binary generates
 * (`contract/codex-0.169/app-server/`, `conformance.ts` there): every type
 * below equals its generated counterpart.
 */
import type { PlanType } from "../record/plan.js";

/** A request id: a string or an integer (Codex accepts the whole signed 64-bit range). */
export type RequestId = string | number;

/** Who the client is; `name` becomes the `originator` of requests made for it. */
export interface ClientInfo {
  name: string;
  title: string | null;
  version: string;
}

/** Capabilities a client declares in `initialize`. */
export interface InitializeCapabilities {
  requiredHumanApproval?: boolean;
  explicitGatewayOauth?: boolean;
  /** Opts into experimental methods and fields (`chatgptAuthTokens` sign-in needs it). */
  experimentalApi: boolean;
  requestAttestation: boolean;
  mcpServerOpenaiFormElicitation?: boolean;
  /** Notification methods this connection does not want (e.g. `account/updated`). */
  optOutNotificationMethods?: Array<string> | null;
  extensions?: { [key in string]?: JsonValue } | null;
}

/** Any JSON value. */
export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]?: JsonValue } | null;

/** `initialize` parameters. */
export interface InitializeParams {
  clientInfo: ClientInfo;
  capabilities: InitializeCapabilities | null;
}

/** `initialize` result. */
export interface InitializeResponse {
  /** `<client name>/<version> (<OS> <OS version>; <arch>) <terminal> (<client name>; <client version>)`. */
  userAgent: string;
  /** Absolute path of the CODEX_HOME in use. */
  codexHome: string;
  platformFamily: string;
  platformOs: string;
}

/** Codex's authentication modes. */
export type AuthMode =
  | "apikey"
  | "chatgpt"
  | "chatgptAuthTokens"
  | "headers"
  | "agentIdentity"
  | "personalAccessToken"
  | "bedrockApiKey"
  | "bedrockAccessKeys";

/** ChatGPT plans as Codex 0.169 names them on the wire: one definition, in record/plan. */
export type { PlanType };

/** `getAuthStatus` parameters. */
export interface GetAuthStatusParams {
  includeToken: boolean | null;
  refreshToken: boolean | null;
}

/** `getAuthStatus` result. */
export interface GetAuthStatusResponse {
  authMethod: AuthMode | null;
  /** The API key or access token; only with `includeToken`. */
  authToken: string | null;
  requiresOpenaiAuth: boolean | null;
}

/** `account/read` parameters. */
export interface GetAccountParams {
  /** Refresh managed ChatGPT tokens before answering. */
  refreshToken?: boolean;
}

/** The account in effect. */
export type Account =
  | { type: "apiKey" }
  | { type: "chatgpt"; email: string | null; planType: PlanType; workspaceName: string | null }
  | { type: "amazonBedrock"; usesCodexManagedCredentials: boolean }
  | { type: "gcp" };

/** Backend routing policy from `accounts/check`. */
export type AccountRoutingOverride = "NO_CONSTRAINT" | "us" | "us_cr";

/** Where the selected ChatGPT workspace's requests go (from `<chatgpt_base_url>/wham/accounts/check`). */
export interface WorkspaceRouting {
  chatgptAccountId: string;
  backendOrigin: string;
  accountRoutingOverride: AccountRoutingOverride;
}

/** `account/read` result (Codex sends `workspaceRouting` to every client, not only experimental ones). */
export interface GetAccountResponse {
  account: Account | null;
  userId: string | null;
  requiresOpenaiAuth: boolean;
  workspaceRouting: WorkspaceRouting | null;
}

/** Brand of the hosted login pages. */
export type LoginAppBrand = "codex" | "chatgpt";

/** `account/login/start` parameters. */
export type LoginAccountParams =
  | { type: "apiKey"; apiKey: string }
  | {
      type: "chatgpt";
      codexStreamlinedLogin?: boolean;
      useHostedLoginSuccessPage?: boolean;
      appBrand?: LoginAppBrand | null;
    }
  | { type: "chatgptDeviceCode" }
  | {
      type: "chatgptAuthTokens";
      accessToken: string;
      chatgptAccountId: string;
      chatgptPlanType?: string | null;
    }
  | { type: "amazonBedrock"; apiKey: string; region: string }
  | {
      type: "amazonBedrockAccessKeys";
      accessKeyId: string;
      secretAccessKey: string;
      sessionToken?: string | null;
      region: string;
    };

/** `account/login/start` result. */
export type LoginAccountResponse =
  | { type: "apiKey" }
  | { type: "chatgpt"; loginId: string; authUrl: string }
  | { type: "chatgptDeviceCode"; loginId: string; verificationUrl: string; userCode: string }
  | { type: "chatgptAuthTokens" }
  | { type: "amazonBedrock" };

/** `account/login/cancel` parameters. */
export interface CancelLoginAccountParams {
  loginId: string;
}

/** What `account/login/cancel` found. */
export type CancelLoginAccountStatus = "canceled" | "notFound";

/** `account/login/cancel` result. */
export interface CancelLoginAccountResponse {
  status: CancelLoginAccountStatus;
}

/** `account/logout` result: an empty object. */
export type LogoutAccountResponse = Record<string, never>;

/** Where a desktop app's onboarding started. */
export type DesktopOnboardingEntrypoint = "life_sciences";

/** `account/login/completed`: a sign-in ended. */
export interface AccountLoginCompletedNotification {
  /** The `loginId` from `account/login/start`; null for API keys and host-supplied tokens. */
  loginId: string | null;
  success: boolean;
  error: string | null;
  onboardingEntrypoint: DesktopOnboardingEntrypoint | null;
}

/** `account/updated`: the credentials in effect changed. */
export interface AccountUpdatedNotification {
  authMode: AuthMode | null;
  planType: PlanType | null;
}

/** Why the server asks the client for new host-supplied tokens. */
export type ChatgptAuthTokensRefreshReason = "unauthorized";

/** `account/chatgptAuthTokens/refresh` (server → client request) parameters. */
export interface ChatgptAuthTokensRefreshParams {
  reason: ChatgptAuthTokensRefreshReason;
  /** The workspace in use before, so a client with several can refresh the right one. */
  previousAccountId?: string | null;
}

/** The client's answer to `account/chatgptAuthTokens/refresh`. */
export interface ChatgptAuthTokensRefreshResponse {
  accessToken: string;
  chatgptAccountId: string;
  chatgptPlanType: string | null;
}

/** A notification as written: its method, parameters, and when the server emitted it. */
export interface NotificationEnvelope<M extends string = string, P = unknown> {
  method: M;
  params: P;
  /** Unix time in ms. */
  emittedAtMs: number;
}

/** A JSON-RPC error object. Codex uses -32600 for requests it refuses and -32603 for failures. */
export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}
