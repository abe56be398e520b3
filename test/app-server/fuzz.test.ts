/**
 * Fuzz (fast-check): random bytes, random JSON and random JSON-RPC frames
 * never stop `codex-auth app-server` and never change stored credentials.
 * In process (many runs, the real ports over a throwaway CODEX_HOME) and
 * once as a real process with a large random batch.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJson } from "../../src/app-server/json.js";
import { readRequest } from "../../src/app-server/methods.js";
import { serveAppServer } from "../../src/app-server/stdio.js";
import { loadConfig } from "../../src/config/config.js";
import { makeCodexHome, removeCodexHome } from "../support/env.js";
import { RpcProcess } from "./support/rpc-process.js";

const KEY_RECORD = `{\n  "auth_mode": "apikey",\n  "OPENAI_API_KEY": "sk-fuzz-1234567890ABCDEF"\n}`;
let home: string;

beforeAll(() => {
  home = makeCodexHome("fuzz");
  writeFileSync(join(home, "config.toml"), 'chatgpt_base_url = "http://127.0.0.1:9/backend-api/"\n');
  writeFileSync(join(home, "auth.json"), KEY_RECORD, { mode: 0o600 });
});
afterAll(() => removeCodexHome(home));

const env = {
  CODEX_HOME: "",
  CODEX_REFRESH_TOKEN_URL_OVERRIDE: "http://127.0.0.1:9/oauth/token",
  CODEX_REVOKE_TOKEN_URL_OVERRIDE: "http://127.0.0.1:9/oauth/revoke",
  CODEX_APP_SERVER_LOGIN_ISSUER: "http://127.0.0.1:9",
};

const METHODS = [
  "initialize",
  "account/read",
  "getAuthStatus",
  "account/login/start",
  "account/login/cancel",
  "account/logout",
  "account/rateLimits/read",
  "thread/start",
  "initialized",
];

/** Frames that would legitimately change credentials (a valid login or logout) are not fuzz. */
function changesCredentials(frame: unknown): boolean {
  if (!frame || typeof frame !== "object") return false;
  const { method, params } = frame as { method?: unknown; params?: unknown };
  if (method !== "account/login/start" && method !== "account/logout") return false;
  try {
    readRequest(
      method,
      params === undefined || params === null ? undefined : parseJson(JSON.stringify(params)),
    );
    return true;
  } catch {
    return false;
  }
}

const idArb = fc.oneof(
  fc.integer(),
  fc.string({ maxLength: 8 }),
  fc.constant(null),
  fc.double(),
  fc.boolean(),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
);
const frameArb = fc
  .record(
    {
      jsonrpc: fc.constantFrom("2.0", "1.0", 5),
      id: idArb,
      method: fc.oneof(fc.constantFrom(...METHODS), fc.string({ maxLength: 20 })),
      params: fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.constant(undefined)),
      trace: fc.jsonValue({ maxDepth: 2 }),
    },
    { requiredKeys: ["method"] },
  )
  .filter((f) => !changesCredentials(f))
  .map((f) => JSON.stringify(f));
const lineArb = fc.oneof(
  fc
    .uint8Array({ maxLength: 200 })
    .map((bytes) => Buffer.from(bytes).toString("latin1").replaceAll("\n", " ")),
  fc.string({ maxLength: 200 }).map((s) => s.replaceAll("\n", " ")),
  fc
    .jsonValue({ maxDepth: 5 })
    .filter((v) => !changesCredentials(v))
    .map((v) => JSON.stringify(v)),
  frameArb,
);

/** Runs the server in process over `lines`, then a final request; returns its answer. */
async function serveLines(lines: string[]): Promise<string[]> {
  const input = new PassThrough();
  const output = new PassThrough();
  const out: string[] = [];
  output.on("data", (d: Buffer) => out.push(...d.toString("utf8").split("\n").filter(Boolean)));
  const config = await loadConfig({ codexHome: home, env: { ...env, CODEX_HOME: home } });
  const done = serveAppServer({
    config,
    env: { ...env, CODEX_HOME: home },
    input,
    output,
    log: () => {},
    callbackPort: 0,
  });
  input.write(
    `${JSON.stringify({ id: "init", method: "initialize", params: { clientInfo: { name: "fuzz", version: "1" } } })}\n`,
  );
  for (const line of lines) input.write(`${line}\n`);
  input.write(
    `${JSON.stringify({ id: "final", method: "getAuthStatus", params: { includeToken: false } })}\n`,
  );
  input.end();
  await done;
  return out;
}

describe("app-server fuzz", () => {
  it("random-lines-never-stop-the-server-or-change-credentials (in process)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(lineArb, { maxLength: 30 }), async (lines) => {
        const out = await serveLines(lines);
        const final = out
          .map((l) => JSON.parse(l) as { id?: unknown; result?: unknown })
          .find((m) => m.id === "final");
        expect(final?.result).toEqual({ authMethod: "apikey", authToken: null, requiresOpenaiAuth: true });
        expect(readFileSync(join(home, "auth.json"), "utf8")).toBe(KEY_RECORD);
      }),
      { numRuns: 150 },
    );
  });

  it("random-lines-as-a-real-process: 3,000 random lines, the server answers after them and the file is unchanged", async () => {
    const lines = fc.sample(lineArb, { numRuns: 3000, seed: 1234 });
    const proc = new RpcProcess({
      kind: "ours",
      env: { ...process.env, ...env, CODEX_HOME: home, OPENAI_API_KEY: undefined, CODEX_API_KEY: undefined },
    });
    proc.send(
      JSON.stringify({
        id: "init",
        method: "initialize",
        params: { clientInfo: { name: "fuzz", version: "1" } },
      }),
    );
    for (const line of lines) proc.send(line);
    proc.send(JSON.stringify({ id: "final", method: "getAuthStatus", params: {} }));
    const final = await proc.waitFor(
      (m) => m.id === "final" && m.method === undefined,
      "the final answer",
      60_000,
    );
    expect(final.message.result).toEqual({ authMethod: "apikey", authToken: null, requiresOpenaiAuth: true });
    expect(await proc.close()).toEqual({ code: 0, signal: null });
    expect(readFileSync(join(home, "auth.json"), "utf8")).toBe(KEY_RECORD);
    // Every answer is a JSON-RPC response or error without a jsonrpc field.
    for (const m of proc.messages) expect("jsonrpc" in m).toBe(false);
  });
});
