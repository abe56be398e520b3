/**
 * codex-auth: sign in to OpenAI Codex and keep the credentials fresh,
 * file-compatible with a real `codex` install.
 *
 * @example
 * import { AuthManager, findCodexHome } from "codex-auth";
 * const manager = await AuthManager.create({ codexHome: findCodexHome() });
 * const token = (await manager.auth())?.getToken();
 */
export {
  type AuthConfig,
  type CredentialsStoreMode,
  type ForcedLoginMethod,
  type LoadConfigOptions,
  loadConfig,
} from "./config/config.js";
export { loginIssuer, refreshEndpoint, revokeEndpoint } from "./config/endpoints.js";
export { type Env, readCodexApiKeyFromEnv, readOpenAiApiKeyFromEnv } from "./config/env.js";
export { findCodexHome } from "./config/home.js";
export {
  AuthFileMalformedError,
  CodexAuthError,
  type CodexAuthErrorCode,
  ConfigError,
  JwtMalformedError,
  KeyringUnavailableError,
  LoginRestrictedError,
  RefreshTokenError,
  type RefreshTokenFailedReason,
  StorageIoError,
} from "./errors.js";
export {
  AuthManager,
  type AuthManagerOptions,
  applyRefresh,
  type ReloadOutcome,
} from "./manager/auth-manager.js";
export { CodexAuth, type TokenData } from "./manager/codex-auth.js";
export {
  type LoadAuthOptions,
  type LogoutOptions,
  loadAuth,
  loadAuthRecord,
  loginWithApiKey,
  logout,
  type StorageChoice,
  saveAuth,
} from "./manager/operations.js";
export { UnauthorizedRecovery } from "./manager/recovery.js";
export { enforceLoginRestrictions, loginRestrictionViolation } from "./manager/restrictions.js";
export { DEFAULT_REFRESH_WINDOW_MS, isStale } from "./manager/staleness.js";
export { CLIENT_ID, DEFAULT_ISSUER } from "./oauth/constants.js";
export {
  ACCOUNT_CHANGED_MESSAGE,
  classifyRefreshFailure,
  type RefreshedTokens,
  type RefreshReason,
  requestTokenRefresh,
} from "./oauth/refresh.js";
export { revokeRefreshToken } from "./oauth/revoke.js";
export {
  type AuthMode,
  type AuthRecord,
  type OAuthProvenance,
  parseAuthRecord,
  type StoredTokens,
  serializeAuthRecord,
} from "./record/auth-record.js";
export { type IdTokenInfo, parseIdToken } from "./record/claims.js";
export { decodeJwtPayload, jwtExpiry } from "./record/jwt.js";
export { type PlanType, planTypeFromRaw } from "./record/plan.js";
export {
  type AuthStorage,
  type AuthTransaction,
  type CreateStorageOptions,
  createStorage,
  EphemeralAuthStorage,
  FileAuthStorage,
  inProcessLock,
  keyringAccountKey,
  LockedAuthStorage,
  type StorageKind,
  type TransactionLock,
} from "./storage/index.js";
