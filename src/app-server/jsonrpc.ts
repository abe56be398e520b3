/**
 * JSON-RPC framing as Codex 0.169's app server does it: one JSON message per
 * line; a message is read as the first of request, notification, response,
 * error that fits (serde's untagged enum, so a request with an unusable `id`
 * is read as a notification and ignored); replies carry no `jsonrpc` field;
 * notifications carry `emittedAtMs`.
 */
import { type JsonNode, parseJson } from "./json.js";

/** A request id as it came in: a string, or an integer in the signed 64-bit range (kept exact). */
export type WireId =
  | { readonly kind: "string"; readonly value: string }
  | { readonly kind: "int"; readonly value: bigint };

/** One incoming line, classified. */
export type Incoming =
  | { kind: "request"; id: WireId; method: string; params: JsonNode | undefined }
  | { kind: "notification"; method: string; params: JsonNode | undefined }
  | { kind: "response"; id: WireId; result: JsonNode }
  | { kind: "error"; id: WireId; code: bigint; message: string }
  /** Valid JSON that is none of the above; `reason` is serde's words for the log. */
  | { kind: "invalid"; reason: string };

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

/** Thrown (and caught here) when a message does not fit one variant. */
class NoMatch extends Error {}

type Fields = Map<string, JsonNode>;

/** The object's entries for the given struct fields; a repeated known field does not fit (serde: `duplicate field`). */
function fields(node: JsonNode, known: readonly string[]): Fields {
  if (node.kind !== "object") throw new NoMatch();
  const out: Fields = new Map();
  for (const [key, value] of node.entries) {
    if (!known.includes(key)) continue;
    if (out.has(key)) throw new NoMatch();
    out.set(key, value);
  }
  return out;
}

function id(node: JsonNode | undefined): WireId {
  if (node?.kind === "string") return { kind: "string", value: node.value };
  if (node?.kind === "int" && node.value >= I64_MIN && node.value <= I64_MAX)
    return { kind: "int", value: node.value };
  throw new NoMatch();
}

function methodName(node: JsonNode | undefined): string {
  if (node?.kind !== "string") throw new NoMatch();
  return node.value;
}

/** `params: Option<Value>`: absent and `null` are both "no params". */
function params(node: JsonNode | undefined): JsonNode | undefined {
  return node === undefined || node.kind === "null" ? undefined : node;
}

/** `trace: Option<W3cTraceContext>`: null, or an object whose two fields are strings or null. */
function checkTrace(node: JsonNode | undefined): void {
  if (node === undefined || node.kind === "null") return;
  const f = fields(node, ["traceparent", "tracestate"]);
  for (const value of f.values()) if (value.kind !== "string" && value.kind !== "null") throw new NoMatch();
}

function attempt<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (err) {
    if (err instanceof NoMatch) return undefined;
    throw err;
  }
}

/** Classifies a parsed message (see the module comment for the rules). */
export function classify(node: JsonNode): Incoming {
  const request = attempt(() => {
    const f = fields(node, ["id", "method", "params", "trace"]);
    checkTrace(f.get("trace"));
    return {
      kind: "request",
      id: id(f.get("id")),
      method: methodName(f.get("method")),
      params: params(f.get("params")),
    } as const;
  });
  if (request) return request;
  const notification = attempt(() => {
    const f = fields(node, ["method", "params"]);
    return {
      kind: "notification",
      method: methodName(f.get("method")),
      params: params(f.get("params")),
    } as const;
  });
  if (notification) return notification;
  const response = attempt(() => {
    const f = fields(node, ["id", "result"]);
    const result = f.get("result");
    if (result === undefined) throw new NoMatch();
    return { kind: "response", id: id(f.get("id")), result } as const;
  });
  if (response) return response;
  const error = attempt(() => {
    const f = fields(node, ["error", "id"]);
    const e = fields(f.get("error") ?? { kind: "null" }, ["code", "message", "data"]);
    const code = e.get("code");
    const message = e.get("message");
    if (code?.kind !== "int" || code.value < I64_MIN || code.value > I64_MAX || message?.kind !== "string")
      throw new NoMatch();
    return { kind: "error", id: id(f.get("id")), code: code.value, message: message.value } as const;
  });
  if (error) return error;
  return { kind: "invalid", reason: "data did not match any variant of untagged enum JSONRPCMessage" };
}

/**
 * Parses and classifies one line.
 *
 * @throws {JsonSyntaxError} when the line is not JSON.
 */
export function readMessage(line: string): Incoming {
  return classify(parseJson(line));
}

/** The id as JSON text (integers written exactly). */
export function idJson(wire: WireId): string {
  return wire.kind === "int" ? wire.value.toString() : JSON.stringify(wire.value);
}

/** `{"id":…,"result":…}` */
export function responseLine(wire: WireId, result: unknown): string {
  return `{"id":${idJson(wire)},"result":${JSON.stringify(result)}}`;
}

/** `{"error":{"code":…,"message":…},"id":…}` (Codex's key order). */
export function errorLine(wire: WireId, code: number, message: string): string {
  return `{"error":${JSON.stringify({ code, message })},"id":${idJson(wire)}}`;
}

/** `{"method":…,"params":…,"emittedAtMs":…}` */
export function notificationLine(method: string, params: unknown, emittedAtMs: number): string {
  return `{"method":${JSON.stringify(method)},"params":${JSON.stringify(params)},"emittedAtMs":${emittedAtMs}}`;
}

/** A server → client request: `{"method":…,"id":…,"params":…}` (Codex's key order). */
export function requestLine(wire: WireId, method: string, params: unknown): string {
  return `{"method":${JSON.stringify(method)},"id":${idJson(wire)},"params":${JSON.stringify(params)}}`;
}

/** A key for maps of pending ids (a string id "1" and an integer id 1 are different). */
export function idKey(wire: WireId): string {
  return wire.kind === "int" ? `i${wire.value}` : `s${wire.value}`;
}
