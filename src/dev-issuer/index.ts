/**
 * The embedded development issuer: a local stand-in for https://auth.openai.com
 * built on oidc-provider, speaking OpenAI's dialect (JSON refresh, reuse
 * codes, device-code endpoints, API-key exchange, accounts/check). Loaded
 * lazily by the CLI (`codex-auth dev-issuer`); heavy dependencies stay here.
 */

/** Codex's OAuth client id, which the dev issuer serves. */
export { CLIENT_ID as CODEX_CLIENT_ID } from "../oauth/constants.js";
export type { IssuedAgentIdentity } from "./agent-identities.js";
export { type DevIssuerArgs, type DevIssuerIo, parseDevIssuerArgs, runDevIssuerCli } from "./cli.js";
export {
  type DevIssuer,
  type DevIssuerOptions,
  type IssuedTokens,
  type RequestLogEntry,
  startDevIssuer,
} from "./server.js";
export {
  DEFAULT_DEV_USER,
  type DevUser,
  type DevWorkspace,
  loadDevUsersFile,
  parseDevUsers,
  type ResolvedUser,
  type ResolvedWorkspace,
} from "./users.js";
