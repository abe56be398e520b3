/**
 * The one way codex-auth talks HTTP to the issuer and the backend: every
 * request (refresh, code exchange, API-key exchange, device code and polls,
 * revocation) goes through {@link httpRequest}, which
 * - sends the set of headers Codex 0.169 sends to each endpoint (see
 *   `test/oauth/headers.test.ts` for the table), with our own product in
 *   `user-agent`;
 * - honours the proxy variables (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`,
 *   `NO_PROXY`) and custom CA bundles (`CODEX_CA_CERTIFICATE`,
 *   `SSL_CERT_FILE`, plus `NODE_EXTRA_CA_CERTS`) as Codex does, through
 *   undici (loaded only when a request is made, so commands that make none
 *   start as fast as before);
 * - answers with the status and body for any HTTP status, and throws only
 *   when there is no HTTP answer.
 * Endpoint modules build bodies and read answers; {@link parseErrorBody} is
 * the one reader of OpenAI's error bodies.
 */
import { readFileSync } from "node:fs";
import type { Dispatcher } from "undici";
import {
  type Env,
  type NetworkConfig,
  networkConfig,
  proxyFor,
  type TrustedCertificates,
} from "../config/network.js";
import type { ResidencyRequirement } from "../config/requirements.js";
import { NetworkError } from "../errors.js";
import { lazyRequire } from "../lazy-require.js";

/**
 * What a request needs from outside; every field has a production default.
 * The lead's `Deps { fetch, env, … }` bag fits as it is.
 */
export interface HttpDeps {
  /**
   * Used as it is when given: no proxy or CA handling is added to a
   * caller's fetch (and fetch adds headers of its own, such as a
   * user-agent). Default: undici, with a dispatcher for the environment's
   * proxy and CA settings, sending exactly our headers.
   */
  fetch?: typeof fetch;
  /** Where proxy, CA and originator settings are read. Default: the process environment. */
  env?: Env;
  /** The `originator` a host asks for (`CODEX_INTERNAL_ORIGINATOR_OVERRIDE` still wins). Default `codex_cli_rs`. */
  originator?: string;
  /** Replaces the default `codex-auth/VERSION (OS; ARCH) node/VERSION`. */
  userAgent?: string;
  /**
   * The administrator's `enforce_residency` (requirements.toml): sent as
   * `x-openai-internal-codex-residency` with `originator` and `user-agent`
   * on identified requests, as Codex 0.169's app server sends it on
   * refresh and revocation. Default: not sent.
   */
  residency?: ResidencyRequirement;
}

/** A request body: JSON, or form fields in the order given. */
export type HttpBody =
  | { kind: "json"; value: unknown }
  | { kind: "form"; value: ReadonlyArray<readonly [string, string]> };

/** One request. */
export interface HttpRequest {
  url: string;
  /** Default `POST`. */
  method?: "GET" | "POST";
  body?: HttpBody;
  /** Time limit for the whole request, body included. */
  timeoutMs: number;
  /** Aborts the request (then {@link NetworkError} with reason `aborted`). */
  signal?: AbortSignal;
  /**
   * Send `originator` and `user-agent`. Codex 0.169 sends both on refresh
   * and revocation, and neither on code exchange or device auth.
   */
  identify?: boolean;
  /** More headers; they win over the defaults. */
  headers?: Readonly<Record<string, string>>;
}

/** An HTTP answer, whatever its status. */
export interface HttpResponse {
  status: number;
  ok: boolean;
  headers: Headers;
  /** The body as text (never logged: it can carry tokens). */
  text: string;
}

/**
 * Makes one request and reads the whole answer.
 *
 * @throws {NetworkError} no HTTP answer: `timeout` (the limit passed), `aborted` (`signal`), or `connect` (DNS, connection, TLS or proxy failure).
 * @throws {CaCertificateError} `CODEX_CA_CERTIFICATE` / `SSL_CERT_FILE` names a file that is missing or holds no usable certificate.
 * @example
 * const res = await httpRequest({ url, body: { kind: "json", value: { a: 1 } }, timeoutMs: 30_000 });
 * if (!res.ok) console.log(parseErrorBody(res.text).code);
 */
export async function httpRequest(req: HttpRequest, deps: HttpDeps = {}): Promise<HttpResponse> {
  const net = networkConfig(deps.env, deps.originator);
  // Codex's headers, in Codex's order; host, content-length (and connection) come from the HTTP layer.
  const headers: Record<string, string> = {};
  let body: string | undefined;
  if (req.body?.kind === "json") {
    headers["content-type"] = "application/json";
    body = JSON.stringify(req.body.value);
  } else if (req.body?.kind === "form") {
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(req.body.value as [string, string][]).toString();
  }
  if (req.identify) {
    headers.originator = net.originator;
    headers["user-agent"] = deps.userAgent ?? defaultUserAgent();
    if (deps.residency) headers["x-openai-internal-codex-residency"] = deps.residency;
  }
  headers.accept = "*/*";
  Object.assign(headers, req.headers);
  const message = { url: req.url, method: req.method ?? "POST", headers, body };

  if (!URL.canParse(req.url)) throw new NetworkError(req.url, "connect", `invalid URL: ${req.url}`);
  if (req.signal?.aborted) throw new NetworkError(req.url, "aborted", "request aborted");
  const send = deps.fetch ? viaFetch(deps.fetch) : await viaUndici(req.url, net);
  const timeout = AbortSignal.timeout(req.timeoutMs);
  const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
  try {
    return await send(message, signal);
  } catch (cause) {
    if (req.signal?.aborted) throw new NetworkError(req.url, "aborted", "request aborted", { cause });
    if (timeout.aborted) throw new NetworkError(req.url, "timeout", "request timed out", { cause });
    throw new NetworkError(req.url, "connect", connectFailure(cause), { cause });
  }
}

interface Message {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}
type Send = (message: Message, signal: AbortSignal) => Promise<HttpResponse>;

/**
 * A caller's fetch, used as it is (fetch itself adds a few headers, such as
 * its own user-agent where we send none).
 */
function viaFetch(doFetch: typeof fetch): Send {
  return async ({ url, method, headers, body }, signal) => {
    const response = await doFetch(url, { method, headers, body, signal });
    const text = await response.text();
    return { status: response.status, ok: response.ok, headers: response.headers, text };
  };
}

/** Why a fetch got no answer, from the innermost useful cause (`fetch failed` says nothing). */
function connectFailure(cause: unknown): string {
  let err = cause;
  for (let depth = 0; depth < 5; depth++) {
    if (err instanceof AggregateError && err.errors.length && !err.message) err = err.errors[0];
    else if (err instanceof Error && err.message === "fetch failed" && err.cause) err = err.cause;
    else break;
  }
  const message = err instanceof Error ? err.message : String(err);
  return message || "connection failed";
}

// ---------------------------------------------------------------- user agent

declare const CODEX_AUTH_VERSION: string | undefined;

let version: string | undefined;

/** Our version: defined by the build; read from package.json when running from source. */
function productVersion(): string {
  if (typeof CODEX_AUTH_VERSION === "string") return CODEX_AUTH_VERSION;
  if (version === undefined) {
    try {
      version = (
        JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
          version: string;
        }
      ).version;
    } catch {
      version = "0.0.0-dev";
    }
  }
  return version;
}

const ARCH_NAMES: Record<string, string> = { x64: "x86_64", arm64: "aarch64", ia32: "x86" };

/**
 * Our user agent, shaped like Codex's (`codex_cli_rs/0.169.0 (Debian 12.0.0;
 * x86_64) xterm`) with our product: `codex-auth/0.1.0 (linux; x86_64)
 * node/20.20.2`.
 */
export function defaultUserAgent(): string {
  const arch = ARCH_NAMES[process.arch] ?? process.arch;
  return `codex-auth/${productVersion()} (${process.platform}; ${arch}) node/${process.versions.node}`;
}

// ---------------------------------------------------------------- default transport (undici)

interface UndiciParts {
  Agent: typeof import("undici").Agent;
  ProxyAgent: typeof import("undici").ProxyAgent;
  request: (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;
}
let undici: UndiciParts | undefined;

/**
 * The parts of undici a request needs, loaded on the first request only
 * (`login status` never pays for them): the dispatchers and the request
 * API, ~25 ms, rather than the whole package with fetch, ~75 ms. The
 * package is pinned; should its layout change, the whole package is loaded
 * instead.
 */
function loadUndici(): UndiciParts {
  if (undici) return undici;
  try {
    const Dispatcher = lazyRequire(
      "undici/lib/dispatcher/dispatcher.js",
    ) as typeof import("undici").Dispatcher;
    const api = lazyRequire("undici/lib/api/index.js") as Record<string, unknown>;
    // What undici's own index does: dispatchers get request(), connect() (proxy tunnels), ….
    Object.assign(Dispatcher.prototype, api);
    undici = {
      Agent: lazyRequire("undici/lib/dispatcher/agent.js") as UndiciParts["Agent"],
      ProxyAgent: lazyRequire("undici/lib/dispatcher/proxy-agent.js") as UndiciParts["ProxyAgent"],
      request: Dispatcher.prototype.request as UndiciParts["request"],
    };
  } catch {
    const whole = lazyRequire("undici") as typeof import("undici");
    undici = {
      Agent: whole.Agent,
      ProxyAgent: whole.ProxyAgent,
      request: whole.Dispatcher.prototype.request as UndiciParts["request"],
    };
  }
  return undici;
}

/** One dispatcher per (proxy, trusted certificates), so connections are reused across requests. */
const dispatchers = new Map<string, Dispatcher>();

function dispatcherFor(
  u: UndiciParts,
  url: string,
  proxy: string | undefined,
  trust: TrustedCertificates | undefined,
): Dispatcher {
  // The custom TLS context only where TLS is spoken: an https:// target or an https:// proxy.
  const tlsSpoken = new URL(url).protocol === "https:" || proxy?.startsWith("https:") === true;
  const secureContext = tlsSpoken ? trust?.secureContext() : undefined;
  const key = `${proxy ?? "direct"}|${secureContext ? trust?.key : "default roots"}`;
  let dispatcher = dispatchers.get(key);
  if (dispatcher) return dispatcher;
  const tls = secureContext ? { secureContext } : undefined;
  if (!proxy) {
    dispatcher = new u.Agent(tls ? { connect: tls } : {});
  } else {
    const scheme = new URL(proxy).protocol;
    if (scheme === "socks4:" || scheme === "socks4a:") {
      throw new NetworkError(
        url,
        "connect",
        `the proxy's scheme ${scheme.slice(0, -1)} is not supported; use an http://, https:// or socks5:// proxy`,
      );
    }
    // Plain http:// targets go to the proxy in absolute form (no CONNECT), as Codex sends them.
    dispatcher = new u.ProxyAgent({
      uri: scheme === "socks5h:" ? proxy.replace(/^socks5h:/, "socks5:") : proxy,
      proxyTunnel: false,
      ...(tls ? { requestTls: tls, proxyTls: tls } : {}),
    });
  }
  dispatchers.set(key, dispatcher);
  return dispatcher;
}

/**
 * Our own transport: undici's dispatcher for the environment's proxy and CA
 * settings, with exactly the headers given (no fetch defaults).
 */
async function viaUndici(url: string, net: NetworkConfig): Promise<Send> {
  const trust = await net.trust();
  const u = loadUndici();
  const dispatcher = dispatcherFor(u, url, proxyFor(url, net.proxy), trust);
  return async (message, signal) => {
    const target = new URL(message.url);
    const answer = await u.request.call(dispatcher, {
      origin: target.origin,
      path: `${target.pathname}${target.search}`,
      method: message.method as Dispatcher.HttpMethod,
      headers: message.headers,
      body: message.body ?? null,
      signal,
    });
    const text = await answer.body.text();
    const headers = new Headers();
    for (const [name, value] of Object.entries(answer.headers)) {
      for (const v of Array.isArray(value) ? value : [value]) if (v !== undefined) headers.append(name, v);
    }
    const status = answer.statusCode;
    return { status, ok: status >= 200 && status < 300, headers, text };
  };
}

// ---------------------------------------------------------------- error bodies

/** What an OpenAI error body says, each field at most {@link ERROR_FIELD_MAX} characters. */
export interface ErrorBody {
  /** `error.code`, a string `error` (OAuth style), or a top-level `code`. */
  code?: string;
  /** `error.message`, `error_description`, or a top-level `message`. */
  message?: string;
}

/** Longest `code` or `message` {@link parseErrorBody} returns. */
export const ERROR_FIELD_MAX = 200;

function clean(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  // Control characters (terminal escapes among them) never reach a message.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point
  const text = value.replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ").trim();
  return text ? text.slice(0, ERROR_FIELD_MAX) : undefined;
}

/**
 * Reads an error body in any of the shapes OpenAI's endpoints use:
 * `{"error":{"code","message"}}`, `{"error":"x","error_description":"…"}`,
 * top-level `code`/`message`. Anything else (plain text, HTML, other JSON)
 * yields `{}`: an unrecognized body is never echoed, since it could hold
 * anything. Never throws.
 */
export function parseErrorBody(text: string): ErrorBody {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    return {};
  }
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) return {};
  const o = obj as Record<string, unknown>;
  const error =
    typeof o.error === "object" && o.error !== null && !Array.isArray(o.error)
      ? (o.error as Record<string, unknown>)
      : undefined;
  const code = clean(error?.code) ?? clean(o.error) ?? clean(o.code);
  const message = clean(error?.message) ?? clean(o.error_description) ?? clean(o.message);
  return { ...(code !== undefined ? { code } : {}), ...(message !== undefined ? { message } : {}) };
}

/**
 * A one-line account of an error body for a message: its message, else its
 * code, else `unrecognized error body` (or `empty`, e.g. `empty body`, when
 * there is none).
 */
export function describeErrorBody(text: string, empty = "empty body"): string {
  const { code, message } = parseErrorBody(text);
  return message ?? code ?? (text.trim() ? "unrecognized error body" : empty);
}
