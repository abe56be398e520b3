/**
 * Compile-time check: the protocol types codex-auth's app server is written
 * against (src/app-server/protocol.ts) are the types Codex 0.169 generates.
 * `tsc -p contract/codex-0.169/app-server` fails when one side drifts
 * (test/app-server/contract.test.ts runs it).
 */
import type * as Ours from "../../../src/app-server/protocol.js";
import type { PlanType as RecordPlanType } from "../../../src/record/plan.js";
import type { AuthMode } from "./ts/AuthMode";
import type { ClientInfo } from "./ts/ClientInfo";
import type { GetAuthStatusParams } from "./ts/GetAuthStatusParams";
import type { GetAuthStatusResponse } from "./ts/GetAuthStatusResponse";
import type { InitializeCapabilities } from "./ts/InitializeCapabilities";
import type { InitializeParams } from "./ts/InitializeParams";
import type { InitializeResponse } from "./ts/InitializeResponse";
import type { PlanType } from "./ts/PlanType";
import type { RequestId } from "./ts/RequestId";
import type { JsonValue } from "./ts/serde_json/JsonValue";
import type { Account } from "./ts/v2/Account";
import type { AccountLoginCompletedNotification } from "./ts/v2/AccountLoginCompletedNotification";
import type { AccountRoutingOverride } from "./ts/v2/AccountRoutingOverride";
import type { AccountUpdatedNotification } from "./ts/v2/AccountUpdatedNotification";
import type { CancelLoginAccountParams } from "./ts/v2/CancelLoginAccountParams";
import type { CancelLoginAccountResponse } from "./ts/v2/CancelLoginAccountResponse";
import type { CancelLoginAccountStatus } from "./ts/v2/CancelLoginAccountStatus";
import type { ChatgptAuthTokensRefreshParams } from "./ts/v2/ChatgptAuthTokensRefreshParams";
import type { ChatgptAuthTokensRefreshReason } from "./ts/v2/ChatgptAuthTokensRefreshReason";
import type { ChatgptAuthTokensRefreshResponse } from "./ts/v2/ChatgptAuthTokensRefreshResponse";
import type { DesktopOnboardingEntrypoint } from "./ts/v2/DesktopOnboardingEntrypoint";
import type { GetAccountParams } from "./ts/v2/GetAccountParams";
import type { LoginAccountParams } from "./ts/v2/LoginAccountParams";
import type { LoginAccountResponse } from "./ts/v2/LoginAccountResponse";
import type { LoginAppBrand } from "./ts/v2/LoginAppBrand";
import type { LogoutAccountResponse } from "./ts/v2/LogoutAccountResponse";
import type { WorkspaceRouting } from "./ts/v2/WorkspaceRouting";
import type { GetAccountResponse as GetAccountResponseExperimental } from "./ts-experimental/v2/GetAccountResponse";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Structural equality that ignores how the types are spelled (interface vs alias). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Check<T extends true> = T;

export type Conformance = [
  Check<Same<Ours.RequestId, RequestId>>,
  Check<Same<Ours.ClientInfo, ClientInfo>>,
  Check<Same<Ours.InitializeCapabilities, InitializeCapabilities>>,
  Check<Same<Ours.InitializeParams, InitializeParams>>,
  Check<Same<Ours.InitializeResponse, InitializeResponse>>,
  Check<Equal<Ours.AuthMode, AuthMode>>,
  Check<Equal<Ours.PlanType, PlanType>>,
  // The plans the library decodes from ID tokens are the protocol's.
  Check<Equal<RecordPlanType, PlanType>>,
  Check<Same<Ours.JsonValue, JsonValue>>,
  Check<Same<Ours.GetAuthStatusParams, GetAuthStatusParams>>,
  Check<Same<Ours.GetAuthStatusResponse, GetAuthStatusResponse>>,
  Check<Same<Ours.GetAccountParams, GetAccountParams>>,
  // Codex sends the experimental shape (with workspaceRouting) to every client.
  Check<Same<Ours.GetAccountResponse, GetAccountResponseExperimental>>,
  Check<Same<Ours.Account, Account>>,
  Check<Equal<Ours.AccountRoutingOverride, AccountRoutingOverride>>,
  Check<Same<Ours.WorkspaceRouting, WorkspaceRouting>>,
  Check<Same<Ours.LoginAccountParams, LoginAccountParams>>,
  Check<Same<Ours.LoginAccountResponse, LoginAccountResponse>>,
  Check<Equal<Ours.LoginAppBrand, LoginAppBrand>>,
  Check<Same<Ours.CancelLoginAccountParams, CancelLoginAccountParams>>,
  Check<Same<Ours.CancelLoginAccountResponse, CancelLoginAccountResponse>>,
  Check<Equal<Ours.CancelLoginAccountStatus, CancelLoginAccountStatus>>,
  Check<Same<Ours.LogoutAccountResponse, LogoutAccountResponse>>,
  Check<Same<Ours.AccountLoginCompletedNotification, AccountLoginCompletedNotification>>,
  Check<Equal<Ours.DesktopOnboardingEntrypoint, DesktopOnboardingEntrypoint>>,
  Check<Same<Ours.AccountUpdatedNotification, AccountUpdatedNotification>>,
  Check<Equal<Ours.ChatgptAuthTokensRefreshReason, ChatgptAuthTokensRefreshReason>>,
  Check<Same<Ours.ChatgptAuthTokensRefreshParams, ChatgptAuthTokensRefreshParams>>,
  Check<Same<Ours.ChatgptAuthTokensRefreshResponse, ChatgptAuthTokensRefreshResponse>>,
];
