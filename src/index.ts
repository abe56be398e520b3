/**
 * codex-auth: sign in to OpenAI Codex and keep the credentials fresh,
 * file-compatible with a real `codex` install.
 *
 * This entry holds what applications call: the {@link AuthManager}, the
 * sign-in API ({@link startChatgptSignIn}, {@link startDeviceCodeSignIn},
 * {@link signInWithApiKey}, {@link signInWithHostTokens}), the authenticated
 * fetch ({@link createAuthenticatedFetch}), rate limits
 * ({@link readRateLimits}), storage, config, the credential snapshot types
 * and the errors. Protocol primitives
 * (single OAuth requests, JWT decoding, record parsing) are in
 * `codex-auth/oauth`; the development issuer in `codex-auth/dev-issuer`.
 *
 * @example
 * import { AuthManager, bearerToken, findCodexHome } from "codex-auth";
 * const manager = await AuthManager.create({ codexHome: findCodexHome() });
 * const auth = await manager.auth();
 * if (auth) headers.authorization = `Bearer ${bearerToken(auth)}`;
 *
 * @example
 * import { AuthManager, createAuthenticatedFetch, findCodexHome, startDeviceCodeSignIn } from "codex-auth";
 * const manager = await AuthManager.create({ codexHome: findCodexHome() });
 * if (!manager.authCached()) {
 *   const signIn = await startDeviceCodeSignIn({ manager });
 *   ui.show(signIn.verificationUrl, signIn.userCode);
 *   await signIn.done;
 * }
 * const authFetch = createAuthenticatedFetch(manager); // bearer, chatgpt-account-id, refresh, 401 recovery
 */

export {
  type AccountRateLimits,
  type CreditsSnapshot,
  parseUsagePayload,
  type RateLimitReachedType,
  type RateLimitSnapshot,
  type RateLimitWindow,
  type ReadRateLimitsOptions,
  readRateLimits,
  type SpendControlLimitSnapshot,
} from "./backend/rate-limits.js";
export {
  type AuthConfig,
  type CredentialsStoreMode,
  defaultSystemConfigDir,
  type ForcedLoginMethod,
  type LoadConfigOptions,
  loadConfig,
} from "./config/config.js";
export { type Env, readCodexApiKeyFromEnv, readOpenAiApiKeyFromEnv } from "./config/env.js";
export { findCodexHome } from "./config/home.js";
export {
  type AuthSettings,
  applyRequirements,
  type ManagedRequirements,
  NO_USABLE_LOGIN_METHOD,
  type ResidencyRequirement,
  readManagedRequirements,
} from "./config/requirements.js";
export type { Deps } from "./deps.js";
export {
  AccountDetailsError,
  ApiKeyMissingError,
  AuthFileMalformedError,
  AuthFileReadOnlyError,
  BackendError,
  type BackendErrorCode,
  CaCertificateError,
  CodexAuthError,
  type CodexAuthErrorCode,
  ConfigError,
  CredentialMissingError,
  InvalidCredentialError,
  JwtMalformedError,
  KeyringUnavailableError,
  LockTimeoutError,
  LoginError,
  type LoginErrorCode,
  LoginRestrictedError,
  NetworkError,
  type NetworkFailure,
  NotLoggedInError,
  PersonalAccessTokenError,
  type PersonalAccessTokenFailure,
  RefreshTokenError,
  type RefreshTokenErrorCode,
  type RefreshTokenFailedReason,
  RequestBodyNotReplayableError,
  RequirementsError,
  type SecretsFileProblem,
  SecretsFileUnreadableError,
  SecretsFileVersionError,
  SecretsKeyMissingError,
  StorageIoError,
  UnsupportedAuthModeError,
} from "./errors.js";
export {
  type AuthenticatedFetchOptions,
  createAuthenticatedFetch,
  DEFAULT_MAX_BUFFERED_BODY_BYTES,
} from "./fetch/authenticated-fetch.js";
export {
  type AccessTokenCheckOptions,
  type AccessTokenLoginOptions,
  checkPersonalAccessToken,
  ensureWorkspaceAllowed,
  loginWithAccessToken,
} from "./manager/access-token.js";
export type {
  AccountInfo,
  AuthChangeEvent,
  AuthChangeKind,
  AuthChangeListener,
  AuthWatchOptions,
} from "./manager/account-changes.js";
export {
  AuthManager,
  type AuthManagerOptions,
  type ManagerContext,
  type ReloadOutcome,
} from "./manager/auth-manager.js";
export {
  type BedrockAccessKeysLogin,
  type BedrockApiKeyLogin,
  type BedrockLoginOptions,
  loginWithBedrockAccessKeys,
  loginWithBedrockApiKey,
} from "./manager/bedrock.js";
export type {
  HostTokens,
  HostTokensRefreshReason,
  HostTokensRefreshRequest,
  RefreshHostTokens,
} from "./manager/host-tokens.js";
export {
  type LoadAuthOptions,
  type LogoutOptions,
  loadAuth,
  loadAuthRecord,
  loginWithApiKey,
  logout,
  type RevokedToken,
  type StorageChoice,
  saveAuth,
} from "./manager/operations.js";
export { UnauthorizedRecovery } from "./manager/recovery.js";
export {
  enforceLoginRestrictions,
  loginMethodOf,
  loginRestrictionViolation,
  type RestrictionKind,
  type RestrictionViolation,
} from "./manager/restrictions.js";
export type { AccountDetails, WorkspaceRouting } from "./oauth/accounts-check.js";
export type {
  AgentIdentityRecord,
  AgentIdentityStorage,
  AuthMode,
  AuthRecord,
  BedrockAccessKeysRecord,
  BedrockApiKeyRecord,
  OAuthProvenance,
  StoredTokens,
} from "./record/auth-record.js";
export type { IdTokenInfo } from "./record/claims.js";
export {
  type AgentIdentityAuth,
  type ApiKeyAuth,
  accountIdOf,
  authFromAccessToken,
  authFromApiKey,
  authFromRecord,
  type BedrockAccessKeysAuth,
  type BedrockApiKeyAuth,
  bearerToken,
  type ChatgptAuth,
  type ChatgptAuthWithoutTokens,
  type CodexAuth,
  type CredentialSource,
  isManagedChatgpt,
  isRefreshable,
  PERSONAL_ACCESS_TOKEN_PREFIX,
  type PersonalAccessTokenAuth,
  type PersonalAccessTokenMetadata,
  planTypeOf,
  sameCredentials,
  workspaceIdOf,
} from "./record/codex-auth.js";
export { type PlanType, planTypeFromRaw } from "./record/plan.js";
export { DEFAULT_REFRESH_WINDOW_MS, isStale } from "./record/staleness.js";
export {
  type ApiKeySignInOptions,
  accountOf,
  activeSignInId,
  type ChatgptSignIn,
  type ChatgptSignInOptions,
  cancelSignIn,
  type DeviceCodeSignIn,
  type DeviceCodeSignInOptions,
  type HostTokensSignInOptions,
  type SignedInAccount,
  type SignInOptions,
  type SignInRestrictions,
  signInWithApiKey,
  signInWithHostTokens,
  startChatgptSignIn,
  startDeviceCodeSignIn,
} from "./signin/api.js";
export { AutoAuthStorage, type AutoStorageOptions } from "./storage/auto.js";
export {
  type AuthStorage,
  type AuthTransaction,
  type CreateStorageOptions,
  createStorage,
  ENCRYPTED_AUTH_FILE_NAME,
  ENCRYPTED_AUTH_SECRET_KEY,
  EncryptedAuthStorage,
  type EncryptedStorageOptions,
  EphemeralAuthStorage,
  FileAuthStorage,
  inProcessLock,
  keyringAccountKey,
  LockedAuthStorage,
  type StorageKind,
  secretsKeyringAccount,
  type TransactionLock,
} from "./storage/index.js";
export { KeyringAuthStorage, type KeyringStorageOptions } from "./storage/keyring.js";
