#!/usr/bin/env node
// A minimal "editor backend" built on codex-auth: the part of an editor
// extension or desktop app that owns the user's Codex sign-in. It speaks
// JSON lines on stdout (one event per line) for its front end to render;
// codex-auth itself never prints.
//
//  1. signs the user in with a device code when CODEX_HOME has no login
//     (Ctrl-C cancels: the previous credentials, if any, stay as they were);
//  2. shows the account;
//  3. calls an API through the authenticated fetch (bearer and
//     chatgpt-account-id set, stale tokens refreshed, a 401 recovered);
//  4. reads the account's rate limits (`wham/usage`);
//  5. with EXAMPLE_FOLLOW=1, follows account changes other processes make
//     (codex login/logout, another tool's refresh) until stdin closes;
//  6. exits cleanly (the watch is closed).
//
// Run it against the development issuer:
//   npx codex-auth dev-issuer --auto-approve --port 4455
//   echo 'chatgpt_base_url = "http://127.0.0.1:4455/backend-api/"' > "$CODEX_HOME/config.toml"
//   CODEX_AUTH_ISSUER=http://127.0.0.1:4455 \
//   CODEX_REFRESH_TOKEN_URL_OVERRIDE=http://127.0.0.1:4455/oauth/token \
//   EXAMPLE_API_URL=http://127.0.0.1:4455/backend-api/dev/echo node examples/editor-backend.mjs
//
// Against OpenAI, leave CODEX_AUTH_ISSUER unset and point EXAMPLE_API_URL at
// an endpoint that takes ChatGPT tokens.

import {
  AuthManager,
  accountOf,
  CodexAuthError,
  createAuthenticatedFetch,
  findCodexHome,
  loadConfig,
  readRateLimits,
  startDeviceCodeSignIn,
} from "codex-auth";

/** One event for the front end. */
const emit = (event, fields = {}) => process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);

async function main(signal) {
  const config = await loadConfig({ codexHome: findCodexHome() }); // CODEX_HOME/config.toml, as Codex reads it
  const follow = process.env.EXAMPLE_FOLLOW === "1";
  // `watch` follows what other processes (Codex or ours) do to the stored login.
  const manager = await AuthManager.create({ codexHome: config.codexHome, config, watch: follow });
  try {
    await run(manager, follow, signal);
  } finally {
    await manager.close(); // stops the watch: nothing keeps the process alive
  }
}

async function run(manager, follow, signal) {
  let auth = manager.authCached();
  if (auth === undefined) {
    const signIn = await startDeviceCodeSignIn({
      manager,
      signal,
      onDeviceCode: ({ verificationUrl, userCode }) => emit("device-code", { verificationUrl, userCode }),
      onPolling: () => emit("polling"),
    });
    await signIn.done;
    auth = manager.authCached();
  }
  emit("signed-in", { account: accountOf(auth) });

  const apiUrl = process.env.EXAMPLE_API_URL;
  if (apiUrl) {
    const authFetch = createAuthenticatedFetch(manager);
    const response = await authFetch(apiUrl, {
      method: "POST",
      body: JSON.stringify({ hello: "world" }),
      signal,
    });
    emit("api", { status: response.status, body: await response.json().catch(() => null) });
  }

  if (auth.mode === "chatgpt" || auth.mode === "chatgptAuthTokens") {
    const usage = await readRateLimits(manager, { signal });
    emit("usage", {
      plan: usage.rateLimits.planType,
      primary: usage.rateLimits.primary,
      secondary: usage.rateLimits.secondary,
    });
  }

  if (follow) {
    // Signed in, out, switched or refreshed elsewhere: at most one event per change.
    manager.onChange((change) =>
      emit("account-changed", { kind: change.kind, account: change.account ?? null }),
    );
    emit("following");
    await new Promise((resolve) => {
      process.stdin.once("end", resolve).resume();
      signal.addEventListener("abort", resolve, { once: true });
    });
  }
}

const controller = new AbortController();
process.once("SIGINT", () => controller.abort());
try {
  await main(controller.signal);
  emit("done");
} catch (err) {
  if (err instanceof CodexAuthError && err.code === "ERR_LOGIN_CANCELLED") {
    emit("cancelled");
    process.exitCode = 130;
  } else {
    // Typed errors carry a stable code and a message without secrets.
    emit("error", { code: err?.code ?? "UNKNOWN", message: String(err?.message ?? err) });
    process.exitCode = 1;
  }
}
