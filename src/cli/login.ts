import { readCodexApiKeyFromEnv } from "../config/env.js";
import { ensureSignInCanBeStored } from "../login/persist.js";
import { loginWithApiKey } from "../manager/operations.js";
import { type CliDeps, CommandRefusedError, loadCommandConfig, type Outcome } from "./context.js";

/** Parsed `codex-auth login` options. */
export interface LoginOptions {
  overrides: string[];
  withApiKey: boolean;
  withAccessToken: boolean;
  /** A key given on the command line (refused: keys belong on stdin). */
  apiKeyArg: string | undefined;
  deviceAuth: boolean;
  /** `--issuer`: both flows. */
  issuer: string | undefined;
  /** `--experimental_issuer`: device sign-in only (as Codex 0.169). */
  experimentalIssuer?: string | undefined;
  /** `--experimental_client-id`: device sign-in only (as Codex 0.169). */
  experimentalClientId?: string | undefined;
}

const PIPE_HINT = "printenv OPENAI_API_KEY | codex-auth login --with-api-key";
const ACCESS_TOKEN_PIPE_HINT = "printenv CODEX_ACCESS_TOKEN | codex-auth login --with-access-token";

/**
 * `codex-auth login`: API key from stdin, or a ChatGPT sign-in.
 *
 * @throws {CommandRefusedError} for refused flag combinations and input, in Codex's words.
 * @throws {CodexAuthError} when the sign-in fails (`Error logging in: …`, mapped in `main`).
 */
export async function run(options: LoginOptions, deps: CliDeps): Promise<Outcome> {
  if (options.apiKeyArg !== undefined) {
    throw new CommandRefusedError(
      `The --api-key flag is no longer supported. Pipe the key instead, e.g. \`${PIPE_HINT}\`.`,
    );
  }
  if (options.withApiKey && options.withAccessToken) {
    throw new CommandRefusedError(
      "Choose one login credential source: --with-api-key or --with-access-token.",
    );
  }
  if (options.withAccessToken) return loginAccessToken(options, deps);
  if (options.withApiKey) return loginApiKey(options, deps);
  return (await import("./login-chatgpt.js")).run(options, deps);
}

async function loginApiKey(options: LoginOptions, deps: CliDeps): Promise<Outcome> {
  const { io } = deps;
  if (io.stdinIsTty) {
    throw new CommandRefusedError(
      `--with-api-key expects the API key on stdin. Try piping it, e.g. \`${PIPE_HINT}\`.`,
    );
  }
  io.err("Reading API key from stdin...");
  const key = (await io.readStdin()).trim();
  if (!key) throw new CommandRefusedError("No API key provided via stdin.");
  const { config, storage } = await loadCommandConfig(options.overrides, deps);
  if (config.forcedLoginMethod === "chatgpt") {
    throw new CommandRefusedError("API key login is disabled. Use ChatGPT login instead.");
  }
  // Checked before anything is written, as every sign-in: a key that cannot be stored is refused whole.
  await ensureSignInCanBeStored(storage);
  await loginWithApiKey(config.codexHome, key, storage);
  io.err("API key saved. Authentication is checked when you send a request.");
  if (readCodexApiKeyFromEnv(deps.env) !== undefined) {
    io.err(
      "Warning: CODEX_API_KEY is set in the environment and takes precedence over the saved key (codex-auth token, codex exec). Unset it to use the key you just saved.",
    );
  }
  return "ok";
}

/**
 * `login --with-access-token`: a personal access token or an Agent Identity JWT from stdin, with
 * Codex 0.169's refusals and words (`Successfully logged in`).
 *
 * @throws {CommandRefusedError} for a TTY, empty input or `forced_login_method = "api"`, in Codex's words.
 * @throws {CodexAuthError} when the sign-in fails (`Error logging in with access token: …`, mapped in `main`).
 */
async function loginAccessToken(options: LoginOptions, deps: CliDeps): Promise<Outcome> {
  const { io } = deps;
  if (io.stdinIsTty) {
    throw new CommandRefusedError(
      `--with-access-token expects the access token on stdin. Try piping it, e.g. \`${ACCESS_TOKEN_PIPE_HINT}\`.`,
    );
  }
  io.err("Reading access token from stdin...");
  const token = (await io.readStdin()).trim();
  if (!token) throw new CommandRefusedError("No access token provided via stdin.");
  const { config, storage } = await loadCommandConfig(options.overrides, deps);
  if (config.forcedLoginMethod === "api") {
    throw new CommandRefusedError("Access token login is disabled. Use API key login instead.");
  }
  // Before the token is sent to OpenAI for checking: a result that cannot be stored stops here.
  await ensureSignInCanBeStored(storage);
  const { loginWithAccessToken } = await import("../manager/access-token.js");
  // Failures are printed by `main` as `Error logging in with access token: …`.
  await loginWithAccessToken(config.codexHome, token, storage, { config, env: deps.env, fetch: deps.fetch });
  io.err("Successfully logged in");
  return "ok";
}
