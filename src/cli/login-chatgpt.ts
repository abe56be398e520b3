import { type Env, issuerOverride } from "../config/env.js";
import { startBrowserLogin } from "../login/browser.js";
import { runDeviceLogin } from "../login/device.js";
import { DEFAULT_ISSUER } from "../oauth/constants.js";
import { type CliDeps, CommandRefusedError, loadCommandConfig, type Outcome } from "./context.js";
import { useColor } from "./io.js";
import type { LoginOptions } from "./login.js";

/**
 * `codex-auth login` / `login --device-auth`: sign in with ChatGPT.
 *
 * @throws {CommandRefusedError} when config forbids ChatGPT login.
 * @throws {LoginError} and other {@link CodexAuthError}s when the sign-in fails (mapped in `main`;
 *   `ERR_LOGIN_CANCELLED` after Ctrl-C exits 130).
 */
export async function run(options: LoginOptions, deps: CliDeps): Promise<Outcome> {
  const { config, storage } = await loadCommandConfig(options.overrides, deps);
  if (config.forcedLoginMethod === "api") {
    throw new CommandRefusedError("ChatGPT login is disabled. Use API key login instead.");
  }
  const { issuer, clientId } = signInTarget(options, deps.env);
  const common = {
    issuer,
    ...(clientId ? { clientId } : {}),
    storage,
    ...(config.forcedChatgptWorkspaceIds ? { allowedWorkspaceIds: config.forcedChatgptWorkspaceIds } : {}),
    env: deps.env,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  };
  if (options.deviceAuth) await deviceLogin(deps, common);
  else await browserLogin(deps, common);
  deps.io.err("Successfully logged in");
  return "ok";
}

/**
 * The issuer and client id a sign-in uses. Codex 0.169 applies
 * `--experimental_issuer` and `--experimental_client-id` to the device flow
 * only (the browser flow keeps its defaults); our `--issuer` and
 * `CODEX_AUTH_ISSUER` apply to both. The client id otherwise comes from
 * `CODEX_APP_SERVER_LOGIN_CLIENT_ID` (read where each request is built).
 */
export function signInTarget(
  options: Pick<LoginOptions, "deviceAuth" | "issuer" | "experimentalIssuer" | "experimentalClientId">,
  env: Env,
): { issuer: string; clientId: string | undefined } {
  const experimentalIssuer = options.deviceAuth ? options.experimentalIssuer : undefined;
  return {
    issuer: experimentalIssuer ?? options.issuer ?? issuerOverride(env) ?? DEFAULT_ISSUER,
    clientId: options.deviceAuth ? options.experimentalClientId : undefined,
  };
}

type Common = Parameters<typeof runDeviceLogin>[0];

async function deviceLogin(deps: CliDeps, common: Omit<Common, "onCode">): Promise<void> {
  const { io } = deps;
  const color = useColor(io.stdoutIsTty, deps.env);
  const gray = (s: string) => (color ? `\x1b[90m${s}\x1b[0m` : s);
  const blue = (s: string) => (color ? `\x1b[94m${s}\x1b[0m` : s);
  // A spinner on a terminal only: piped output stays plain for scripts and logs.
  const frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
  let frame = 0;
  let spinner: NodeJS.Timeout | undefined;
  const spin = () =>
    io.errRaw(`\r${frames[frame++ % frames.length]} Waiting for approval in the browser (Ctrl-C to cancel)`);
  try {
    await runDeviceLogin({
      ...common,
      signal: io.interrupt,
      onCode: (code) => {
        io.out(
          [
            "",
            "Sign in to Codex with ChatGPT (codex-auth)",
            "",
            "Follow these steps to sign in with ChatGPT using device code authorization:",
            "",
            "1. Open this link in your browser and sign in to your account",
            `   ${blue(code.verificationUrl)}`,
            "",
            `2. Enter this one-time code ${gray("(expires in 15 minutes)")}`,
            `   ${blue(code.userCode)}`,
            "",
            gray(
              "Continue only if you started this login yourself. If a website or another person gave you this code, cancel.",
            ),
            "",
          ].join("\n"),
        );
      },
      onPoll: () => {
        if (!io.stderrIsTty || spinner) return;
        spin();
        spinner = setInterval(spin, 100);
        spinner.unref();
      },
    });
  } finally {
    if (spinner) {
      clearInterval(spinner);
      io.errRaw("\r\x1b[2K");
    }
  }
}

async function browserLogin(deps: CliDeps, common: Omit<Common, "onCode">): Promise<void> {
  const { io, openBrowser } = deps;
  const login = await startBrowserLogin(common);
  const onInterrupt = () => login.cancel();
  io.interrupt.addEventListener("abort", onInterrupt, { once: true });
  await openBrowser(login.authUrl).catch(() => false);
  io.err(
    [
      `Starting local login server on http://localhost:${login.port}.`,
      "If your browser did not open, navigate to this URL to authenticate:",
      "",
      login.authUrl,
      "",
      "On a remote or headless machine? Use `codex-auth login --device-auth` instead, or finish signing in on",
      `any machine and paste the address the browser ends on (http://127.0.0.1:${login.port}/auth/callback?…) here.`,
    ].join("\n"),
  );
  // Paste-back: whatever arrives on stdin goes through the same checks as the HTTP callback.
  void (async () => {
    try {
      for await (const line of io.stdinLines()) {
        if (!line.trim()) continue;
        const rejected = await login.submitPasted(line);
        if (rejected === undefined) return;
        io.err(`Not accepted: ${rejected}`);
      }
    } catch {
      // stdin closed or unreadable: the HTTP callback still works
    }
  })();
  try {
    await login.done;
  } finally {
    io.interrupt.removeEventListener("abort", onInterrupt);
  }
  await login.closed;
}
