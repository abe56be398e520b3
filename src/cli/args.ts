import { parseArgs } from "node:util";

/** A parsed command line. Pure: no I/O, testable without a terminal. */
export type ParsedCommand =
  | { kind: "help"; topic: string[] }
  | { kind: "version" }
  | { kind: "usage-error"; message: string }
  | {
      kind: "login";
      overrides: string[];
      withApiKey: boolean;
      withAccessToken: boolean;
      apiKeyArg: string | undefined;
      deviceAuth: boolean;
      /** `--issuer` (ours): both sign-in flows. */
      issuer: string | undefined;
      /** `--experimental_issuer` (Codex's): device sign-in only, as Codex 0.169 applies it. */
      experimentalIssuer: string | undefined;
      /** `--experimental_client-id` (Codex's): device sign-in only. */
      experimentalClientId: string | undefined;
    }
  | { kind: "login-status"; overrides: string[] }
  | { kind: "logout"; overrides: string[] }
  | { kind: "status"; overrides: string[]; json: boolean; workspace: boolean }
  | { kind: "token"; overrides: string[]; json: boolean }
  | { kind: "app-server"; overrides: string[] }
  | { kind: "passthrough"; command: "dev-issuer"; args: string[] };

const COMMON = {
  config: { type: "string", short: "c", multiple: true },
  help: { type: "boolean", short: "h" },
} as const;

/**
 * Splits Codex-style config overrides out of the arguments: like Codex,
 * `-c key=value` / `--config key=value` may stand before the command, between
 * `login` and `status`, or after them.
 */
export function extractOverrides(argv: readonly string[]): { overrides: string[]; rest: string[] } {
  const overrides: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if ((arg === "-c" || arg === "--config") && i + 1 < argv.length) overrides.push(argv[++i]!);
    else if (arg.startsWith("--config=")) overrides.push(arg.slice("--config=".length));
    else if (arg.startsWith("-c") && arg.length > 2 && !arg.startsWith("--")) overrides.push(arg.slice(2));
    else rest.push(arg);
  }
  return { overrides, rest };
}

/** Parses `codex-auth` arguments (without `node` and the script). */
export function parseCommandLine(argv: readonly string[]): ParsedCommand {
  const { overrides: globalOverrides, rest: args } =
    argv[0] === "dev-issuer" ? { overrides: [], rest: [...argv] } : extractOverrides(argv);
  const parsed = parseWithoutOverrides(args);
  if ("overrides" in parsed) parsed.overrides = [...globalOverrides, ...parsed.overrides];
  if (parsed.kind === "usage-error") parsed.message = withoutLongArguments(parsed.message, argv);
  return parsed;
}

/** Arguments longer than this are not echoed in usage errors. */
const ECHO_LIMIT = 12;

/**
 * A usage error's message with every long value cut to its first four
 * characters: a key passed on the command line by mistake (`login
 * --with-api-key sk-…`, `--api-key=sk-…`) is never printed back (Codex
 * echoes it whole). Option names (`--with-access-token`) stay as they are.
 */
function withoutLongArguments(message: string, argv: readonly string[]): string {
  let out = message;
  for (const arg of [...argv].sort((a, b) => b.length - a.length)) {
    const value = !arg.startsWith("-") || arg.includes("=");
    if (value && arg.length > ECHO_LIMIT) {
      out = out.replaceAll(arg, `${arg.slice(0, 4)}… (${arg.length} characters, not shown)`);
    }
  }
  return out;
}

function parseWithoutOverrides(argv: readonly string[]): ParsedCommand {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    return { kind: "help", topic: command === "help" ? rest : [] };
  }
  if (command === "--version" || command === "-V") return { kind: "version" };
  if (command === "dev-issuer") return { kind: "passthrough", command, args: rest };
  try {
    switch (command) {
      case "login": {
        if (rest[0] === "status") {
          const { values } = parseArgs({ args: rest.slice(1), options: COMMON, strict: true });
          if (values.help) return { kind: "help", topic: ["login", "status"] };
          return { kind: "login-status", overrides: values.config ?? [] };
        }
        if (rest[0] === "help") return { kind: "help", topic: ["login"] };
        const { values } = parseArgs({
          args: rest,
          options: {
            ...COMMON,
            "with-api-key": { type: "boolean" },
            "with-access-token": { type: "boolean" },
            "api-key": { type: "string" },
            "device-auth": { type: "boolean" },
            issuer: { type: "string" },
            experimental_issuer: { type: "string" },
            "experimental_client-id": { type: "string" },
          },
          strict: true,
        });
        if (values.help) return { kind: "help", topic: ["login"] };
        return {
          kind: "login",
          overrides: values.config ?? [],
          withApiKey: values["with-api-key"] ?? false,
          withAccessToken: values["with-access-token"] ?? false,
          apiKeyArg: values["api-key"],
          deviceAuth: values["device-auth"] ?? false,
          issuer: values.issuer,
          experimentalIssuer: values.experimental_issuer,
          experimentalClientId: values["experimental_client-id"],
        };
      }
      case "logout": {
        const { values } = parseArgs({ args: rest, options: COMMON, strict: true });
        if (values.help) return { kind: "help", topic: ["logout"] };
        return { kind: "logout", overrides: values.config ?? [] };
      }
      case "status": {
        const { values } = parseArgs({
          args: rest,
          options: { ...COMMON, json: { type: "boolean" }, workspace: { type: "boolean" } },
          strict: true,
        });
        if (values.help) return { kind: "help", topic: [command] };
        return {
          kind: command,
          overrides: values.config ?? [],
          json: values.json ?? false,
          workspace: values.workspace ?? false,
        };
      }
      case "token": {
        const { values } = parseArgs({
          args: rest,
          options: { ...COMMON, json: { type: "boolean" } },
          strict: true,
        });
        if (values.help) return { kind: "help", topic: [command] };
        return { kind: command, overrides: values.config ?? [], json: values.json ?? false };
      }
      case "app-server": {
        const { values } = parseArgs({
          args: rest,
          options: { ...COMMON, listen: { type: "string" }, stdio: { type: "boolean" } },
          strict: true,
        });
        if (values.help) return { kind: "help", topic: ["app-server"] };
        if (values.listen !== undefined && values.listen !== "stdio://") {
          return {
            kind: "usage-error",
            message: `unsupported --listen '${values.listen}' (only stdio:// is served)`,
          };
        }
        return { kind: "app-server", overrides: values.config ?? [] };
      }
      default:
        return { kind: "usage-error", message: `unrecognized subcommand '${command}'` };
    }
  } catch (err) {
    return { kind: "usage-error", message: (err as Error).message };
  }
}

const CONFIG_HELP = `  -c, --config <key=value>
          Override a value from $CODEX_HOME/config.toml (dotted path; the value is parsed as TOML,
          else used as a literal string), e.g. -c forced_login_method="api"
  -h, --help
          Print help`;

/** Help text for a command path. */
export function helpText(topic: readonly string[]): string {
  switch (topic.join(" ")) {
    case "login":
      return `Sign in: with ChatGPT (browser or device code) or an API key

Usage: codex-auth login [OPTIONS]
       codex-auth login status

Commands:
  status  Show login status

Options:
      --with-api-key
          Read the API key from stdin (e.g. \`printenv OPENAI_API_KEY | codex-auth login --with-api-key\`)
      --with-access-token
          Read an access token from stdin: a personal access token (at-…) or an Agent Identity JWT
          (e.g. \`printenv CODEX_ACCESS_TOKEN | codex-auth login --with-access-token\`)
      --device-auth
          Sign in with a device code (for machines without a browser)
      --issuer <URL>
          Sign in against another issuer, both flows (default https://auth.openai.com; env CODEX_AUTH_ISSUER).
          Codex's hidden --experimental_issuer and --experimental_client-id are accepted too and, as in
          Codex, apply to --device-auth only
${CONFIG_HELP}`;
    case "login status":
      return `Show login status

Usage: codex-auth login status [OPTIONS]

Options:
${CONFIG_HELP}`;
    case "logout":
      return `Remove stored authentication credentials

Usage: codex-auth logout [OPTIONS]

Options:
${CONFIG_HELP}`;
    case "status":
      return `Show the credentials in effect (email, plan, account, storage, last refresh; never a secret)

Usage: codex-auth status [--json] [--workspace] [OPTIONS]

Options:
      --json
          Print one JSON object on stdout, for scripts
      --workspace
          Also ask the ChatGPT backend (accounts/check at chatgpt_base_url) for the workspace's
          name and routing, as Codex's account/read reports them
${CONFIG_HELP}`;
    case "token":
      return `Print the credential to send: the API key, or a ChatGPT access token

Usage: codex-auth token [--json] [OPTIONS]

Options:
      --json
          Print {"mode","token","expiresAt"} as JSON
${CONFIG_HELP}`;
    case "app-server":
      return `Serve the account part of Codex's app-server protocol (JSON-RPC, one message per line on stdin/stdout)

Usage: codex-auth app-server [OPTIONS]

Methods: initialize, account/read, getAuthStatus, account/login/start, account/login/cancel,
account/logout; notifications account/updated and account/login/completed — as \`codex app-server\`.

Options:
      --listen <URL>
          Transport; only stdio:// (the default)
${CONFIG_HELP}`;
    default:
      return `codex-auth: sign in to OpenAI Codex and keep the credentials fresh (compatible with ~/.codex)

Usage: codex-auth <COMMAND> [OPTIONS]

Commands:
  login         Sign in (ChatGPT browser, --device-auth, --with-api-key or --with-access-token from stdin)
  login status  Show login status (as \`codex login status\`)
  logout        Remove stored credentials (revoking ChatGPT tokens)
  status        Show the credentials in effect; --json for scripts
  token         Print a usable API key or access token for scripts
  app-server    Serve Codex's app-server account methods (JSON-RPC over stdio)
  dev-issuer    Run a local OpenAI-compatible issuer for development and tests
  help          Print this message or the help of a command

Options:
  -h, --help     Print help
  -V, --version  Print version`;
  }
}
