/**
 * `codex-auth/oauth`: the protocol primitives under the manager — one
 * function per HTTP step against OpenAI's issuer (authorize URL, code
 * exchange, device code, refresh, revoke), and the parsers for auth records
 * and JWTs. Applications normally use the main entry's `AuthManager`
 * instead; these are for tools that need a single step.
 */

export {
  accountsCheckEndpoint,
  loginIssuer,
  refreshEndpoint,
  revokeEndpoint,
  usageEndpoint,
} from "../config/endpoints.js";
export { applyRefresh } from "../manager/auth-manager.js";
export { parseAuthRecord, serializeAuthRecord } from "../record/auth-record.js";
export { parseIdToken } from "../record/claims.js";
export { decodeJwtPayload, jwtExpiry } from "../record/jwt.js";
export {
  type AccountDetails,
  type AccountsCheckOptions,
  requestAccountDetails,
  type WorkspaceRouting,
} from "./accounts-check.js";
export { type AuthorizeUrlOptions, buildAuthorizeUrl, LOGIN_SCOPES } from "./authorize.js";
export { CLIENT_ID, DEFAULT_ISSUER, DEFAULT_ORIGINATOR } from "./constants.js";
export { type DeviceCode, type DevicePoll, pollDeviceToken, requestDeviceCode } from "./device.js";
export { generatePkce, generateState, type Pkce } from "./pkce.js";
export {
  ACCOUNT_CHANGED_MESSAGE,
  classifyRefreshFailure,
  type RefreshedTokens,
  type RefreshReason,
  type RefreshRequestOptions,
  requestTokenRefresh,
} from "./refresh.js";
export { type RevokeOptions, revokeAccessToken, revokeRefreshToken } from "./revoke.js";
export {
  type ExchangeOptions,
  exchangeCodeForTokens,
  type IssuedTokens,
  obtainApiKey,
} from "./token-exchange.js";
export { parseWhoamiBody, requestPersonalAccessTokenMetadata, type WhoamiOptions } from "./whoami.js";
