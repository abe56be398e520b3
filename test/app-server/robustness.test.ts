/**
 * `codex-auth app-server` where it goes beyond Codex 0.169: lines that are
 * not messages never stop it, requests are answered by id as they finish (a
 * slow refresh holds up nothing else), and the end of stdin or SIGTERM
 * shuts it down without losing a refresh in flight or leaving a callback
 * server listening.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createConnection } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import { Browser } from "../dev-issuer/helpers.js";
import { holdCallbackPorts } from "../support/browser.js";
import { makeCodexHome, removeCodexHome } from "../support/env.js";
import { serverEnv } from "./support/differential.js";
import { type Message, RpcProcess } from "./support/rpc-process.js";
import { seedChatgpt } from "./support/seed.js";

let issuer: DevIssuer;
let home: string;
let proc: RpcProcess | undefined;

beforeAll(async () => {
  issuer = await startDevIssuer({ autoApprove: true });
});
afterAll(async () => {
  await issuer?.close();
});
afterEach(async () => {
  if (proc && proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill("SIGKILL");
  proc = undefined;
  if (home) removeCodexHome(home);
});

/**
 * A token endpoint that holds each refresh until the test opens the gate,
 * then forwards it to the dev issuer.
 */
class GatedTokenEndpoint {
  server: Server;
  url = "";
  /** Resolves when a refresh request has arrived. */
  arrived: Promise<void>;
  private open!: () => void;
  private readonly gate = new Promise<void>((resolve) => {
    this.open = resolve;
  });

  constructor(target: string) {
    let onArrive!: () => void;
    this.arrived = new Promise((resolve) => {
      onArrive = resolve;
    });
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", async () => {
        onArrive();
        await this.gate;
        const answer = await fetch(`${target}/oauth/token`, {
          method: "POST",
          headers: { "content-type": req.headers["content-type"] ?? "application/json" },
          body: Buffer.concat(chunks),
        });
        res.writeHead(answer.status, {
          "content-type": answer.headers.get("content-type") ?? "application/json",
        });
        res.end(await answer.text());
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/oauth/token`;
  }

  release(): void {
    this.open();
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

async function start(env: Record<string, string | undefined> = {}): Promise<RpcProcess> {
  writeFileSync(join(home, "config.toml"), `chatgpt_base_url = "${issuer.url}/backend-api/"\n`);
  proc = new RpcProcess({ kind: "ours", env: serverEnv(home, issuer, env) });
  proc.send(
    JSON.stringify({ id: 0, method: "initialize", params: { clientInfo: { name: "robust", version: "1" } } }),
  );
  await proc.waitFor((m) => m.id === 0, "initialize");
  return proc;
}

const answerTo = (p: RpcProcess, id: unknown) =>
  p.waitFor((m) => m.method === undefined && m.id === id, `answer ${String(id)}`).then((r) => r);

function refreshTokenOf(dir: string): string {
  return (JSON.parse(readFileSync(join(dir, "auth.json"), "utf8")) as { tokens: { refresh_token: string } })
    .tokens.refresh_token;
}

/** True when something accepts connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

describe("codex-auth app-server robustness", () => {
  it("malformed-lines-never-stop-the-server: garbage, invalid UTF-8, deep nesting, a huge line", async () => {
    home = makeCodexHome("robust-garbage");
    const p = await start();
    const garbage = [
      Buffer.from("{not json\n"),
      Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]),
      Buffer.from(`${"[".repeat(100_000)}\n`),
      Buffer.from(`${"{".repeat(50_000)}\n`),
      Buffer.from(`{"id":"huge","method":"account/read","params":{"x":"${"a".repeat(2_000_000)}"}}\n`),
      Buffer.from([0x00, 0x01, 0x02, 0x0a]),
      Buffer.from('\uFEFF{"id":"bom","method":"account/read","params":{}}\n'),
      Buffer.from('{"id":"crlf","method":"account/read","params":{}}\r\n'),
    ];
    for (const chunk of garbage) p.child.stdin.write(chunk);
    p.send(JSON.stringify({ id: "after", method: "account/read", params: {} }));
    const huge = (await answerTo(p, "huge")).message;
    expect(huge.result).toMatchObject({ account: null });
    expect((await answerTo(p, "crlf")).message.result).toMatchObject({ account: null });
    expect((await answerTo(p, "after")).message.result).toMatchObject({ account: null });
    expect(p.messages.some((m) => m.id === "bom")).toBe(false);
    expect(p.stderr).toContain("Failed to deserialize JSONRPCMessage");
    expect(await p.close()).toEqual({ code: 0, signal: null });
  });

  it("out-of-order-completion: a slow refresh is answered last; other requests are not held up", async () => {
    home = makeCodexHome("robust-order");
    await seedChatgpt()(home, issuer);
    const gated = new GatedTokenEndpoint(issuer.url);
    await gated.start();
    try {
      const p = await start({ CODEX_REFRESH_TOKEN_URL_OVERRIDE: gated.url });
      p.send(
        JSON.stringify({
          id: 1,
          method: "getAuthStatus",
          params: { includeToken: true, refreshToken: true },
        }),
      );
      await gated.arrived;
      p.send(JSON.stringify({ id: 2, method: "account/read", params: {} }));
      p.send(JSON.stringify({ id: 3, method: "getAuthStatus", params: { includeToken: false } }));
      p.send(JSON.stringify({ id: 4, method: "account/login/cancel", params: { loginId: "x" } }));
      const second = await answerTo(p, 2);
      await answerTo(p, 3);
      await answerTo(p, 4);
      expect(p.messages.some((m) => m.id === 1)).toBe(false);
      expect(second.message.result).toMatchObject({ account: { type: "chatgpt", email: "dev@example.com" } });
      gated.release();
      const first = await answerTo(p, 1);
      expect(first.index).toBeGreaterThan(second.index);
      expect((first.message.result as { authToken: unknown }).authToken).toEqual(expect.any(String));
      expect(await p.close()).toEqual({ code: 0, signal: null });
    } finally {
      await gated.close();
    }
  });

  for (const how of ["stdin EOF", "SIGTERM"] as const) {
    it(`shutdown-keeps-refresh-in-flight (${how}): the refresh is answered and saved before exit`, async () => {
      home = makeCodexHome("robust-inflight");
      await seedChatgpt()(home, issuer);
      const before = refreshTokenOf(home);
      const gated = new GatedTokenEndpoint(issuer.url);
      await gated.start();
      try {
        const p = await start({ CODEX_REFRESH_TOKEN_URL_OVERRIDE: gated.url });
        p.send(
          JSON.stringify({
            id: 1,
            method: "getAuthStatus",
            params: { includeToken: true, refreshToken: true },
          }),
        );
        await gated.arrived;
        if (how === "SIGTERM") p.child.kill("SIGTERM");
        else p.child.stdin.end();
        gated.release();
        const exit = await p.exited;
        expect(exit).toEqual({ code: 0, signal: null });
        const answer = p.messages.find((m: Message) => m.id === 1);
        expect((answer?.result as { authToken: unknown } | undefined)?.authToken).toEqual(expect.any(String));
        const after = refreshTokenOf(home);
        expect(after).not.toBe(before);
        // The saved token is the live one: the issuer rotates it.
        const check = await fetch(`${issuer.url}/oauth/token`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            client_id: issuer.clientId,
            grant_type: "refresh_token",
            refresh_token: after,
          }),
        });
        expect(check.status).toBe(200);
      } finally {
        await gated.close();
      }
    });

    it(`shutdown-closes-callback-server (${how}): a pending browser sign-in stops listening`, async () => {
      const release = await holdCallbackPorts();
      try {
        home = makeCodexHome("robust-callback");
        const p = await start();
        p.send(JSON.stringify({ id: 1, method: "account/login/start", params: { type: "chatgpt" } }));
        await answerTo(p, 1);
        expect(await listening(1455)).toBe(true);
        if (how === "SIGTERM") p.child.kill("SIGTERM");
        else p.child.stdin.end();
        expect(await p.exited).toEqual({ code: 0, signal: null });
        expect(await listening(1455)).toBe(false);
      } finally {
        release();
      }
    });
  }

  it("completion-after-success-page: account/login/completed only once the browser loaded /success", async () => {
    const release = await holdCallbackPorts();
    try {
      home = makeCodexHome("robust-success");
      const p = await start();
      p.send(JSON.stringify({ id: 1, method: "account/login/start", params: { type: "chatgpt" } }));
      const { authUrl } = (await answerTo(p, 1)).message.result as { authUrl: string };
      const url = new URL(authUrl);
      const browser = new Browser();
      const landed = await browser.follow(
        await browser.request(url.href),
        issuer.url,
        url.searchParams.get("redirect_uri")!,
      );
      if (!(landed instanceof URL)) throw new Error("the sign-in did not reach the callback");
      const callback = await fetch(landed, { redirect: "manual" });
      expect(callback.status).toBe(302);
      // Credentials are saved by now; an answer after this point shows what was sent before it.
      p.send(JSON.stringify({ id: 2, method: "getAuthStatus", params: {} }));
      const status = await answerTo(p, 2);
      expect(p.messages.slice(0, status.index).some((m) => m.method === "account/login/completed")).toBe(
        false,
      );
      const success = await fetch(new URL(callback.headers.get("location")!, landed));
      expect(success.status).toBe(200);
      const completed = await p.waitFor((m) => m.method === "account/login/completed", "completed");
      expect(completed.message.params).toMatchObject({ success: true, error: null });
      expect(await p.close()).toEqual({ code: 0, signal: null });
    } finally {
      release();
    }
  });

  it("external-login-picked-up-at-once: a login another process saved shows on the next call (Codex 0.169: ~0.5 s later)", async () => {
    home = makeCodexHome("robust-external");
    const p = await start();
    p.send(JSON.stringify({ id: 1, method: "account/read", params: {} }));
    expect((await answerTo(p, 1)).message.result).toMatchObject({ account: null });
    writeFileSync(
      join(home, "auth.json"),
      '{"auth_mode":"apikey","OPENAI_API_KEY":"sk-external-1234567890AB"}',
      {
        mode: 0o600,
      },
    );
    p.send(JSON.stringify({ id: 2, method: "account/read", params: {} }));
    expect((await answerTo(p, 2)).message.result).toMatchObject({ account: { type: "apiKey" } });
    expect(await p.close()).toEqual({ code: 0, signal: null });
  });

  it("changes-by-another-process-are-announced: account/updated when auth.json is written or removed elsewhere", async () => {
    home = makeCodexHome("robust-watch");
    const p = await start();
    const updates = () => p.messages.filter((m) => m.method === "account/updated").map((m) => m.params);
    p.send(JSON.stringify({ id: 1, method: "account/read", params: {} }));
    await answerTo(p, 1);
    writeFileSync(
      join(home, "auth.json"),
      '{"auth_mode":"apikey","OPENAI_API_KEY":"sk-external-1234567890AB"}',
      {
        mode: 0o600,
      },
    );
    await p.waitFor((m) => m.method === "account/updated", "account/updated after the write");
    expect(updates()).toEqual([{ authMode: "apikey", planType: null }]);
    // Our own sign-in is announced once, by the sign-in.
    p.send(
      JSON.stringify({
        id: 2,
        method: "account/login/start",
        params: { type: "apiKey", apiKey: "sk-own-12345678" },
      }),
    );
    await p.waitFor(
      (m, i) => m.method === "account/updated" && i > 0 && updates().length === 2,
      "own update",
    );
    rmSync(join(home, "auth.json"));
    await p.waitFor(() => updates().length === 3, "account/updated after the removal");
    expect(updates()).toEqual([
      { authMode: "apikey", planType: null },
      { authMode: "apikey", planType: null },
      { authMode: null, planType: null },
    ]);
    p.send(JSON.stringify({ id: 3, method: "getAuthStatus", params: {} }));
    expect((await answerTo(p, 3)).message.result).toMatchObject({ authMethod: null });
    expect(await p.close()).toEqual({ code: 0, signal: null });
    expect(updates()).toHaveLength(3);
  });
});
