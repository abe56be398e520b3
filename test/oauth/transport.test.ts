/**
 * httpRequest itself: an answer for any status, NetworkError (and only it)
 * when there is none, with the reason; a caller's fetch used as it is.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NetworkError } from "../../src/errors.js";
import { httpRequest } from "../../src/oauth/http.js";

let server: Server;
let base: string;
const seen: Array<{ method: string; url: string; headers: IncomingMessage["headers"]; body: string }> = [];
beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      if (req.url === "/hang") return; // never answers
      res.writeHead(req.url === "/teapot" ? 418 : 200, { "x-answer": "yes" }).end(`answer to ${req.url}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const env = {}; // no proxies, no custom CA: whatever the machine has set

async function networkError(p: Promise<unknown>): Promise<NetworkError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof NetworkError)) throw new Error(`expected a NetworkError, got ${String(err)}`);
  return err;
}

describe("answers", () => {
  it("any-status-is-an-answer: a 418 comes back with its status, headers and body", async () => {
    const res = await httpRequest({ url: `${base}/teapot`, timeoutMs: 5_000 }, { env });
    expect([res.status, res.ok, res.headers.get("x-answer"), res.text]).toEqual([
      418,
      false,
      "yes",
      "answer to /teapot",
    ]);
  });

  it("bodies-as-given: JSON and form bodies with their content types, form fields in order", async () => {
    seen.length = 0;
    await httpRequest(
      { url: `${base}/json`, body: { kind: "json", value: { b: 1, a: "x" } }, timeoutMs: 5_000 },
      { env },
    );
    await httpRequest(
      {
        url: `${base}/form`,
        body: {
          kind: "form",
          value: [
            ["z", "1 2"],
            ["a", "é&"],
          ],
        },
        timeoutMs: 5_000,
      },
      { env },
    );
    expect(seen.map((r) => [r.method, r.headers["content-type"], r.body])).toEqual([
      ["POST", "application/json", '{"b":1,"a":"x"}'],
      ["POST", "application/x-www-form-urlencoded", "z=1+2&a=%C3%A9%26"],
    ]);
  });
});

describe("no answer: NetworkError with the reason", () => {
  it("timeout: the whole request is bounded", async () => {
    const started = Date.now();
    const err = await networkError(httpRequest({ url: `${base}/hang`, timeoutMs: 200 }, { env }));
    expect([err.reason, err.message, err.url]).toEqual(["timeout", "request timed out", `${base}/hang`]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("aborted: by the caller's signal, before or during the request", async () => {
    const before = new AbortController();
    before.abort();
    expect(
      (
        await networkError(
          httpRequest({ url: `${base}/x`, timeoutMs: 5_000, signal: before.signal }, { env }),
        )
      ).reason,
    ).toBe("aborted");
    const during = new AbortController();
    const pending = httpRequest({ url: `${base}/hang`, timeoutMs: 5_000, signal: during.signal }, { env });
    setImmediate(() => during.abort());
    expect((await networkError(pending)).reason).toBe("aborted");
  });

  it("connect: refused, with the system's words", async () => {
    const err = await networkError(
      httpRequest({ url: "http://127.0.0.1:9/oauth/token", timeoutMs: 5_000 }, { env }),
    );
    expect(err.reason).toBe("connect");
    expect(err.message).toMatch(/ECONNREFUSED/);
  });

  it("connect: an unusable URL", async () => {
    const err = await networkError(httpRequest({ url: "not a url", timeoutMs: 5_000 }, { env }));
    expect([err.reason, err.message]).toEqual(["connect", "invalid URL: not a url"]);
  });

  it("a caller's fetch that throws is a connect failure too", async () => {
    const failing: typeof fetch = async () => {
      throw new TypeError("fetch failed", { cause: new Error("getaddrinfo ENOTFOUND auth.example") });
    };
    const err = await networkError(httpRequest({ url: `${base}/x`, timeoutMs: 5_000 }, { fetch: failing }));
    expect([err.reason, err.message]).toEqual(["connect", "getaddrinfo ENOTFOUND auth.example"]);
  });
});

describe("undici", () => {
  it("undici-loads-only-what-requests-need: the pinned package still has the modules loaded one by one", () => {
    const require = createRequire(import.meta.url);
    for (const part of [
      "undici/lib/dispatcher/dispatcher.js",
      "undici/lib/api/index.js",
      "undici/lib/dispatcher/agent.js",
      "undici/lib/dispatcher/proxy-agent.js",
    ])
      expect(() => require.resolve(part)).not.toThrow();
  });
});
