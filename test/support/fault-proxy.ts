/**
 * A fault-injecting reverse proxy in front of a real server (the dev
 * issuer): requests pass through unchanged, except that the next requests
 * to a path can be answered with a fault instead — a status (502, 503, 429
 * with Retry-After) or a dropped connection. Counts what it forwarded.
 */
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";

export type Fault = { status: number; retryAfter?: string } | "reset";

export interface FaultProxy {
  url: string;
  /** The next `faults.length` requests whose path starts with `path` get these faults, in order. */
  inject(path: string, ...faults: Fault[]): void;
  /** Faults still waiting to be served. */
  pending(): number;
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const queue: { path: string; fault: Fault }[] = [];
  const server = createServer((req, res) => {
    const i = queue.findIndex((q) => (req.url ?? "").startsWith(q.path));
    if (i >= 0) {
      const { fault } = queue.splice(i, 1)[0]!;
      req.resume();
      if (fault === "reset") {
        req.socket.destroy();
        return;
      }
      res
        .writeHead(fault.status, {
          "content-type": "text/plain",
          ...(fault.retryAfter ? { "retry-after": fault.retryAfter } : {}),
        })
        .end("injected fault");
      return;
    }
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    forward.on("error", () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    inject: (path, ...faults) => {
      for (const fault of faults) queue.push({ path, fault });
    },
    pending: () => queue.length,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
