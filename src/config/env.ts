/**
 * The only module that reads environment variables. Everything else takes
 * an {@link Env} so tests can pass their own.
 */
export type Env = Readonly<Record<string, string | undefined>>;

/** The process environment (a live view, read at call time). */
export function processEnv(): Env {
  return process.env;
}

function nonEmptyTrimmed(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

/** `CODEX_API_KEY`, trimmed; undefined when unset or blank. Used only where the caller enables it. */
export function readCodexApiKeyFromEnv(env: Env = process.env): string | undefined {
  return nonEmptyTrimmed(env.CODEX_API_KEY);
}

/** `OPENAI_API_KEY`, trimmed; undefined when unset or blank. A helper for callers, never a stored login. */
export function readOpenAiApiKeyFromEnv(env: Env = process.env): string | undefined {
  return nonEmptyTrimmed(env.OPENAI_API_KEY);
}

/** `CODEX_REFRESH_TOKEN_URL_OVERRIDE`, when set. */
export function refreshTokenUrlOverride(env: Env = process.env): string | undefined {
  return nonEmptyTrimmed(env.CODEX_REFRESH_TOKEN_URL_OVERRIDE);
}

/** `CODEX_REVOKE_TOKEN_URL_OVERRIDE`, when set. */
export function revokeTokenUrlOverride(env: Env = process.env): string | undefined {
  return nonEmptyTrimmed(env.CODEX_REVOKE_TOKEN_URL_OVERRIDE);
}

/**
 * `CODEX_APP_SERVER_LOGIN_CLIENT_ID`: the OAuth client id Codex 0.169 sends
 * instead of its own on refresh and revocation (and in its app server's
 * sign-ins). Kept as written when not blank, as Codex.
 */
export function clientIdOverride(env: Env = process.env): string | undefined {
  const value = env.CODEX_APP_SERVER_LOGIN_CLIENT_ID;
  return value?.trim() ? value : undefined;
}

/** `CODEX_APP_SERVER_LOGIN_ISSUER`: Codex's app-server sign-in issuer (browser and device). */
export function appServerIssuerOverride(env: Env = process.env): string | undefined {
  return nonEmptyTrimmed(env.CODEX_APP_SERVER_LOGIN_ISSUER);
}

/** `CODEX_AUTH_ISSUER`: the issuer sign-in flows use instead of https://auth.openai.com. */
export function issuerOverride(env: Env = process.env): string | undefined {
  return nonEmptyTrimmed(env.CODEX_AUTH_ISSUER);
}

/**
 * `CODEX_ACCESS_TOKEN`, trimmed; undefined when unset or blank. Codex 0.169
 * uses it (when ChatGPT-style logins are allowed) ahead of stored
 * credentials: `at-…` is a personal access token, anything else an Agent
 * Identity JWT.
 */
export function readCodexAccessTokenFromEnv(env: Env = process.env): string | undefined {
  return nonEmptyTrimmed(env.CODEX_ACCESS_TOKEN);
}

/** `CODEX_AUTHAPI_BASE_URL` (trimmed, trailing slashes removed): where personal access tokens are checked. */
export function authapiBaseUrlOverride(env: Env = process.env): string | undefined {
  const value = nonEmptyTrimmed(env.CODEX_AUTHAPI_BASE_URL)?.replace(/\/+$/, "");
  return value ? value : undefined;
}

/**
 * `CODEX_APP_SERVER_LOGIN_ISSUER`: the issuer the app server's sign-ins use
 * (Codex 0.169 reads it there only).
 */
export function appServerLoginIssuer(env: Env = process.env): string | undefined {
  return nonEmptyTrimmed(env.CODEX_APP_SERVER_LOGIN_ISSUER);
}

/** The variables Codex names its terminal after in the user agent (`TERM_PROGRAM`, `TERM`, …). */
export function terminalEnv(env: Env = process.env): Readonly<Record<string, string | undefined>> {
  const out: Record<string, string | undefined> = {};
  for (const key of TERMINAL_VARIABLES) out[key] = env[key];
  return out;
}

const TERMINAL_VARIABLES = [
  "TERM_PROGRAM",
  "TERM_PROGRAM_VERSION",
  "WEZTERM_VERSION",
  "KITTY_WINDOW_ID",
  "ALACRITTY_SOCKET",
  "KONSOLE_VERSION",
  "GNOME_TERMINAL_SCREEN",
  "VTE_VERSION",
  "WT_SESSION",
  "TERM",
] as const;

/**
 * `CODEX_AUTH_SYSTEM_CONFIG_DIR`: the folder read instead of `/etc/codex`
 * (Windows: `%ProgramData%\OpenAI\Codex`) for the administrator's
 * requirements.toml, managed_config.toml and system config.toml, honoured
 * only where that folder does not exist (see `systemConfigDir`). For tests
 * and sandboxes; Codex itself has no such variable.
 */
export function systemConfigDirOverride(env: Env = process.env): string | undefined {
  return nonEmptyTrimmed(env.CODEX_AUTH_SYSTEM_CONFIG_DIR);
}

/** `%ProgramData%` (Windows), where Codex keeps its system configuration folder. */
export function programDataDir(env: Env = process.env): string | undefined {
  return nonEmptyTrimmed(env.ProgramData ?? env.PROGRAMDATA);
}
