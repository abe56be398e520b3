/**
 * Which URL each request goes to, chosen as Codex 0.169 chooses it, with the
 * environment overrides Codex honours. `oauth/` takes the URLs it is given.
 */
import { CLIENT_ID, DEFAULT_ISSUER, DEFAULT_REVOKE_URL, DEFAULT_TOKEN_URL } from "../oauth/constants.js";
import type { AuthRecord } from "../record/auth-record.js";
import {
  appServerIssuerOverride,
  authapiBaseUrlOverride,
  clientIdOverride,
  type Env,
  issuerOverride,
  refreshTokenUrlOverride,
  revokeTokenUrlOverride,
} from "./env.js";

/** OpenAI's account API, where Codex checks personal access tokens. */
export const DEFAULT_AUTHAPI_BASE_URL = "https://auth.openai.com/api/accounts";

function withoutTrailingSlashes(url: string): string {
  return url.replace(/\/+$/, "");
}

/**
 * The token endpoint for a refresh, chosen as Codex 0.169 does:
 * `CODEX_REFRESH_TOKEN_URL_OVERRIDE`; else the issuer the tokens came from
 * (`tokens.oauth_provenance.issuer` + `/oauth/token`); else OpenAI's.
 *
 * @example refreshEndpoint(process.env, record) // "https://auth.openai.com/oauth/token"
 */
export function refreshEndpoint(env: Env, record?: AuthRecord): string {
  const override = refreshTokenUrlOverride(env);
  if (override) return override;
  const issuer = record?.tokens?.oauth_provenance?.issuer;
  if (issuer && issuer !== DEFAULT_ISSUER) return `${withoutTrailingSlashes(issuer)}/oauth/token`;
  return DEFAULT_TOKEN_URL;
}

/**
 * The revocation endpoint, chosen as Codex 0.169 does:
 * `CODEX_REVOKE_TOKEN_URL_OVERRIDE`; else the refresh override with its path
 * replaced by `/oauth/revoke` (query dropped); else the issuer the tokens
 * came from (`oauth_provenance.issuer`); else OpenAI's.
 */
export function revokeEndpoint(env: Env, issuer?: string): string {
  const explicit = revokeTokenUrlOverride(env);
  if (explicit) return explicit;
  const refresh = refreshTokenUrlOverride(env);
  if (refresh) {
    try {
      const url = new URL(refresh);
      url.pathname = "/oauth/revoke";
      url.search = "";
      url.hash = "";
      return url.toString();
    } catch {
      // not a URL: fall through to the defaults
    }
  }
  if (issuer && issuer !== DEFAULT_ISSUER) return `${withoutTrailingSlashes(issuer)}/oauth/revoke`;
  return DEFAULT_REVOKE_URL;
}

/**
 * The issuer the CLI's sign-in flows use: `CODEX_AUTH_ISSUER` (ours; Codex's
 * CLI takes `--experimental_issuer` for device sign-in only), else
 * https://auth.openai.com.
 */
export function loginIssuer(env: Env): string {
  return issuerOverride(env) ?? DEFAULT_ISSUER;
}

/** Codex's default `chatgpt_base_url`. */
export const DEFAULT_CHATGPT_BASE_URL = "https://chatgpt.com/backend-api/";

/**
 * The ChatGPT backend's base URL as Codex 0.169's backend client builds it
 * from `chatgpt_base_url` (default {@link DEFAULT_CHATGPT_BASE_URL}):
 * trailing slashes trimmed, and `/backend-api` added to a bare
 * `https://chatgpt.com` or `https://chat.openai.com`.
 */
export function chatgptBackendBase(chatgptBaseUrl: string | undefined): string {
  let base = withoutTrailingSlashes(chatgptBaseUrl ?? DEFAULT_CHATGPT_BASE_URL);
  if (
    (base.startsWith("https://chatgpt.com") || base.startsWith("https://chat.openai.com")) &&
    !base.includes("/backend-api")
  ) {
    base = `${base}/backend-api`;
  }
  return base;
}

/**
 * Workspace routing discovery (`account/read` in Codex's app server):
 * `BASE/wham/accounts/check` for a base containing `/backend-api`, else
 * `BASE/api/codex/accounts/check`, as Codex chooses.
 */
export function accountsCheckEndpoint(chatgptBaseUrl: string | undefined): string {
  const base = chatgptBackendBase(chatgptBaseUrl);
  return base.includes("/backend-api") ? `${base}/wham/accounts/check` : `${base}/api/codex/accounts/check`;
}

/**
 * The usage endpoint (`account/rateLimits/read` in Codex's app server):
 * `BASE/wham/usage` for a base containing `/backend-api`, else
 * `BASE/api/codex/usage`, as Codex chooses.
 */
export function usageEndpoint(chatgptBaseUrl: string | undefined): string {
  const base = chatgptBackendBase(chatgptBaseUrl);
  return base.includes("/backend-api") ? `${base}/wham/usage` : `${base}/api/codex/usage`;
}

/**
 * The workspace's cloud-delivered configuration: `BASE/wham/config/bundle`
 * for a ChatGPT `backend-api` base, else `BASE/api/codex/config/bundle`, as
 * Codex 0.169 chooses.
 */
export function configBundleEndpoint(chatgptBaseUrl: string | undefined): string {
  const base = chatgptBackendBase(chatgptBaseUrl);
  return base.includes("/backend-api") ? `${base}/wham/config/bundle` : `${base}/api/codex/config/bundle`;
}

/**
 * The issuer an app server's sign-ins use, as Codex 0.169 names it:
 * `CODEX_APP_SERVER_LOGIN_ISSUER`, else our alias `CODEX_AUTH_ISSUER`, else
 * https://auth.openai.com.
 */
export function appServerLoginIssuer(env: Env): string {
  return appServerIssuerOverride(env) ?? issuerOverride(env) ?? DEFAULT_ISSUER;
}

/**
 * The OAuth client id of refresh and revocation requests, as Codex 0.169's
 * `oauth_client_id()`: `CODEX_APP_SERVER_LOGIN_CLIENT_ID`, else Codex's own.
 * (The CLI's sign-ins ignore the variable, as Codex's do: they send
 * `--experimental_client-id` or Codex's own.)
 */
export function oauthClientId(env: Env | undefined): string {
  return clientIdOverride(env ?? process.env) ?? CLIENT_ID;
}

/** The client id an app server's sign-ins send: `CODEX_APP_SERVER_LOGIN_CLIENT_ID`, else Codex's own. */
export function appServerClientId(env: Env): string {
  return oauthClientId(env);
}

/**
 * Where a personal access token is checked (Codex 0.169's `whoami`):
 * `{CODEX_AUTHAPI_BASE_URL or https://auth.openai.com/api/accounts}/v1/user-auth-credential/whoami`.
 */
export function whoamiEndpoint(env: Env): string {
  return `${authapiBaseUrlOverride(env) ?? DEFAULT_AUTHAPI_BASE_URL}/v1/user-auth-credential/whoami`;
}
