/**
 * The app server over a pair of streams (stdin/stdout by default): lines in,
 * lines out, and a clean end on EOF or a signal.
 */
import type { Readable, Writable } from "node:stream";
import type { AuthConfig } from "../config/config.js";
import { appServerLoginIssuer, type Env, issuerOverride } from "../config/env.js";
import { applyRequirements } from "../config/requirements.js";
import { describeError } from "../errors.js";
import { DEFAULT_ISSUER } from "../oauth/constants.js";
import type { HostRefresh } from "./external.js";
import { CHATGPT_AUTH_TOKENS_REFRESH_RESPONSE } from "./methods.js";
import type {
  AccountWatchPort,
  CredentialsPort,
  ModelProviderPort,
  RateLimitsPort,
  SignInPort,
  WorkspacePort,
} from "./ports.js";
import { AppServerConnection, type SessionInit } from "./server.js";
import type { CloudConfigState, ConfigWarning } from "./startup.js";

/** Longest line read (bytes); a longer one is dropped and logged, the connection goes on. */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

/** Options of {@link serveAppServer}. */
export interface ServeOptions {
  /** config.toml with `-c` overrides applied. */
  config: AuthConfig;
  env: Env;
  fetch?: typeof fetch;
  input?: Readable;
  output?: Writable;
  /** Diagnostics. Default: stderr. */
  log?: (message: string) => void;
  /** Stops the server as EOF does (the CLI passes SIGINT/SIGTERM). */
  signal?: AbortSignal;
  /** Replaces the default ports (tests, embedding). */
  ports?: (init: SessionInit) => Promise<{
    credentials: CredentialsPort;
    signIn: SignInPort;
    workspace: WorkspacePort;
    rateLimits: RateLimitsPort;
    watch?: AccountWatchPort;
    modelProvider?: ModelProviderPort;
  }>;
  /** Callback port of browser sign-ins (default 1455, as Codex; 0: any free port). */
  callbackPort?: number;
  /**
   * Re-reads the configuration as at start-up (the CLI: `loadConfig` with
   * the same `-c`), before each workspace routing lookup, as Codex 0.169
   * reloads its "workspace requirements". Default: not reloaded.
   */
  reloadConfig?: () => Promise<unknown>;
  /**
   * Sent to the client right after the `initialize` answer (the CLI: the
   * config.toml it replaced by defaults), as Codex 0.169 sends it.
   */
  configWarning?: ConfigWarning;
}

/**
 * The configured sign-in settings replaced by the defaults, keeping what the
 * administrator's requirements.toml imposes (it is applied to defaults too).
 */
function defaultsOf(config: AuthConfig): Partial<AuthConfig> {
  const { forcedLoginMethod, forcedChatgptWorkspaceIds, chatgptBaseUrl } = applyRequirements(
    {
      credentialsStore: config.credentialsStore,
      forcedLoginMethod: undefined,
      forcedChatgptWorkspaceIds: undefined,
      chatgptBaseUrl: undefined,
    },
    config.requirements,
  );
  return { forcedLoginMethod, forcedChatgptWorkspaceIds, chatgptBaseUrl };
}

/** The issuer the app server's sign-ins use: `CODEX_APP_SERVER_LOGIN_ISSUER`, `CODEX_AUTH_ISSUER`, else OpenAI's. */
export function appServerIssuer(env: Env): string {
  return appServerLoginIssuer(env) ?? issuerOverride(env) ?? DEFAULT_ISSUER;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Asks the client for new host-supplied tokens: the
 * `account/chatgptAuthTokens/refresh` request, its answer read as Codex
 * reads a `ChatgptAuthTokensRefreshResponse`.
 */
function hostRefresh(init: SessionInit): HostRefresh {
  return async (previousAccountId) => {
    const result = await init.requestClient("account/chatgptAuthTokens/refresh", {
      reason: "unauthorized",
      previousAccountId,
    });
    const read = CHATGPT_AUTH_TOKENS_REFRESH_RESPONSE.read(result);
    return {
      accessToken: read.accessToken,
      chatgptAccountId: read.chatgptAccountId,
      chatgptPlanType: read.chatgptPlanType ?? null,
    };
  };
}

/** Splits a byte stream into lines (`\n`, an optional `\r` kept for the parser to skip). */
async function* lines(input: Readable, log: (m: string) => void): AsyncGenerator<string> {
  let pending: Buffer[] = [];
  let size = 0;
  let dropping = false;
  const decode = (parts: Buffer[]): string | undefined => {
    try {
      return utf8.decode(parts.length === 1 ? parts[0] : Buffer.concat(parts));
    } catch {
      log("Failed to deserialize JSONRPCMessage: line is not valid UTF-8");
      return undefined;
    }
  };
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    let buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    for (;;) {
      const nl = buf.indexOf(10);
      if (nl < 0) break;
      const head = buf.subarray(0, nl);
      buf = buf.subarray(nl + 1);
      if (dropping) {
        dropping = false;
        pending = [];
        size = 0;
        continue;
      }
      pending.push(head);
      const text = decode(pending);
      pending = [];
      size = 0;
      if (text !== undefined) yield text;
    }
    if (buf.length === 0 || dropping) continue;
    size += buf.length;
    if (size > MAX_LINE_BYTES) {
      log(`Failed to deserialize JSONRPCMessage: line longer than ${MAX_LINE_BYTES} bytes dropped`);
      dropping = true;
      pending = [];
      size = 0;
      continue;
    }
    pending.push(Buffer.from(buf));
  }
  if (pending.length && !dropping) {
    const text = decode(pending);
    if (text !== undefined && text.trim() !== "") yield text;
  }
}

/**
 * Serves the app server until the input ends or `signal` aborts, then shuts
 * down: any pending sign-in is stopped (no callback server is left
 * listening) and every request in flight is answered before it resolves.
 *
 * @example
 * await serveAppServer({ config: await loadConfig(), env: process.env });
 */
export async function serveAppServer(o: ServeOptions): Promise<void> {
  const input = o.input ?? process.stdin;
  const output = o.output ?? process.stdout;
  const log =
    o.log ??
    ((message: string) =>
      process.stderr.write(`${new Date().toISOString()} ERROR codex_auth::app_server: ${message}\n`));
  const issuer = appServerIssuer(o.env);
  const cloud: CloudConfigState = { failure: undefined };
  /** Warnings the default ports add (a failed cloud configuration load). */
  let portWarning: ConfigWarning | undefined;
  const ports =
    o.ports ??
    (async (init: SessionInit) => {
      // Loaded after `initialize` is answered: the answer does not wait for the library.
      const { configModelProvider, createManagedCredentials, fileAccountWatcher, librarySignIn } =
        await import("./adapters.js");
      const { httpRateLimits, httpWorkspaceDirectory } = await import("./workspace.js");
      const { loadCloudConfig } = await import("./startup.js");
      const { bundleCaller } = await import("../backend/config-bundle.js");
      const credentials = await createManagedCredentials({
        codexHome: o.config.codexHome,
        credentialsStore: o.config.credentialsStore,
        secretAuthStorage: o.config.secretAuthStorage,
        env: o.env,
        fetch: o.fetch,
        originator: init.originator,
        ...(o.config.requirements?.enforceResidency
          ? { residency: o.config.requirements.enforceResidency }
          : {}),
        log,
        chatgptBaseUrl: o.config.chatgptBaseUrl,
        forcedLoginMethod: o.config.forcedLoginMethod,
      });
      // Codex 0.169 loads the workspace's cloud configuration before it serves
      // (business, education and enterprise workspaces only).
      portWarning = await loadCloudConfig(bundleCaller(await credentials.current()), cloud, {
        chatgptBaseUrl: o.config.chatgptBaseUrl,
        env: o.env,
        fetch: o.fetch,
        log,
      });
      return {
        credentials,
        signIn: librarySignIn({
          storage: credentials.storage,
          env: o.env,
          fetch: o.fetch,
          ...(o.callbackPort !== undefined ? { callbackPort: o.callbackPort } : {}),
        }),
        workspace: httpWorkspaceDirectory({
          chatgptBaseUrl: o.config.chatgptBaseUrl,
          env: o.env,
          fetch: o.fetch,
          ...(o.reloadConfig ? { reloadConfig: o.reloadConfig } : {}),
          cloud,
        }),
        rateLimits: httpRateLimits({
          chatgptBaseUrl: o.config.chatgptBaseUrl,
          env: o.env,
          fetch: o.fetch,
          cloud,
        }),
        watch: fileAccountWatcher(o.config.codexHome, log),
        modelProvider: configModelProvider(o.config.codexHome, undefined, log),
      };
    });
  const connection = new AppServerConnection({
    send: (line) => {
      if (!output.writableEnded && !output.destroyed) output.write(`${line}\n`);
    },
    log,
    codexHome: o.config.codexHome,
    env: o.env,
    openSession: async (init) => {
      const opened = await ports(init);
      for (const warning of [o.configWarning, portWarning])
        if (warning) init.notify("configWarning", warning);
      return new (await import("./account.js")).AccountSession({
        ...opened,
        external: new (await import("./external.js")).ExternalTokens(hostRefresh(init)),
        // On defaults after a failed cloud load, as Codex (requirements.toml still applies).
        config: cloud.failure ? { ...o.config, ...defaultsOf(o.config) } : o.config,
        issuer,
        originator: init.originator,
        experimentalApi: init.experimentalApi,
        notify: init.notify,
        log,
      });
    },
  });
  output.on?.("error", (err: Error) => log(`stdout: ${describeError(err)}`));

  const stopped = new Promise<void>((resolve) => {
    if (o.signal?.aborted) return resolve();
    o.signal?.addEventListener("abort", () => resolve(), { once: true });
  });
  const reading = (async () => {
    for await (const line of lines(input, log)) {
      if (line.trim() === "") continue;
      connection.receive(line);
    }
  })().catch((err) => log(`stdin: ${describeError(err)}`));
  await Promise.race([reading, stopped]);
  await connection.close();
  // Everything written reaches the client before the caller exits.
  await new Promise<void>((resolve) => {
    if (output.writableEnded || output.destroyed) return resolve();
    output.write("", () => resolve());
  });
}
