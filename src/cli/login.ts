import { describeError } from "../errors.js";
import { loginWithApiKey } from "../manager/operations.js";
import { type CommandContext, loadCommandConfig } from "./context.js";

/** Parsed `codex-auth login` options. */
export interface LoginOptions {
  withApiKey: boolean;
  withAccessToken: boolean;
  /** A key given on the command line (refused: keys belong on stdin). */
  apiKeyArg: string | undefined;
  deviceAuth: boolean;
  issuer: string | undefined;
}

const PIPE_HINT = "printenv OPENAI_API_KEY | codex-auth login --with-api-key";

/** `codex-auth login`: API key from stdin, or a ChatGPT sign-in. */
export async function runLogin(options: LoginOptions, ctx: CommandContext): Promise<number> {
  const { io } = ctx;
  if (options.apiKeyArg !== undefined) {
    io.err(`The --api-key flag is no longer supported. Pipe the key instead, e.g. \`${PIPE_HINT}\`.`);
    return 1;
  }
  if (options.withApiKey && options.withAccessToken) {
    io.err("Choose one login credential source: --with-api-key or --with-access-token.");
    return 1;
  }
  if (options.withAccessToken) {
    io.err(
      "--with-access-token (agent identity) is not supported by codex-auth. Use `codex login --with-access-token`.",
    );
    return 1;
  }
  if (options.withApiKey) return loginApiKey(ctx);
  return (await import("./login-chatgpt.js")).runChatgptLogin(options, ctx);
}

async function loginApiKey(ctx: CommandContext): Promise<number> {
  const { io } = ctx;
  if (io.stdinIsTty) {
    io.err(`--with-api-key expects the API key on stdin. Try piping it, e.g. \`${PIPE_HINT}\`.`);
    return 1;
  }
  io.err("Reading API key from stdin...");
  const key = (await io.readStdin()).trim();
  if (!key) {
    io.err("No API key provided via stdin.");
    return 1;
  }
  const loaded = await loadCommandConfig(ctx);
  if (typeof loaded === "number") return loaded;
  const { config, storage } = loaded;
  if (config.forcedLoginMethod === "chatgpt") {
    io.err("API key login is disabled. Use ChatGPT login instead.");
    return 1;
  }
  try {
    await loginWithApiKey(config.codexHome, key, storage);
  } catch (err) {
    io.err(`Error logging in: ${describeError(err)}`);
    return 1;
  }
  io.err("API key saved. Authentication is checked when you send a request.");
  return 0;
}
