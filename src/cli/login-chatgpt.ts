import { issuerOverride } from "../config/env.js";
import { CodexAuthError, describeError } from "../errors.js";
import { startBrowserLogin } from "../login/browser.js";
import { runDeviceLogin } from "../login/device.js";
import { type BrowserOpener, systemBrowserOpener } from "../login/open-browser.js";
import { DEFAULT_ISSUER } from "../oauth/constants.js";
import type { CommandContext } from "./context.js";
import { loadCommandConfig } from "./context.js";
import { useColor } from "./io.js";
import type { LoginOptions } from "./login.js";

/** Exit code after Ctrl-C, as a shell reports a SIGINT death. */
const EXIT_INTERRUPTED = 130;

/** `codex-auth login` / `login --device-auth`: sign in with ChatGPT. */
export async function runChatgptLogin(
  options: LoginOptions,
  ctx: CommandContext,
  openBrowser: BrowserOpener = systemBrowserOpener(ctx.env),
): Promise<number> {
  const { io } = ctx;
  const loaded = await loadCommandConfig(ctx);
  if (typeof loaded === "number") return loaded;
  const { config, storage } = loaded;
  if (config.forcedLoginMethod === "api") {
    io.err("ChatGPT login is disabled. Use API key login instead.");
    return 1;
  }
  const issuer = options.issuer ?? issuerOverride(ctx.env) ?? DEFAULT_ISSUER;
  const common = {
    issuer,
    storage,
    ...(config.forcedChatgptWorkspaceIds ? { allowedWorkspaceIds: config.forcedChatgptWorkspaceIds } : {}),
    env: ctx.env,
    ...(ctx.fetch ? { fetch: ctx.fetch } : {}),
  };
  try {
    if (options.deviceAuth) await deviceLogin(ctx, common);
    else await browserLogin(ctx, common, openBrowser);
  } catch (err) {
    if (err instanceof CodexAuthError && err.code === "ERR_LOGIN_CANCELLED") {
      io.err("Login cancelled. Your previous credentials (if any) were kept.");
      return ctx.io.interrupt.aborted ? EXIT_INTERRUPTED : 1;
    }
    io.err(`Error logging in: ${describeError(err)}`);
    return 1;
  }
  io.err("Successfully logged in");
  return 0;
}

type Common = Parameters<typeof runDeviceLogin>[0];

async function deviceLogin(ctx: CommandContext, common: Omit<Common, "onCode">): Promise<void> {
  const { io } = ctx;
  const color = useColor(io.stdoutIsTty, ctx.env);
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

async function browserLogin(
  ctx: CommandContext,
  common: Omit<Common, "onCode">,
  openBrowser: BrowserOpener,
): Promise<void> {
  const { io } = ctx;
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
