/**
 * Helpers for the sign-in tests: CODEX_HOMEs seeded with previous
 * credentials (to prove a failed sign-in leaves them alone), raw callback
 * requests with any Host header, and the authorize step done by hand
 * against an auto-approving dev issuer.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import { resolveDeps } from "../../src/deps.js";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import { chatgptRecord } from "../../src/login/persist.js";
import type { AuthRecord } from "../../src/record/auth-record.js";
import { FileAuthStorage } from "../../src/storage/file.js";
import { Browser } from "../dev-issuer/helpers.js";
import { CLI, makeCodexHome, removeCodexHome } from "../support/env.js";
import { childEnv } from "../support/run.js";

/** What was in CODEX_HOME before a sign-in started. */
export type Previous = "none" | "apiKey" | "chatgpt";

export interface SeededHome {
  home: string;
  storage: FileAuthStorage;
  /** auth.json's bytes before the sign-in (undefined when there was none). */
  before: Buffer | undefined;
  /** The refresh token of the previous ChatGPT sign-in, if any. */
  previousRefreshToken: string | undefined;
  /** auth.json's bytes now (undefined when it does not exist). */
  now(): Buffer | undefined;
}

export const PREVIOUS_API_KEY = "sk-previous-0123456789abcdefghij";

/**
 * A fresh CODEX_HOME holding `previous` credentials. ChatGPT ones are real
 * tokens from `issuer`, with `oauth_provenance.issuer` pointing at it, so a
 * revocation of them stays on loopback and can be checked there.
 */
export async function seedHome(previous: Previous, issuer?: DevIssuer): Promise<SeededHome> {
  const home = makeCodexHome("login");
  const storage = new FileAuthStorage(home);
  let previousRefreshToken: string | undefined;
  if (previous === "apiKey") await storage.save({ auth_mode: "apikey", OPENAI_API_KEY: PREVIOUS_API_KEY });
  if (previous === "chatgpt") {
    if (!issuer) throw new Error("seeding ChatGPT credentials needs an issuer");
    const tokens = await issuer.issueTokens();
    previousRefreshToken = tokens.refresh_token;
    await storage.save(chatgptRecord(tokens, issuer.url, undefined, resolveDeps()));
  }
  const path = join(home, "auth.json");
  const read = () => (existsSync(path) ? readFileSync(path) : undefined);
  return { home, storage, before: read(), previousRefreshToken, now: read };
}

/** The mode bits of `home/auth.json`. */
export function authFileMode(home: string): number {
  return statSync(join(home, "auth.json")).mode & 0o777;
}

export function readAuthJson(home: string): AuthRecord & { tokens: NonNullable<AuthRecord["tokens"]> } {
  return JSON.parse(readFileSync(join(home, "auth.json"), "utf8"));
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * `GET http://127.0.0.1:PORT{path}` with exactly the Host header given
 * (fetch would not let a test send a foreign Host).
 */
export function rawGet(port: number, path: string, host = `127.0.0.1:${port}`): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path, method: "GET", headers: { host, connection: "close" }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/**
 * Sends `text` verbatim to 127.0.0.1:`port` and reads until the server
 * closes: for requests a client library would not send (no Host header,
 * odd request lines). Resolves with the status code and the raw response.
 */
export function rawRequest(port: number, text: string): Promise<{ status: number; raw: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    let raw = "";
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => (raw += d));
    socket.once("connect", () => socket.end(text));
    socket.once("error", reject);
    socket.once("close", () =>
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(raw)?.[1] ?? 0), raw }),
    );
  });
}

/**
 * Does the authorize step against an auto-approving issuer the way a
 * browser would, stopping at the redirect back to the callback server: the
 * returned URL (`…/auth/callback?code=…&state=…`) has NOT been requested.
 */
export async function authorizeToCallback(authUrl: string, issuerUrl: string): Promise<URL> {
  const redirectUri = new URL(authUrl).searchParams.get("redirect_uri");
  if (!redirectUri) throw new Error("authorize URL without redirect_uri");
  const browser = new Browser();
  const end = await browser.follow(await browser.request(authUrl), issuerUrl, redirectUri);
  if (!(end instanceof URL)) throw new Error(`authorize stopped at HTTP ${end.status}: ${await end.text()}`);
  return end;
}

/** The same authorize URL with some query parameters replaced. */
export function withParams(url: string | URL, replace: Record<string, string>): string {
  const u = new URL(url);
  for (const [k, v] of Object.entries(replace)) u.searchParams.set(k, v);
  return u.href;
}

/** `path?query` of a URL, for {@link rawGet}. */
export function pathAndQuery(url: URL): string {
  return `${url.pathname}${url.search}`;
}

/** A child process a test talks to while it runs (stdin lines, waiting for output, signals). */
export interface RunningChild {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in the stream; rejects if the child exits first. */
  waitFor(stream: "stdout" | "stderr", pattern: RegExp): Promise<RegExpMatchArray>;
  /** Writes one line to stdin. */
  writeLine(line: string): void;
  /** Exit code (128 + n when killed by signal n, as a shell reports it). */
  exit: Promise<number>;
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** Starts `cmd args` (no shell); killed at test end by {@link stopChildren}. */
export function startChild(cmd: string, args: string[], env: NodeJS.ProcessEnv): RunningChild {
  const child = spawn(cmd, args, { env, stdio: ["pipe", "pipe", "pipe"] });
  running.add(child);
  const text = { stdout: "", stderr: "" };
  const wake = new Set<() => void>();
  let exited = false;
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  for (const stream of ["stdout", "stderr"] as const) {
    child[stream].on("data", (d: string) => {
      text[stream] += d;
      for (const w of [...wake]) w();
    });
  }
  child.stdin.on("error", () => {}); // the child may exit before reading what was written
  const exit = new Promise<number>((resolve) => {
    child.once("close", (code, signal) => {
      exited = true;
      running.delete(child);
      for (const w of [...wake]) w();
      resolve(code ?? 128 + (SIGNAL_NUMBERS[signal ?? ""] ?? 0));
    });
  });
  return {
    child,
    stdout: () => text.stdout,
    stderr: () => text.stderr,
    writeLine: (line) => child.stdin.write(`${line}\n`),
    exit,
    waitFor(stream, pattern) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = text[stream].match(pattern);
          if (m) {
            wake.delete(check);
            resolve(m);
          } else if (exited) {
            wake.delete(check);
            reject(
              new Error(
                `child exited before ${stream} matched ${pattern}; stderr:\n${text.stderr.slice(-2000)}`,
              ),
            );
          }
        };
        wake.add(check);
        check();
      });
    },
  };
}

const running = new Set<ChildProcessWithoutNullStreams>();

/** Kills every child a test left running and waits for them to go. */
export async function stopChildren(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once("close", () => resolve());
          child.kill("SIGKILL");
        }),
    ),
  );
}

/**
 * `codex-auth ARGS` from the built bundle, as a running child with
 * CODEX_HOME = `home`, no display (the browser opener prints the URL
 * instead), and revocation kept on loopback unless `extra` says where.
 */
export function startOurs(args: string[], home: string, extra: Record<string, string | undefined> = {}) {
  return startChild(
    process.execPath,
    [CLI, ...args],
    childEnv(home, { DISPLAY: undefined, WAYLAND_DISPLAY: undefined, NO_COLOR: "1", ...extra }),
  );
}

/**
 * Environment for the real codex: this home, revocation and refresh at
 * `issuerUrl`, and nothing from outside that could change auth or routing
 * (OPENAI_*, CODEX_*, proxies).
 */
export function codexEnv(home: string, issuerUrl: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/proxy|^OPENAI_|^CODEX_|^DISPLAY$|^WAYLAND_DISPLAY$/i.test(k)) continue;
    env[k] = v;
  }
  return {
    ...env,
    CODEX_HOME: home,
    CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${issuerUrl}/oauth/token`,
    CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${issuerUrl}/oauth/revoke`,
    NO_PROXY: "127.0.0.1,localhost",
    NO_COLOR: "1",
    ...extra,
  };
}

/**
 * What a test file opens per test: issuers and seeded homes, plus anything
 * else handed to `cleanups`. `closeAll()` (from the file's afterEach) closes
 * them in reverse order.
 */
export function testResources() {
  const cleanups: Array<() => Promise<void> | void> = [];
  return {
    cleanups,
    async issuerFor(options: Parameters<typeof startDevIssuer>[0] = {}): Promise<DevIssuer> {
      const issuer = await startDevIssuer(options);
      cleanups.push(() => issuer.close());
      return issuer;
    },
    async home(previous: Previous, issuer?: DevIssuer): Promise<SeededHome> {
      const seeded = await seedHome(previous, issuer);
      cleanups.push(() => removeCodexHome(seeded.home));
      return seeded;
    },
    async closeAll(): Promise<void> {
      for (const c of cleanups.splice(0).reverse()) await c();
    },
  };
}
