/**
 * An HTTP server on 127.0.0.1 that answers from a script, for the failure
 * modes a real issuer does not produce on demand (500s, non-JSON bodies,
 * hangs). Records every request. Used only at the edge of the system.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
}

export type Reply =
  | { status: number; body?: unknown; raw?: string }
  | ((req: RecordedRequest, res: ServerResponse) => void | Promise<void>);

export interface ScriptedServer {
  url: string;
  requests: RecordedRequest[];
  /** Replies used in order; the last one repeats. */
  script(...replies: Reply[]): void;
  close(): Promise<void>;
}

export async function startScriptedServer(): Promise<ScriptedServer> {
  const requests: RecordedRequest[] = [];
  let replies: Reply[] = [{ status: 500, body: { error: "no script" } }];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const recorded: RecordedRequest = {
      method: req.method ?? "",
      path: req.url ?? "",
      headers: req.headers,
      body: Buffer.concat(chunks).toString("utf8"),
    };
    requests.push(recorded);
    const reply = replies.length > 1 ? replies.shift()! : replies[0]!;
    if (typeof reply === "function") {
      await reply(recorded, res);
      return;
    }
    res.statusCode = reply.status;
    if (reply.raw !== undefined) {
      res.end(reply.raw);
    } else {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(reply.body ?? {}));
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script: (...r) => {
      replies = r;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
