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
