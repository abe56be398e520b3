/** Runs our CLI and the real codex binary the same way, for side-by-side comparison. */
import { spawn, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";
import { CLI } from "./env.js";

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface RunOptions {
  home: string;
  input?: string;
  env?: Record<string, string | undefined>;
}

/** Environment for a child: CODEX_HOME set, nothing inherited that could change auth. */
export function childEnv(home: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CODEX_HOME: home, ...extra };
  for (const k of [
    "CODEX_API_KEY",
    "OPENAI_API_KEY",
    "CODEX_ACCESS_TOKEN",
    "CODEX_REFRESH_TOKEN_URL_OVERRIDE",
    "CODEX_REVOKE_TOKEN_URL_OVERRIDE",
    "CODEX_AUTHAPI_BASE_URL",
    "CODEX_AGENT_IDENTITY_JWKS_BASE_URL",
    "CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL",
    "CODEX_AUTH_SYSTEM_CONFIG_DIR",
  ]) {
    if (!(k in extra)) delete env[k];
  }
  // Revocation on logout, personal access token and Agent Identity checks must never leave loopback.
  env.CODEX_REVOKE_TOKEN_URL_OVERRIDE ??= "http://127.0.0.1:9/oauth/revoke";
  env.CODEX_REFRESH_TOKEN_URL_OVERRIDE ??= "http://127.0.0.1:9/oauth/token";
  env.CODEX_AUTHAPI_BASE_URL ??= "http://127.0.0.1:9/api/accounts";
  env.CODEX_AGENT_IDENTITY_JWKS_BASE_URL ??= "http://127.0.0.1:9";
  env.CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL ??= "http://127.0.0.1:9/api/accounts";
  return env;
}

function run(cmd: string, args: string[], o: RunOptions): RunResult {
  const r = spawnSync(cmd, args, {
    env: childEnv(o.home, o.env),
    input: o.input ?? "",
    encoding: "utf8",
    timeout: 30_000,
  });
  return { stdout: r.stdout, stderr: r.stderr, code: r.status ?? -1 };
}

/** `codex-auth ARGS` from the built bundle. */
export function runOurs(args: string[], o: RunOptions): RunResult {
  return run(process.execPath, [CLI, ...args], o);
}

/**
 * `codex-auth ARGS` without blocking this process's event loop: needed when
 * the test process itself serves what the child calls (an in-process issuer).
 */
export function runOursAsync(args: string[], o: RunOptions): Promise<RunResult> {
  return spawnCollect(process.execPath, [CLI, ...args], childEnv(o.home, o.env), o.input);
}

/**
 * Runs a child without blocking the event loop, feeding `input` on stdin and
 * collecting its output; killed after 30 s.
 */
export function spawnCollect(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  input = "",
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    // A child that exits without reading stdin (codex login status) closes the pipe: not an error.
    child.stdin.on("error", () => undefined);
    child.stdin.end(input);
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    // "close", not "exit": output still in the pipes has been read by then.
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code: code ?? -1 });
    });
  });
}

/** The real `codex ARGS`, without blocking this process's event loop (it may call an in-process issuer). */
export function runCodexAsync(codex: string, args: string[], o: RunOptions): Promise<RunResult> {
  return spawnCollect(codex, args, childEnv(o.home, o.env), o.input);
}

/** The real `codex ARGS`. */
export function runCodex(codex: string, args: string[], o: RunOptions): RunResult {
  return run(codex, args, o);
}

/** A JSON-RPC session with `codex app-server` (account methods only). */
export async function withCodexAppServer<T>(
  codex: string,
  o: RunOptions,
  fn: (call: (method: string, params?: unknown) => Promise<Record<string, unknown>>) => Promise<T>,
  init: { experimentalApi?: boolean } = {},
): Promise<T> {
  const child = spawn(codex, ["app-server"], {
    env: childEnv(o.home, o.env),
    stdio: ["pipe", "pipe", "pipe"],
  });
  child.stderr.resume();
  const pending = new Map<number, (msg: Record<string, unknown>) => void>();
  const lines = createInterface({ input: child.stdout });
  lines.on("line", (line) => {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line);
    } catch {
      return;
    }
    if (typeof msg.id === "number" && pending.has(msg.id)) {
      pending.get(msg.id)!(msg);
      pending.delete(msg.id);
    }
  });
  let nextId = 1;
  const call = (method: string, params?: unknown) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => reject(new Error(`app-server ${method} timed out`)), 20_000);
      pending.set(id, (msg) => {
        clearTimeout(timer);
        resolve(msg);
      });
      child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id, method, params })}\n`);
    });
  try {
    await call("initialize", {
      clientInfo: { name: "codex-auth-test", version: "0.0.1" },
      ...(init.experimentalApi ? { capabilities: { experimentalApi: true } } : {}),
    });
    return await fn(call);
  } finally {
    child.stdin.end();
    await new Promise((r) => child.once("exit", r));
  }
}
