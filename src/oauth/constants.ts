/** OpenAI's issuer. */
export const DEFAULT_ISSUER = "https://auth.openai.com";
/** The OAuth client id Codex uses. */
export const CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann";
/** Default token endpoint (refresh). */
export const DEFAULT_TOKEN_URL = `${DEFAULT_ISSUER}/oauth/token`;
/** Default revocation endpoint. */
export const DEFAULT_REVOKE_URL = `${DEFAULT_ISSUER}/oauth/revoke`;
/** The `originator` header Codex's CLI sends. */
export const DEFAULT_ORIGINATOR = "codex_cli_rs";

/*
 * Time limits per endpoint, for the whole request (connect, send, read the
 * body). Codex 0.169 bounds only revocation (REVOKE_HTTP_TIMEOUT, 10 s); its
 * other auth requests have no limit of their own, so ours are generous.
 */
/** Refresh (`POST /oauth/token`, JSON). */
export const REFRESH_TIMEOUT_MS = 30_000;
/** Authorization-code and API-key exchanges (`POST /oauth/token`, form). */
export const TOKEN_EXCHANGE_TIMEOUT_MS = 30_000;
/** Device-code request and each poll (`POST /api/accounts/deviceauth/…`). */
export const DEVICE_AUTH_TIMEOUT_MS = 30_000;
/** Revocation (`POST /oauth/revoke`): 10 s, as Codex. */
export const REVOKE_TIMEOUT_MS = 10_000;
