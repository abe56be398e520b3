import { helpText, parseCommandLine } from "./args.js";
import type { CommandContext } from "./context.js";
import { type Io, processIo } from "./io.js";
import { runLoginStatus } from "./login-status.js";

/** Set by the build from package.json. */
declare const CODEX_AUTH_VERSION: string | undefined;

/**
 * Runs `codex-auth` with the given arguments and returns the exit code. The
 * only place that maps outcomes to exit codes; nothing below it exits.
 */
export async function main(
  argv: readonly string[],
  io: Io = processIo(),
  env = process.env,
): Promise<number> {
  const parsed = parseCommandLine(argv);
  const ctx = (overrides: string[]): CommandContext => ({ io, env, overrides });
  switch (parsed.kind) {
    case "help":
      io.out(helpText(parsed.topic));
      return 0;
    case "version":
      io.out(
        `codex-auth ${typeof CODEX_AUTH_VERSION === "string" ? CODEX_AUTH_VERSION : "(development build)"}`,
      );
      return 0;
    case "usage-error":
      io.err(`error: ${parsed.message}\n\nFor more information, try '--help'.`);
      return 2;
    case "login-status":
      return runLoginStatus(ctx(parsed.overrides));
    case "logout":
      return (await import("./logout.js")).runLogout(ctx(parsed.overrides));
    case "login":
      return (await import("./login.js")).runLogin(parsed, ctx(parsed.overrides));
    case "status":
      return (await import("./status.js")).runStatus(parsed, ctx(parsed.overrides));
    case "token":
      return (await import("./token.js")).runToken(parsed, ctx(parsed.overrides));
    case "passthrough": {
      // Loaded only here: oidc-provider and its dependencies never slow other commands.
      const devIssuer: typeof import("../dev-issuer/index.js") = await import("../dev-issuer/index.js");
      return devIssuer.runDevIssuerCli(parsed.args, io);
    }
  }
}
