/**
 * Throwaway PKI for the custom-CA tests, made with `openssl` at test time in
 * a temp dir: a root CA and a leaf for 127.0.0.1/localhost signed by it (a
 * self-signed leaf alone would be rejected by rustls as a CA used as an end
 * entity, so Codex could not be compared with it).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type IncomingMessage, request, type ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestPki {
  dir: string;
  /** The root CA, PEM, and its path. */
  caPem: string;
  caPath: string;
  /** A second, unrelated CA (for bundles holding several certificates). */
  otherCaPem: string;
  keyPem: string;
  certPem: string;
  cleanup(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "codex-auth-pki-"));
  const ca = (name: string) =>
    openssl(
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.pem`,
        "-days",
        "2",
        "-subj",
        `/CN=codex-auth test ${name}`,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
      ],
      dir,
    );
  ca("ca");
  ca("other-ca");
  openssl(
    [
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      "leaf.key",
      "-out",
      "leaf.csr",
      "-subj",
      "/CN=127.0.0.1",
    ],
    dir,
  );
  writeFileSync(
    join(dir, "leaf.ext"),
    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
  );
  openssl(
    [
      "x509",
      "-req",
      "-in",
      "leaf.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "leaf.pem",
      "-days",
      "2",
      "-extfile",
      "leaf.ext",
    ],
    dir,
  );
  const read = (f: string) => readFileSync(join(dir, f), "utf8");
  return {
    dir,
    caPem: read("ca.pem"),
    caPath: join(dir, "ca.pem"),
    otherCaPem: read("other-ca.pem"),
    keyPem: read("leaf.key"),
    certPem: read("leaf.pem"),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** An HTTPS server on 127.0.0.1 with the PKI's leaf certificate. */
export async function startHttpsServer(
  pki: TestPki,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; port: number; server: Server; close(): Promise<void> }> {
  const server = createServer({ key: pki.keyPem, cert: pki.certPem }, handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("https server did not bind");
  return {
    url: `https://127.0.0.1:${address.port}`,
    port: address.port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * An HTTPS front for an HTTP server (TLS terminated here, requests passed
 * on to `upstream`), recording each request's client port so a test can
 * tell which arrived through a proxy's tunnel.
 */
export async function startHttpsFront(pki: TestPki, upstream: string) {
  const clientPorts: number[] = [];
  const front = await startHttpsServer(pki, (req, res) => {
    clientPorts.push(req.socket.remotePort ?? 0);
    const target = new URL(req.url ?? "/", upstream);
    const out = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: target.pathname + target.search,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on("error", () => res.writeHead(502).end());
    req.pipe(out);
  });
  return { ...front, clientPorts };
}
