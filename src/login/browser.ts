import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { connect } from "node:net";
import { type Deps, resolveDeps } from "../deps.js";
import { CodexAuthError, describeError, LoginError } from "../errors.js";
import { lazyRequire } from "../lazy-require.js";
import { buildAuthorizeUrl } from "../oauth/authorize.js";
import { constantTimeEqual, generatePkce, generateState, type Pkce } from "../oauth/pkce.js";
import { retryTransient } from "../oauth/retry.js";
import { exchangeCodeForTokens, obtainApiKey } from "../oauth/token-exchange.js";
import type { AuthRecord } from "../record/auth-record.js";
import type { AuthStorage } from "../storage/storage.js";
import { errorPage, successPage } from "./pages.js";
import {
  chatgptRecord,
  commitLogin,
  ensureSignInCanBeStored,
  ensureWorkspaceAllowed,
  exchangeRetry,
  keepOrRevoke,
} from "./persist.js";

/** Codex's callback port, and the fallback it uses when that one stays busy. */
export const DEFAULT_CALLBACK_PORT = 1455;
export const FALLBACK_CALLBACK_PORT = 1457;

/** Options for {@link startBrowserLogin}. */
/** Options for {@link startBrowserLogin}. `fetch`, `now`, `sleep`, `random`, `env`: see {@link Deps}. */
export interface BrowserLoginOptions extends Partial<Deps> {
  issuer: string;
  storage: AuthStorage;
  allowedWorkspaceIds?: readonly string[];
  /** Default 1455; 0 picks a free port (tests). */
  port?: number;
  /** Default 1457; used when `port` stays busy. */
  fallbackPort?: number;
  /** Bind attempts per port, 200 ms apart (default 10, as Codex). */
  bindAttempts?: number;
  /** The `originator` sent in the authorize URL (default `codex_cli_rs`; `CODEX_INTERNAL_ORIGINATOR_OVERRIDE` wins). */
  originator?: string;
  /** How long to keep serving after saving, waiting for the browser to load /success (default 3 s). */
  successGraceMs?: number;
  /** Called once a valid callback arrived and the code is being exchanged (for a "completing sign-in…" state). */
  onCompleting?: () => void;
  /**
   * Called each time the success page is served (the app server announces a
   * completed sign-in only once the browser got there, as Codex does).
   */
  onSuccessPage?: () => void;
}

/** A running browser sign-in. */
export interface BrowserLogin {
  /** The URL the user opens. */
  authUrl: string;
  /** The callback port actually bound. */
  port: number;
  redirectUri: string;
  /**
   * Feeds what the user pasted (headless paste-back): the final redirect
   * URL, its query string, or just the code. Resolves with a message when
   * the input is rejected but the login goes on (e.g. state mismatch);
   * undefined when it was accepted (then `done` settles).
   */
  submitPasted(input: string): Promise<string | undefined>;
  /** Ends the login: `done` rejects with `Login cancelled`, nothing is saved. */
  cancel(): void;
  /** Resolves with the saved record once credentials are stored; rejects with a {@link LoginError}. */
  done: Promise<AuthRecord>;
  /** Resolves when the callback server has closed. */
  closed: Promise<void>;
}

type Verdict =
  | { kind: "continue"; status: number; message: string }
  | { kind: "accepted" }
  | { kind: "failed"; error: SignInFailure };

/**
 * Where a browser sign-in stands. Only these transitions happen:
 *
 * ```
 * waiting ──code──▶ exchanging ──tokens──▶ committing ──lock held──▶ saving ──saved──▶ done
 *    │                  │                      │                       │
 *    └─ refused, failed or cancelled ─▶ failed ◀─────────────────────── save failed
 * ```
 *
 * A cancel wins until the new credentials are being written (`saving`:
 * storage's lock is held and the previous record read); from then on the
 * save decides the outcome.
 */
/**
 * How a sign-in ends when it does not save: a failed flow, a workspace the
 * config does not allow, or stored credentials that cannot be replaced.
 */
type SignInFailure = CodexAuthError;

type Phase = "waiting" | "exchanging" | "committing" | "saving" | "done" | "failed";

/** One sign-in attempt: its phase, its outcome (`done`) and its callback server's shutdown. */
class BrowserLoginAttempt {
  private phase: Phase = "waiting";
  private closeTimer: NodeJS.Timeout | undefined;
  private resolveDone!: (r: AuthRecord) => void;
  private rejectDone!: (e: SignInFailure) => void;
  readonly done = new Promise<AuthRecord>((resolve, reject) => {
    this.resolveDone = resolve;
    this.rejectDone = reject;
  });
  readonly closed: Promise<void>;

  constructor(
    private readonly o: BrowserLoginOptions,
    private readonly server: Server,
    readonly redirectUri: string,
    private readonly pkce: Pkce,
    private readonly state: string,
  ) {
    this.done.catch(() => {}); // observed by the caller; never an unhandled rejection
    this.closed = new Promise<void>((resolve) => server.once("close", () => resolve()));
  }

  /** Whether the outcome is decided (saved, failed or cancelled). */
  settled(): boolean {
    return this.phase === "done" || this.phase === "failed";
  }

  /**
   * The checks every callback goes through, whether it arrived over HTTP or was
   * pasted. Moves `waiting` on to `done` when the code is good; a `failed`
   * verdict is for the caller to answer, then {@link fail} with.
   */
  async handle(params: URLSearchParams, pastedBareCode: boolean): Promise<Verdict> {
    if (this.phase !== "waiting")
      return { kind: "continue", status: 400, message: "This sign-in was already completed or abandoned." };
    if (!pastedBareCode) {
      const got = params.get("state");
      if (!got || !constantTimeEqual(got, this.state))
        return { kind: "continue", status: 400, message: "State mismatch" };
    }
    const error = params.get("error");
    if (error) {
      const description = params.get("error_description") ?? "";
      const message =
        /missing_codex_entitlement/i.test(description) && error === "access_denied"
          ? "Codex is not enabled for your workspace. Contact your workspace administrator to request access to Codex."
          : `Sign-in failed: ${description || error}`;
      return {
        kind: "failed",
        error: new LoginError(error === "access_denied" ? "ERR_LOGIN_DENIED" : "ERR_LOGIN_FAILED", message),
      };
    }
    const code = params.get("code");
    if (!code) {
      return {
        kind: "failed",
        error: new LoginError(
          "ERR_LOGIN_FAILED",
          "Missing authorization code. Sign-in could not be completed.",
        ),
      };
    }
    this.phase = "exchanging"; // single use from here on: a replayed callback is refused
    const o = this.o;
    o.onCompleting?.();
    try {
      const deps = resolveDeps(o);
      const exchange = { issuer: o.issuer, flow: "browser" as const, env: deps.env, fetch: deps.fetch };
      const tokens = await retryTransient(
        () => exchangeCodeForTokens(code, this.redirectUri, this.pkce.verifier, exchange),
        exchangeRetry(deps),
      );
      // From here on the tokens are live: a refusal or a cancel revokes them.
      const record = await keepOrRevoke(chatgptRecord(tokens, o.issuer, undefined, deps), deps, async () => {
        ensureWorkspaceAllowed(tokens.id_token, o.allowedWorkspaceIds);
        const apiKey = await obtainApiKey(tokens.id_token, exchange);
        // Cancelled while the code was being exchanged: save nothing.
        if (this.settled()) throw new LoginError("ERR_LOGIN_CANCELLED", "Login cancelled");
        return chatgptRecord(tokens, o.issuer, apiKey, deps);
      });
      this.phase = "committing";
      await commitLogin(o.storage, record, {
        ...deps,
        // Cancelled while waiting for storage's lock: save nothing.
        beforeSave: () => {
          if (this.settled()) throw new LoginError("ERR_LOGIN_CANCELLED", "Login cancelled");
          this.phase = "saving";
        },
      });
      this.phase = "done";
      this.resolveDone(record);
      return { kind: "accepted" };
    } catch (err) {
      const error =
        err instanceof CodexAuthError
          ? err
          : new LoginError("ERR_LOGIN_FAILED", describeError(err), { cause: err });
      return { kind: "failed", error };
    }
  }

  /**
   * This attempt's own failure (a refused callback, a failed exchange or
   * save): `failed`, unless the outcome is already decided.
   */
  fail(error: SignInFailure): void {
    if (this.settled()) return;
    this.settle(error);
  }

  /** A cancel from outside (`/cancel`, Ctrl-C): wins unless the new credentials are being written. */
  cancel(error: LoginError): void {
    // Already decided (e.g. saved, and serving /success to the browser): just let go of the port now.
    if (this.settled()) {
      this.shutdown(0);
      return;
    }
    if (this.phase === "saving") return;
    this.settle(error);
  }

  /** Closes the callback server after `afterMs` (replacing an earlier schedule). */
  shutdown(afterMs = 0): void {
    clearTimeout(this.closeTimer);
    this.closeTimer = setTimeout(() => {
      this.server.close();
      this.server.closeAllConnections();
    }, afterMs);
    this.closeTimer.unref();
  }

  private settle(error: SignInFailure): void {
    this.phase = "failed";
    this.rejectDone(error);
    this.shutdown();
  }
}

const cancelled = () => new LoginError("ERR_LOGIN_CANCELLED", "Login cancelled");

/**
 * Starts a browser (authorization code + PKCE) sign-in: binds the loopback
 * callback server, and returns the authorize URL to open. Old credentials
 * stay in place until the new ones are saved.
 *
 * @throws {LoginError} `ERR_PORT_IN_USE` when neither port can be bound.
 * @throws {AuthFileMalformedError} (or another load error) when the stored credentials cannot be read: they are never replaced.
 * @throws {StorageIoError} (or {@link AuthFileReadOnlyError}) when the sign-in's result could not be
 *   stored (read-only CODEX_HOME, a lock file of another user): before the URL exists. A save that
 *   fails after the tokens were issued rejects `done` with `ERR_LOGIN_FAILED`, the new tokens revoked.
 */
export async function startBrowserLogin(o: BrowserLoginOptions): Promise<BrowserLogin> {
  await ensureSignInCanBeStored(o.storage);
  const { random } = resolveDeps(o);
  const pkce = generatePkce(random);
  const state = generateState(random);
  // node:http is loaded when a sign-in starts, not when the CLI or app server does.
  const server = (lazyRequire("node:http") as typeof import("node:http")).createServer();
  const port = await bindServer(
    server,
    o.port ?? DEFAULT_CALLBACK_PORT,
    o.fallbackPort ?? FALLBACK_CALLBACK_PORT,
    o.bindAttempts ?? 10,
  );
  const redirectUri = `http://127.0.0.1:${port}/auth/callback`;
  const authUrl = buildAuthorizeUrl({
    issuer: o.issuer,
    redirectUri,
    codeChallenge: pkce.challenge,
    state,
    ...(o.originator ? { originator: o.originator } : {}),
    ...(o.env ? { env: o.env } : {}),
    ...(o.allowedWorkspaceIds ? { allowedWorkspaceIds: o.allowedWorkspaceIds } : {}),
  });
  const attempt = new BrowserLoginAttempt(o, server, redirectUri, pkce, state);

  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      if (!isLoopbackHost(req.headers.host, port))
        return reply(res, 400, "Bad Request: unexpected Host header");
      let url: URL;
      try {
        url = new URL(req.url ?? "/", `http://127.0.0.1:${port}`);
      } catch {
        return reply(res, 400, "Bad Request");
      }
      switch (url.pathname) {
        case "/auth/callback": {
          const verdict = await attempt.handle(url.searchParams, false);
          if (verdict.kind === "continue") return reply(res, verdict.status, verdict.message);
          if (verdict.kind === "failed") {
            // The page is written before `done` rejects, so a caller that exits on it does not cut it off.
            replyHtml(res, 200, errorPage(verdict.error.message));
            return attempt.fail(verdict.error);
          }
          res.writeHead(302, { location: `http://127.0.0.1:${port}/success`, connection: "close" }).end();
          attempt.shutdown(o.successGraceMs ?? 3_000);
          return;
        }
        case "/success":
          replyHtml(res, 200, successPage());
          o.onSuccessPage?.();
          if (attempt.settled()) attempt.shutdown(0);
          return;
        case "/cancel":
          reply(res, 200, "Login cancelled");
          return attempt.cancel(cancelled());
        default:
          return reply(res, 404, "Not Found");
      }
    })();
  });

  return {
    authUrl,
    port,
    redirectUri,
    async submitPasted(input: string) {
      const parsed = parsePasted(input);
      if (!parsed)
        return "That does not look like the redirect URL or an authorization code. Paste the whole address the browser ended on.";
      const verdict = await attempt.handle(parsed.params, parsed.bareCode);
      if (verdict.kind === "continue") return verdict.message;
      if (verdict.kind === "failed") {
        attempt.fail(verdict.error);
        return verdict.error.message;
      }
      attempt.shutdown(0);
      return undefined;
    },
    cancel: () => attempt.cancel(cancelled()),
    done: attempt.done,
    closed: attempt.closed,
  };
}

/** Parses a pasted redirect URL, query string or bare code. */
export function parsePasted(input: string): { params: URLSearchParams; bareCode: boolean } | undefined {
  const text = input.trim();
  if (!text) return undefined;
  if (/^https?:\/\//i.test(text)) {
    try {
      return { params: new URL(text).searchParams, bareCode: false };
    } catch {
      return undefined;
    }
  }
  // A URL pasted without its scheme (`127.0.0.1:1455/auth/callback?code=…`), or a query string.
  const query = text.includes("?") ? text.slice(text.indexOf("?") + 1) : text;
  if (query.includes("=")) return { params: new URLSearchParams(query.split("#")[0]), bareCode: false };
  if (/^[A-Za-z0-9._~-]+$/.test(text)) return { params: new URLSearchParams({ code: text }), bareCode: true };
  return undefined;
}

function isLoopbackHost(host: string | undefined, port: number): boolean {
  return host === `127.0.0.1:${port}` || host === `localhost:${port}` || host === `[::1]:${port}`;
}

function reply(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", connection: "close" }).end(text);
}

function replyHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8", connection: "close" }).end(html);
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    // Both listeners go when either fires: a failed attempt must not leave a
    // "listening" callback behind (20 retries would pile up past
    // MaxListeners and print a warning to the user's terminal).
    const onError = (err: Error) => {
      server.off("listening", onListening);
      reject(err);
    };
    const onListening = () => {
      server.off("error", onError);
      resolve((server.address() as { port: number }).port);
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(port, "127.0.0.1");
  });
}

/** Asks a previous login server on `port` to stop (`GET /cancel`, as Codex does). Best effort, 2 s. */
function sendCancel(port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.setTimeout(2_000, () => socket.destroy());
    socket.once("connect", () =>
      socket.end(`GET /cancel HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`),
    );
    socket.on("data", () => {});
    socket.once("close", () => resolve());
    socket.once("error", () => resolve());
  });
}

async function bindServer(server: Server, port: number, fallback: number, attempts: number): Promise<number> {
  if (port === 0) return listen(server, 0);
  const ports =
    port === DEFAULT_CALLBACK_PORT || fallback !== FALLBACK_CALLBACK_PORT ? [port, fallback] : [port];
  for (const p of ports) {
    for (let attempt = 0; attempt < attempts; attempt++) {
      try {
        return await listen(server, p);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE") {
          throw new LoginError(
            "ERR_LOGIN_FAILED",
            `cannot start the local login server on 127.0.0.1:${p}: ${describeError(err)}`,
            { cause: err },
          );
        }
        if (attempt === 0 && p === port) await sendCancel(p);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
  const last = ports[ports.length - 1];
  throw new LoginError(
    "ERR_PORT_IN_USE",
    `Port 127.0.0.1:${last} is already in use. Another program holds ${ports.map((p) => `127.0.0.1:${p}`).join(" and ")}; stop it (or finish the other sign-in) and retry, or use \`codex-auth login --device-auth\`.`,
  );
}
