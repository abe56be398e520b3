/**
 * A small logging HTTP proxy on 127.0.0.1 for the transport tests:
 * - as a forward proxy it handles absolute-form requests (`POST http://host/path`)
 *   and `CONNECT host:port` tunnels, logging each;
 * - as a reverse proxy (an origin-form request, `POST /path`) it forwards to
 *   `upstream` and logs the request with its headers: a recording server in
 *   front of the dev issuer.
 * Bodies are never logged (they carry tokens).
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import { connect, type Socket } from "node:net";

export interface ProxyLogEntry {
  /** `forward` (absolute-form), `connect` (a tunnel) or `reverse` (origin-form). */
  kind: "forward" | "connect" | "reverse";
  method: string;
  /** `http://host:port/path` for forward/reverse, `host:port` for a tunnel. */
  target: string;
  headers: IncomingHttpHeaders;
}

export interface LoggingProxy {
  url: string;
  port: number;
  log: ProxyLogEntry[];
  /** Local ports of the proxy's upstream sockets for CONNECT tunnels: a request arriving from one came through the proxy. */
  tunnelPorts: Set<number>;
  /** Resolves with the log once it has at least `n` entries (rejects after `timeoutMs`). */
  waitFor(n: number, timeoutMs?: number): Promise<ProxyLogEntry[]>;
  close(): Promise<void>;
}

export async function startLoggingProxy(options: { upstream?: string } = {}): Promise<LoggingProxy> {
  const log: ProxyLogEntry[] = [];
  const tunnelPorts = new Set<number>();
  const waiters: Array<() => void> = [];
  const note = (entry: ProxyLogEntry) => {
    log.push(entry);
    for (const wake of waiters.splice(0)) wake();
  };
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const raw = req.url ?? "/";
    const absolute = /^https?:\/\//i.test(raw);
    if (!absolute && !options.upstream) {
      res.writeHead(400).end("not a proxy request");
      return;
    }
    const target = new URL(absolute ? raw : `${options.upstream}${raw}`);
    note({
      kind: absolute ? "forward" : "reverse",
      method: req.method ?? "",
      target: target.href,
      headers: req.headers,
    });
    const headers: Record<string, string | string[] | undefined> = { ...req.headers, host: target.host };
    delete headers["proxy-connection"];
    const out = httpRequest(
      {
        host: target.hostname,
        port: target.port || 80,
        method: req.method,
        path: target.pathname + target.search,
        headers,
      },
      (upstream) => {
        res.writeHead(upstream.statusCode ?? 502, upstream.headers);
        upstream.pipe(res);
      },
    );
    out.on("error", () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(out);
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  server.on("connect", (req, client: Socket, head: Buffer) => {
    const target = req.url ?? "";
    note({ kind: "connect", method: "CONNECT", target, headers: req.headers });
    const [host, port] = splitHostPort(target);
    const upstream = connect(port, host, () => {
      if (upstream.localPort) tunnelPorts.add(upstream.localPort);
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.once("close", () => sockets.delete(upstream));
    const end = () => {
      upstream.destroy();
      client.destroy();
    };
    upstream.on("error", () => {
      if (!client.destroyed) client.end("HTTP/1.1 502 Bad Gateway\r\n\r\n");
      end();
    });
    client.on("error", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("proxy did not bind");
  return {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    log,
    tunnelPorts,
    waitFor(n, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`proxy saw ${log.length} requests, expected ${n}`)),
          timeoutMs,
        );
        const check = () => {
          if (log.length >= n) {
            clearTimeout(timer);
            resolve(log);
          } else waiters.push(check);
        };
        check();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function splitHostPort(target: string): [string, number] {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(target);
  if (!m) return [target, 443];
  return [m[1]!, Number(m[2])];
}
