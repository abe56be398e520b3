/**
 * `codex-auth dev-issuer [--port N] [--users FILE] [--auto-approve]
 * [--access-ttl SECONDS] [--refresh-ttl SECONDS]`: runs the development
 * issuer in the foreground. The first stdout line is the base URL, then one
 * JSON object per handled request; human notes go to stderr.
 */
import { describeError } from "../errors.js";
import { type DevIssuerOptions, type RequestLogEntry, startDevIssuer } from "./server.js";
import { loadDevUsersFile } from "./users.js";

/** Where the command writes (structurally the CLI's `Io`). */
export interface DevIssuerIo {
  out(text: string): void;
  err(text: string): void;
}

/** Parsed `dev-issuer` arguments. */
export interface DevIssuerArgs {
  port: number;
  usersFile?: string;
  autoApprove: boolean;
  accessTtlSeconds?: number;
  refreshTtlSeconds?: number;
  help: boolean;
}

/** Usage text of `codex-auth dev-issuer`. */
export const DEV_ISSUER_USAGE = `Run a local development issuer (a stand-in for auth.openai.com)

Usage: codex-auth dev-issuer [OPTIONS]

Options:
      --port <N>               Port on 127.0.0.1 (default: 0, a free port)
      --users <FILE>           Users file (JSON); see dev-issuer.users.example.json
      --auto-approve           Sign the default user in and approve device codes without pages
      --access-ttl <SECONDS>   Access-token lifetime (default: 3600)
      --refresh-ttl <SECONDS>  Refresh-token lifetime (default: 2592000)
  -h, --help                   Print help

Prints the base URL on the first stdout line, then one JSON object per request:
{"method","path","grant_type"?,"status","outcome"}. Stops on Ctrl-C (SIGINT) or SIGTERM.`;

function wholeNumber(flag: string, raw: string | undefined, min: number, max: number): number {
  if (raw === undefined || !/^\d+$/.test(raw)) throw new Error(`${flag} expects a whole number`);
  const value = Number(raw);
  if (value < min || value > max) throw new Error(`${flag} must be between ${min} and ${max}`);
  return value;
}

/**
 * Parses the arguments after `dev-issuer`.
 *
 * @throws {Error} with a usage message for unknown or malformed arguments.
 */
export function parseDevIssuerArgs(argv: readonly string[]): DevIssuerArgs {
  const args: DevIssuerArgs = { port: 0, autoApprove: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const [flag, inline] =
      arg.startsWith("--") && eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case "--port":
        args.port = wholeNumber("--port", value(), 0, 65535);
        break;
      case "--users": {
        const file = value();
        if (!file) throw new Error("--users expects a file");
        args.usersFile = file;
        break;
      }
      case "--auto-approve":
        if (inline !== undefined) throw new Error("--auto-approve takes no value");
        args.autoApprove = true;
        break;
      case "--access-ttl":
        args.accessTtlSeconds = wholeNumber("--access-ttl", value(), 1, 10 * 365 * 86400);
        break;
      case "--refresh-ttl":
        args.refreshTtlSeconds = wholeNumber("--refresh-ttl", value(), 1, 10 * 365 * 86400);
        break;
      case "-h":
      case "--help":
        args.help = true;
        break;
      default:
        throw new Error(`unexpected argument '${arg}'`);
    }
  }
  return args;
}

/** The JSON line printed for one request (exactly the documented keys). */
export function formatLogLine(entry: RequestLogEntry): string {
  return JSON.stringify({
    method: entry.method,
    path: entry.path,
    ...(entry.grant_type !== undefined ? { grant_type: entry.grant_type } : {}),
    status: entry.status,
    outcome: entry.outcome,
  });
}

/**
 * Runs `codex-auth dev-issuer` until SIGINT/SIGTERM (or `stop` aborts) and
 * returns the exit code: 0 after a clean stop, 1 when it cannot start, 2 for
 * bad arguments.
 */
export async function runDevIssuerCli(
  argv: readonly string[],
  io: DevIssuerIo,
  stop?: AbortSignal,
): Promise<number> {
  let args: DevIssuerArgs;
  try {
    args = parseDevIssuerArgs(argv);
  } catch (err) {
    io.err(`error: ${describeError(err)}\n\nFor more information, try '--help'.`);
    return 2;
  }
  if (args.help) {
    io.out(DEV_ISSUER_USAGE);
    return 0;
  }
  const options: DevIssuerOptions = {
    port: args.port,
    autoApprove: args.autoApprove,
    onRequest: (entry) => io.out(formatLogLine(entry)),
    onError: (error) => io.err(`dev-issuer: internal error: ${describeError(error)}`),
  };
  if (args.accessTtlSeconds !== undefined) options.accessTtlSeconds = args.accessTtlSeconds;
  if (args.refreshTtlSeconds !== undefined) options.refreshTtlSeconds = args.refreshTtlSeconds;
  let issuer: Awaited<ReturnType<typeof startDevIssuer>>;
  try {
    if (args.usersFile !== undefined) options.users = await loadDevUsersFile(args.usersFile);
    issuer = await startDevIssuer(options);
  } catch (err) {
    io.err(`Error starting dev issuer: ${describeError(err)}`);
    return 1;
  }
  io.out(issuer.url);
  const who = issuer.users.map((u, i) => `${u.email}${i === 0 ? " (default)" : ""}`).join(", ");
  io.err(
    `dev issuer listening on ${issuer.url} (${args.autoApprove ? "auto-approve" : "interactive"}; users: ${who})\n` +
      `  codex login --device-auth --experimental_issuer ${issuer.url}\n` +
      `  codex-auth login --device-auth --issuer ${issuer.url}\n` +
      `  chatgpt_base_url = "${issuer.url}/backend-api/"   (config.toml), CODEX_AUTHAPI_BASE_URL=${issuer.url}/api/accounts\n` +
      "Press Ctrl-C to stop.",
  );
  await new Promise<void>((resolve) => {
    const done = () => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      stop?.removeEventListener("abort", done);
      resolve();
    };
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
    if (stop?.aborted) done();
    else stop?.addEventListener("abort", done, { once: true });
  });
  await issuer.close();
  return 0;
}
