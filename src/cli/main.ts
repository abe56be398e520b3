import { resolveDeps } from "../deps.js";
import { ConfigError, describeError, LoginError, RequirementsError } from "../errors.js";
import { lazyRequire } from "../lazy-require.js";
import { helpText, type ParsedCommand, parseCommandLine } from "./args.js";
import { type CliDeps, CommandRefusedError, type Outcome } from "./context.js";
import { processIo } from "./io.js";
import { run as runLoginStatus } from "./login-status.js";

/** Set by the build from package.json. */
declare const CODEX_AUTH_VERSION: string | undefined;
/** Set by the build: the app server's own bundle, next to the CLI's (`./app-server.cjs`). */
declare const CODEX_AUTH_APP_SERVER_BUNDLE: string | undefined;

/** Exit codes: the only place they are decided. */
const EXIT = {
  ok: 0,
  failure: 1,
  /** clap's exit code for a bad command line, as Codex. */
  usage: 2,
  /** After Ctrl-C, as a shell reports a SIGINT death. */
  interrupted: 130,
} as const;

const OUTCOME_EXIT: Record<Outcome, number> = {
  ok: EXIT.ok,
  "not-logged-in": EXIT.failure,
  reported: EXIT.failure,
};

type CommandKind = Exclude<
  ParsedCommand["kind"],
  "help" | "version" | "usage-error" | "passthrough" | "app-server"
>;

/** Codex's prefix for a failure of each command (`Error checking login status: …`). */
const FAILURE_PREFIX: Record<CommandKind, string> = {
  "login-status": "Error checking login status",
  login: "Error logging in",
  logout: "Error logging out",
  status: "Error",
  token: "Error",
};

/**
 * The one table from a thrown error to what the user sees and the exit code.
 * Messages are Codex 0.169's where the command exists in Codex.
 */
function failure(
  parsed: ParsedCommand & { kind: CommandKind },
  err: unknown,
  deps: CliDeps,
): { message: string; exitCode: number } {
  const prefix =
    parsed.kind === "login" && parsed.withAccessToken
      ? "Error logging in with access token"
      : FAILURE_PREFIX[parsed.kind];
  if (err instanceof ConfigError || err instanceof RequirementsError) {
    return { message: `Error loading configuration: ${err.message}`, exitCode: EXIT.failure };
  }
  if (err instanceof CommandRefusedError) return { message: err.message, exitCode: EXIT.failure };
  if (err instanceof LoginError && err.code === "ERR_LOGIN_CANCELLED") {
    return {
      message: "Login cancelled. Your previous credentials (if any) were kept.",
      exitCode: deps.io.interrupt.aborted ? EXIT.interrupted : EXIT.failure,
    };
  }
  // CodexAuthError, ExpiredTokenError, and anything unexpected: Codex's prefix and the message.
  return { message: `${prefix}: ${describeError(err)}`, exitCode: EXIT.failure };
}

/** Loads and runs one command; `login status` is bundled in, the rest load on first use. */
async function runCommand(parsed: ParsedCommand & { kind: CommandKind }, deps: CliDeps): Promise<Outcome> {
  switch (parsed.kind) {
    case "login-status":
      return runLoginStatus(parsed, deps);
    case "logout":
      return (await import("./logout.js")).run(parsed, deps);
    case "login":
      return (await import("./login.js")).run(parsed, deps);
    case "status":
      return (await import("./status.js")).run(parsed, deps);
    case "token":
      return (await import("./token.js")).run(parsed, deps);
  }
}

/**
 * Runs `codex-auth` with the given arguments and returns the exit code.
 * Builds the dependencies once; nothing below it exits or decides an exit
 * code.
 *
 * @param given replaces the real terminal, environment, clock, fetch or browser opener (tests).
 */
export async function main(argv: readonly string[], given: Partial<CliDeps> = {}): Promise<number> {
  const base = resolveDeps(given);
  const io = given.io ?? processIo();
  // The opener (and node:child_process with it) loads only when a sign-in opens a browser.
  const openBrowser =
    given.openBrowser ??
    (async (url: string) => (await import("../login/open-browser.js")).systemBrowserOpener(base.env)(url));
  const deps: CliDeps = { ...base, io, openBrowser };
  const parsed = parseCommandLine(argv);
  switch (parsed.kind) {
    case "help":
      io.out(helpText(parsed.topic));
      return EXIT.ok;
    case "version":
      io.out(
        `codex-auth ${typeof CODEX_AUTH_VERSION === "string" ? CODEX_AUTH_VERSION : "(development build)"}`,
      );
      return EXIT.ok;
    case "usage-error":
      io.err(`error: ${parsed.message}\n\nFor more information, try '--help'.`);
      return EXIT.usage;
    case "app-server": {
      // A bundle of its own (dist/app-server.cjs), loaded only here; `require` rather than
      // `import()`, which would start the ESM loader (~50 ms).
      const appServer: typeof import("../app-server/cli.js") =
        typeof CODEX_AUTH_APP_SERVER_BUNDLE === "string"
          ? (lazyRequire(CODEX_AUTH_APP_SERVER_BUNDLE) as typeof import("../app-server/cli.js"))
          : await import("../app-server/cli.js");
      return appServer.runAppServerCli(parsed.overrides, {
        env: deps.env,
        fetch: deps.fetch,
        err: io.err,
        interrupt: io.interrupt,
      });
    }
    case "passthrough": {
      // Loaded only here: oidc-provider and its dependencies never slow other commands.
      const devIssuer: typeof import("../dev-issuer/index.js") = await import("../dev-issuer/index.js");
      return devIssuer.runDevIssuerCli(parsed.args, io);
    }
    default:
      try {
        return OUTCOME_EXIT[await runCommand(parsed, deps)];
      } catch (err) {
        const { message, exitCode } = failure(parsed, err, deps);
        io.err(message);
        return exitCode;
      }
  }
}
