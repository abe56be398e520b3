/**
 * `codex-auth app-server`: the command's body, built as its own bundle and
 * loaded only by this command, so other commands never pay for it.
 */
import { helpText, parseCommandLine } from "../cli/args.js";
import { loadConfig } from "../config/config.js";
import type { Env } from "../config/env.js";
import { ConfigError, describeError, RequirementsError } from "../errors.js";
import { type ConfigWarning, configWarningFor } from "./startup.js";
import { serveAppServer } from "./stdio.js";

/** What the command gets from `main`. */
export interface AppServerCliDeps {
  env: Env;
  fetch?: typeof fetch;
  /** Writes one line to stderr. */
  err(text: string): void;
  /** Aborted on SIGINT or SIGTERM. */
  interrupt: AbortSignal;
}

/**
 * Runs the app server on stdin/stdout until stdin ends or a signal arrives;
 * returns the exit code (0 after a clean shutdown; 1 when the
 * administrator's requirements cannot be applied, with Codex's `Error: …`,
 * or when a configuration file cannot be read at all, with `Error loading
 * configuration: …`). An invalid config.toml does not stop it: as Codex
 * 0.169's, it runs on defaults and sends the client a `configWarning`.
 */
export async function runAppServerCli(overrides: readonly string[], deps: AppServerCliDeps): Promise<number> {
  let config: Awaited<ReturnType<typeof loadConfig>>;
  let configWarning: ConfigWarning | undefined;
  try {
    try {
      config = await loadConfig({ env: deps.env, overrides });
    } catch (err) {
      // Like Codex 0.169's app server: an invalid config.toml (or `-c`) is
      // reported to the client and the server runs on defaults; the
      // administrator's requirements still apply (loaded again below).
      if (!(err instanceof ConfigError)) throw err;
      configWarning = configWarningFor(err);
      deps.err(
        `${new Date().toISOString()} ERROR codex_auth::app_server: ${configWarning.summary} ${configWarning.details}`,
      );
      config = await loadConfig({ env: deps.env, defaultsOnly: true });
    }
  } catch (err) {
    if (err instanceof RequirementsError) {
      // Codex's app server refuses to start here too, but prints the bare error.
      deps.err(`Error: ${err.message}`);
      return 1;
    }
    if (err instanceof ConfigError) {
      deps.err(`Error loading configuration: ${err.message}`);
      return 1;
    }
    deps.err(`Error: ${describeError(err)}`);
    return 1;
  }
  await serveAppServer({
    config,
    env: deps.env,
    fetch: deps.fetch,
    signal: deps.interrupt,
    reloadConfig: () => loadConfig({ env: deps.env, overrides }),
    ...(configWarning ? { configWarning } : {}),
  });
  return 0;
}

/**
 * `codex-auth app-server ARGS` as a whole process (the bin script's fast
 * path: the rest of the CLI is never loaded). Parses the arguments as the
 * CLI does, serves, and exits with the code.
 */
export function runAppServerProcess(argv: readonly string[]): void {
  const parsed = parseCommandLine(["app-server", ...argv]);
  const err = (text: string) => process.stderr.write(`${text}\n`);
  const exit = (code: number) => process.stdout.write("", () => process.exit(code));
  if (parsed.kind === "help") {
    process.stdout.write(`${helpText(parsed.topic)}\n`, () => process.exit(0));
    return;
  }
  if (parsed.kind !== "app-server") {
    err(
      `error: ${parsed.kind === "usage-error" ? parsed.message : "unexpected arguments"}\n\nFor more information, try '--help'.`,
    );
    process.exit(2);
    return;
  }
  const interrupt = new AbortController();
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => interrupt.abort());
  void runAppServerCli(parsed.overrides, { env: process.env, err, interrupt: interrupt.signal }).then(
    exit,
    (e) => {
      err(`Error: ${describeError(e)}`);
      exit(1);
    },
  );
}
