/** Small HTTP helpers for the issuer's own (non-oidc-provider) endpoints. */
import { IncomingMessage, type ServerResponse } from "node:http";

/** A request body that is too large, or not the JSON / form the endpoint takes. */
export class BadRequestError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = "BadRequestError";
  }
}

const BODY_LIMIT = 64 * 1024;

/** Reads a request body to the end (at most 64 KiB). */
export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > BODY_LIMIT) throw new BadRequestError("request body too large", 413);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The media type of a request, lower case, without parameters. */
export function mediaType(req: IncomingMessage): string {
  return (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
}

/**
 * Parses a JSON object or form-encoded body into string parameters.
 * JSON values that are not strings are kept as their JSON text; an empty
 * body is no parameters.
 *
 * @throws {BadRequestError} for other media types or malformed JSON.
 */
export function parseParams(req: IncomingMessage, body: string): Record<string, string> {
  const type = mediaType(req);
  if (body.trim() === "") return {};
  if (type === "application/json") {
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      throw new BadRequestError("request body is not valid JSON");
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new BadRequestError("request body must be a JSON object");
    }
    const out: Record<string, string> = {};
    for (const [key, v] of Object.entries(value)) {
      if (v === null || v === undefined) continue;
      out[key] = typeof v === "string" ? v : JSON.stringify(v);
    }
    return out;
  }
  if (type === "application/x-www-form-urlencoded") {
    return Object.fromEntries(new URLSearchParams(body));
  }
  throw new BadRequestError(`unsupported content-type ${type || "(none)"}`, 415);
}

/** OpenAI's error body: `{"error":{"message","type","param","code"}}`. */
export function openAiError(code: string, message: string): { error: Record<string, unknown> } {
  return { error: { message, type: "invalid_request_error", param: null, code } };
}

/** Sends a JSON response. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
  });
  res.end(text);
}

/** Sends an HTML page. */
export function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    "content-type": "text/html; charset=utf-8",
    "content-length": Buffer.byteLength(html),
    "cache-control": "no-store",
  });
  res.end(html);
}

/**
 * A copy of `req` whose body is `params`, form-encoded, for handing a
 * translated request (OpenAI's JSON dialect) to oidc-provider.
 *
 * Why a copy: oidc-provider's token and revocation endpoints read the body
 * stream themselves and take only form bodies. Its one other way in, an
 * already-parsed `req.body`, still demands a form content-type and prints a
 * warning, so there is no hook that takes a translated body. Answers are
 * read and rewritten in a `provider.use` middleware instead (see server.ts).
 * The original body must already have been consumed.
 */
export function replayWithForm(req: IncomingMessage, params: Record<string, string>): IncomingMessage {
  const body = new URLSearchParams(params).toString();
  const copy = new IncomingMessage(req.socket);
  copy.method = req.method;
  copy.url = req.url;
  copy.httpVersion = req.httpVersion;
  copy.httpVersionMajor = req.httpVersionMajor;
  copy.httpVersionMinor = req.httpVersionMinor;
  const headers = { ...req.headers };
  delete headers["transfer-encoding"];
  headers["content-type"] = "application/x-www-form-urlencoded";
  headers["content-length"] = String(Buffer.byteLength(body));
  copy.headers = headers;
  // Without this, destroying the finished copy counts as an aborted request and closes the socket.
  copy.complete = true;
  // Everything is pushed up front; never pull from the (already drained) socket.
  copy._read = () => {};
  copy.push(body);
  copy.push(null);
  return copy;
}
