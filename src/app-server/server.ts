/**
 * One app-server connection: reads lines, answers requests as Codex 0.169's
 * app server does (`initialize` first, refusals with Codex's words, replies
 * without `jsonrpc`, notifications with `emittedAtMs`), and goes further
 * where Codex is fragile: a line that is not a message never stops it,
 * reads run concurrently and are answered by id as they finish while every
 * change of state takes effect in the order sent (see `ordering.ts`), and
 * {@link AppServerConnection.close} waits for what is in flight and stops
 * any pending sign-in.
 */
import type { Env } from "../config/env.js";
import { resolveOriginator } from "../config/network.js";
import { describeError, RpcRequestError } from "../errors.js";
import type { AccountSession, Notify, Reply } from "./account.js";
import { toJsonRpcError } from "./errors.js";
import { type JsonNode, JsonSyntaxError } from "./json.js";
import {
  errorLine,
  type Incoming,
  idKey,
  notificationLine,
  readMessage,
  requestLine,
  responseLine,
  type WireId,
} from "./jsonrpc.js";
import { type ParamsOf, readRequest } from "./methods.js";
import { accessOf, RequestOrder } from "./ordering.js";
import type { ClientInfo, InitializeResponse } from "./protocol.js";
import { appServerUserAgent, isHeaderValue } from "./user-agent.js";

/** What the account session is opened with, once `initialize` named the client. */
export interface SessionInit {
  clientInfo: ClientInfo;
  /** The `originator` for the client (its name, unless `CODEX_INTERNAL_ORIGINATOR_OVERRIDE` is set). */
  originator: string;
  experimentalApi: boolean;
  notify: Notify;
  /**
   * Sends a request to the client and resolves with its `result` (a JSON
   * node); rejects with {@link ClientRequestError} on an error answer, on
   * timeout, or when the connection closes.
   */
  requestClient(method: string, params: unknown): Promise<JsonNode>;
}

/** A server → client request that got no result. */
export class ClientRequestError extends Error {
  override readonly name = "ClientRequestError";
  constructor(
    message: string,
    /** The client's JSON-RPC error code, when it answered with an error. */
    readonly rpcCode?: bigint,
  ) {
    super(message);
  }
}

/** Options of an {@link AppServerConnection}. */
export interface AppServerOptions {
  /** Writes one message (a JSON text without newline) to the client. */
  send(line: string): void;
  /** Diagnostics for stderr. Never given a secret. */
  log(message: string): void;
  /** CODEX_HOME, reported by `initialize`. */
  codexHome: string;
  env: Env;
  /** Opens the account session for the client (after `initialize`). */
  openSession(init: SessionInit): Promise<AccountSession>;
  /** Clock for `emittedAtMs`. Default `Date.now`. */
  now?: () => number;
  /** How long a server → client request waits for its answer (default 5 minutes). */
  clientRequestTimeoutMs?: number;
}

/** `std::env::consts::FAMILY` / `OS` of the running platform, as Codex reports them. */
function platform(): Pick<InitializeResponse, "platformFamily" | "platformOs"> {
  switch (process.platform) {
    case "win32":
      return { platformFamily: "windows", platformOs: "windows" };
    case "darwin":
      return { platformFamily: "unix", platformOs: "macos" };
    default:
      return { platformFamily: "unix", platformOs: process.platform };
  }
}

/**
 * A JSON-RPC connection speaking the account part of Codex's app-server
 * protocol. Feed it lines with {@link receive}; it answers through `send`.
 *
 * @example
 * const conn = new AppServerConnection({ send: (l) => out.write(`${l}\n`), log, codexHome, env, openSession });
 * for await (const line of lines) conn.receive(line);
 * await conn.close();
 */
export class AppServerConnection {
  private initialized = false;
  private optOut: ReadonlySet<string> = new Set();
  private session: Promise<AccountSession> | undefined;
  private readonly inflight = new Set<Promise<void>>();
  private readonly order = new RequestOrder();
  private closing = false;
  private readonly now: () => number;
  /** Server → client requests waiting for their answer, by id. */
  private readonly outgoing = new Map<
    string,
    { resolve: (result: JsonNode) => void; reject: (err: ClientRequestError) => void }
  >();
  private nextOutgoingId = 0n;

  constructor(private readonly o: AppServerOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Handles one line from the client. Never throws. */
  receive(line: string): void {
    let message: Incoming;
    try {
      message = readMessage(line);
    } catch (err) {
      const why = err instanceof JsonSyntaxError ? err.message : describeError(err);
      this.o.log(`Failed to deserialize JSONRPCMessage: ${why}`);
      return;
    }
    switch (message.kind) {
      case "invalid":
        this.o.log(`Failed to deserialize JSONRPCMessage: ${message.reason}`);
        return;
      case "notification":
        // `initialized` is accepted and not required; other notifications are ignored, as in Codex.
        return;
      case "response":
      case "error": {
        // An answer to one of our requests; answers to nothing we asked are ignored, as in Codex.
        const waiting = this.outgoing.get(idKey(message.id));
        if (!waiting) return;
        this.outgoing.delete(idKey(message.id));
        if (message.kind === "response") waiting.resolve(message.result);
        else waiting.reject(new ClientRequestError(message.message, message.code));
        return;
      }
      case "request":
        this.request(message.id, message.method, message.params);
        return;
    }
  }

  private send(line: string): void {
    try {
      this.o.send(line);
    } catch (err) {
      this.o.log(`failed to write to the client: ${describeError(err)}`);
    }
  }

  private reply(id: WireId, result: unknown): void {
    this.send(responseLine(id, result));
  }

  private fail(id: WireId, err: unknown): void {
    const { code, message } = toJsonRpcError(err);
    if (code === -32603 && message === "internal error") this.o.log(`request failed: ${describeError(err)}`);
    this.send(errorLine(id, code, message));
  }

  private readonly requestClient = (method: string, params: unknown): Promise<JsonNode> => {
    if (this.closing) return Promise.reject(new ClientRequestError("the connection is closing"));
    const id: WireId = { kind: "int", value: this.nextOutgoingId++ };
    const key = idKey(id);
    return new Promise<JsonNode>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.outgoing.delete(key);
        reject(new ClientRequestError(`${method}: no answer from the client`));
      }, this.o.clientRequestTimeoutMs ?? 300_000);
      timer.unref();
      this.outgoing.set(key, {
        resolve: (result) => {
          clearTimeout(timer);
          resolve(result);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      this.send(requestLine(id, method, params));
    });
  };

  private readonly notify: Notify = (method: string, params: unknown) => {
    if (this.optOut.has(method)) return;
    this.send(notificationLine(method, params, this.now()));
  };

  private request(id: WireId, method: string, params: Parameters<typeof readRequest>[1]): void {
    let read: ReturnType<typeof readRequest>;
    try {
      read = readRequest(method, params);
    } catch (err) {
      this.fail(id, err);
      return;
    }
    if (read.served && read.method === "initialize") {
      this.initialize(id, read.params);
      return;
    }
    if (!this.initialized) {
      this.fail(id, new RpcRequestError("ERR_RPC_NOT_INITIALIZED", "Not initialized"));
      return;
    }
    if (!read.served) {
      this.fail(
        id,
        new RpcRequestError(
          "ERR_RPC_METHOD_NOT_FOUND",
          `Method not found: ${read.method} (codex-auth app-server serves the account methods only)`,
        ),
      );
      return;
    }
    const run = async (): Promise<Reply<unknown>> => {
      const session = await this.session!;
      switch (read.method) {
        case "account/read":
          return session.read(read.params);
        case "getAuthStatus":
          return session.authStatus(read.params);
        case "account/login/start":
          return session.loginStart(read.params);
        case "account/login/cancel":
          return session.loginCancel(read.params);
        case "account/logout":
          return session.logout();
        case "account/rateLimits/read":
          return session.rateLimits(read.params);
      }
    };
    // The answer and the notifications that follow it are sent before the request counts as finished.
    const task = this.order.run(accessOf(read), async () => {
      let reply: Reply<unknown>;
      try {
        reply = await run();
      } catch (err) {
        this.fail(id, err);
        return;
      }
      this.reply(id, reply.result);
      try {
        await reply.after?.();
      } catch (err) {
        this.o.log(`after ${method}: ${describeError(err)}`);
      }
    });
    this.inflight.add(task);
    void task.finally(() => this.inflight.delete(task));
  }

  private initialize(id: WireId, params: ParamsOf<"initialize">): void {
    if (this.initialized) {
      this.fail(id, new RpcRequestError("ERR_RPC_ALREADY_INITIALIZED", "Already initialized"));
      return;
    }
    if (!isHeaderValue(params.clientInfo.name)) {
      this.fail(
        id,
        new RpcRequestError(
          "ERR_RPC_INVALID_REQUEST",
          `Invalid clientInfo.name: '${params.clientInfo.name}'. Must be a valid HTTP header value.`,
        ),
      );
      return;
    }
    this.initialized = true;
    const clientInfo: ClientInfo = {
      name: params.clientInfo.name,
      title: params.clientInfo.title ?? null,
      version: params.clientInfo.version,
    };
    const capabilities = params.capabilities;
    this.optOut = new Set(capabilities?.optOutNotificationMethods ?? []);
    // The client's name is the originator even when empty (CODEX_INTERNAL_ORIGINATOR_OVERRIDE still wins).
    const override = resolveOriginator(this.o.env);
    const originator = override !== resolveOriginator({}) ? override : clientInfo.name;
    const result: InitializeResponse = {
      userAgent: appServerUserAgent(clientInfo, originator, this.o.env),
      codexHome: this.o.codexHome,
      ...platform(),
    };
    this.reply(id, result);
    const session = this.o.openSession({
      clientInfo,
      originator,
      experimentalApi: capabilities?.experimentalApi ?? false,
      notify: this.notify,
      requestClient: this.requestClient,
    });
    this.session = session;
    session.then(
      (s) => {
        if (!this.closing) s.start();
      },
      (err) => this.o.log(`cannot open the account session: ${describeError(err)}`),
    );
  }

  /**
   * Ends the connection: stops any pending sign-in (its callback server
   * closes) and waits until every request in flight has been answered, so
   * a refresh in progress is saved before the process exits.
   */
  async close(): Promise<void> {
    this.closing = true;
    for (const [key, waiting] of this.outgoing) {
      this.outgoing.delete(key);
      waiting.reject(new ClientRequestError("the connection closed before the client answered"));
    }
    const session = await this.session?.catch(() => undefined);
    await session?.close();
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }
}
