/**
 * The differential harness: one scripted conversation, played against the
 * real `codex app-server` and against `codex-auth app-server`, each in its
 * own throwaway CODEX_HOME with the same seed and every endpoint on the
 * development issuer; then every response and every account notification
 * compared after masking what legitimately differs (login ids, PKCE
 * challenge and state, timestamps, JWT values, device user codes, the
 * product version in the user agent, the CODEX_HOME path).
 */
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DevIssuer } from "../../../src/dev-issuer/index.js";
import { makeCodexHome, removeCodexHome } from "../../support/env.js";
import { makeSystemConfigDir, removeSystemConfigDir, type SystemFiles } from "../../support/system-config.js";
import { type Message, RpcProcess, type ServerKind } from "./rpc-process.js";

/** What a scenario gets: the conversation with one server. */
export interface Session {
  readonly kind: ServerKind;
  readonly home: string;
  /** The folder given as `/etc/codex`, when the setup has `systemFiles` (change it mid-conversation). */
  readonly etcCodex: string | undefined;
  readonly issuer: DevIssuer;
  readonly process: RpcProcess;
  /** Sends a request (the next integer id unless `id` is given) and waits for its answer. */
  call(
    method: string,
    params?: unknown,
    options?: { id?: string | number; noParams?: boolean },
  ): Promise<Message>;
  /** Sends requests (the next integer ids) in one write, without waiting; returns their ids. */
  pipeline(requests: ReadonlyArray<readonly [method: string, params?: unknown]>): Array<string | number>;
  /** Sends a request and does not wait; returns its id. */
  send(
    method: string,
    params?: unknown,
    options?: { id?: string | number; noParams?: boolean },
  ): string | number;
  /** Waits for the answer to `id`. */
  response(id: string | number): Promise<Message>;
  /** Sends one raw line (anything, valid or not). A line carrying an `id` counts as a request in the comparison. */
  raw(text: string, options?: { idText?: string }): void;
  /** Waits for the next account notification named `method` not waited for before. */
  notification(method: string, timeoutMs?: number): Promise<Message>;
  /** `initialize` as a plain client. */
  initialize(params?: unknown): Promise<Message>;
  /** Waits for the next server → client request named `method` not waited for before. */
  serverRequest(method: string, timeoutMs?: number): Promise<Message>;
  /** Answers a server → client request. */
  reply(id: unknown, result: unknown): void;
  /** Answers a server → client request with an error. */
  replyError(id: unknown, code: number, message: string): void;
}

/** How one server is prepared and run. */
export interface ServerSetup {
  kind: ServerKind;
  codex: string;
  issuer: DevIssuer;
  /** Fills the fresh CODEX_HOME before the server starts. */
  seed?: (home: string, issuer: DevIssuer) => Promise<void> | void;
  /** config.toml lines besides `chatgpt_base_url`. */
  config?: string[];
  /** `chatgpt_base_url` (default: the issuer's `/backend-api/`). */
  chatgptBaseUrl?: string;
  env?: Record<string, string | undefined>;
  /** The administrator's `/etc/codex` files (requirements.toml, …), given to each server its own way. */
  systemFiles?: SystemFiles;
}

/** What is compared. */
export interface Transcript {
  /** Per request, in the order sent: its masked answer, or `<no answer>`. */
  responses: Array<{ request: string; answer: string }>;
  /** Account notifications (`account/*`), masked, in the order received. */
  notifications: string[];
  /** Server → client requests, masked, in the order received. */
  serverRequests: string[];
  /**
   * `configWarning` notifications about a configuration replaced by defaults
   * (`Invalid configuration; using defaults.`), masked, in order. Other
   * warnings (Codex's sandbox prerequisites) are not about sign-in.
   */
  configWarnings: string[];
  /**
   * What the server wrote, in order: `answer <id>` for each answer and the
   * masked account notifications (not in {@link compared}: see `ordering`).
   */
  sequence: string[];
  /** auth.json as left behind (mode and text, secrets masked), or `<none>`. */
  authFile: string;
  /** Raw process facts for debugging (not compared). */
  stderr: string;
  exit: { code: number | null; signal: string | null };
}

/**
 * Everything not on loopback goes to a closed loopback port (a proxy that
 * refuses at once): nothing leaves the machine, and what Codex sends to
 * production (chatgpt.com, e.g. after it fell back to defaults) fails fast
 * — also in CI's loopback-only namespace, where Codex's resolver would
 * otherwise wait ~5 s per lookup of a name it cannot reach.
 */
export const NO_INTERNET = {
  HTTPS_PROXY: "http://127.0.0.1:9",
  HTTP_PROXY: "http://127.0.0.1:9",
  ALL_PROXY: "http://127.0.0.1:9",
};

const END_ID = "__differential_end__";

/** Environment for either server: this home, the issuer everywhere, nothing inherited that changes auth. */
export function serverEnv(
  home: string,
  issuer: DevIssuer,
  extra: Record<string, string | undefined> = {},
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (
      /proxy|^OPENAI_|^CODEX_|^TERM|^WEZTERM|^KITTY|^ALACRITTY|^KONSOLE|^GNOME_TERMINAL|^VTE_|^WT_SESSION/i.test(
        k,
      )
    )
      continue;
    env[k] = v;
  }
  Object.assign(env, {
    CODEX_HOME: home,
    CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/token`,
    CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/revoke`,
    CODEX_APP_SERVER_LOGIN_ISSUER: issuer.url,
    NO_PROXY: "127.0.0.1,localhost",
    NO_COLOR: "1",
    TERM: "xterm",
  });
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Masks what legitimately differs between two runs (see the module comment). */
export function mask(text: string, home: string, ids: Map<string, string>): string {
  let out = text.split(home).join("<home>");
  out = out.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, (uuid) => {
    if (!ids.has(uuid)) ids.set(uuid, `<uuid-${ids.size + 1}>`);
    return ids.get(uuid)!;
  });
  out = out.replace(/"emittedAtMs":\d+/g, '"emittedAtMs":"<ms>"');
  out = out.replace(/(code_challenge|state)=[A-Za-z0-9_-]+/g, "$1=<$1>");
  out = out.replace(/eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g, "<jwt>");
  out = out.replace(/("userAgent":"[^"/]*)\/[^ "]+ /, "$1/<version> ");
  out = out.replace(/"userCode":"[^"]*"/g, '"userCode":"<user-code>"');
  return out;
}

/** Runs `scenario` against one server and returns its transcript. */
export async function runScenario(
  setup: ServerSetup,
  scenario: (s: Session) => Promise<void>,
): Promise<Transcript> {
  const home = makeCodexHome(`diff-${setup.kind}`);
  const etcCodex = setup.systemFiles ? makeSystemConfigDir(setup.systemFiles) : undefined;
  try {
    const base = setup.chatgptBaseUrl ?? `${setup.issuer.url}/backend-api/`;
    const config = [`chatgpt_base_url = "${base}"`, ...(setup.config ?? [])];
    writeFileSync(join(home, "config.toml"), `${config.join("\n")}\n`);
    await setup.seed?.(home, setup.issuer);
    const proc = new RpcProcess({
      kind: setup.kind,
      codex: setup.codex,
      env: serverEnv(home, setup.issuer, setup.env),
      ...(etcCodex ? { etcCodex } : {}),
    });
    const requests: Array<{ idText: string; request: string }> = [];
    let nextId = 1;
    const consumed = new Set<number>();
    const idText = (id: string | number) => JSON.stringify(id);
    const requestLine = (
      method: string,
      params: unknown,
      o: { id?: string | number; noParams?: boolean },
    ) => {
      const id = o.id ?? nextId++;
      const body: Record<string, unknown> = { jsonrpc: "2.0", id, method };
      if (!o.noParams) body.params = params;
      return { id, line: JSON.stringify(body) };
    };
    const responseTo = async (id: string | number) =>
      (
        await proc.waitFor(
          (m) => m.method === undefined && "id" in m && JSON.stringify(m.id) === idText(id),
          `the answer to ${idText(id)}`,
        )
      ).message;
    const session: Session = {
      kind: setup.kind,
      home,
      etcCodex,
      issuer: setup.issuer,
      process: proc,
      send(method, params = {}, o = {}) {
        const { id, line } = requestLine(method, params, o);
        requests.push({ idText: idText(id), request: line });
        proc.send(line);
        return id;
      },
      pipeline(batch) {
        const lines = batch.map(([method, params = {}]) => requestLine(method, params, {}));
        for (const { id, line } of lines) requests.push({ idText: idText(id), request: line });
        proc.sendAll(lines.map((l) => l.line));
        return lines.map((l) => l.id);
      },
      async call(method, params = {}, o = {}) {
        return responseTo(session.send(method, params, o));
      },
      response: responseTo,
      raw(text, o = {}) {
        const found = o.idText ?? /"id":\s*("(?:[^"\\]|\\.)*"|-?\d+)/.exec(text)?.[1];
        if (found !== undefined) requests.push({ idText: found, request: text });
        proc.send(text);
      },
      async serverRequest(method, timeoutMs = 20_000) {
        const { message, index } = await proc.waitFor(
          (m, i) => m.method === method && "id" in m && !consumed.has(i),
          `server request ${method}`,
          timeoutMs,
        );
        consumed.add(index);
        return message;
      },
      reply(id, result) {
        proc.send(JSON.stringify({ id, result }));
      },
      replyError(id, code, message) {
        proc.send(JSON.stringify({ id, error: { code, message } }));
      },
      async notification(method, timeoutMs = 20_000) {
        const { message, index } = await proc.waitFor(
          (m, i) => m.method === method && !("id" in m) && !consumed.has(i),
          `notification ${method}`,
          timeoutMs,
        );
        consumed.add(index);
        return message;
      },
      initialize(params = { clientInfo: { name: "codex_auth_difftest", title: null, version: "0.0.1" } }) {
        return session.call("initialize", params);
      },
    };
    let failure: unknown;
    try {
      await scenario(session);
      // Everything sent before this has been answered (or never will be) once it is answered.
      proc.send(JSON.stringify({ id: END_ID, method: "getAuthStatus", params: {} }));
      await proc.waitFor((m) => m.id === END_ID, "the end marker");
    } catch (err) {
      failure = err;
    }
    const exit = await proc.close();
    const authFile = storedAuth(home);
    if (failure) {
      throw new Error(
        `${setup.kind}: ${(failure as Error).message}\n--- wire ---\n${proc.wire.map((w) => `${w.dir === "in" ? ">>" : "<<"} ${w.text}`).join("\n")}\n--- stderr ---\n${proc.stderr}`,
      );
    }
    const ids = new Map<string, string>();
    const answers = new Map<string, string>();
    const notifications: string[] = [];
    const serverRequests: string[] = [];
    const configWarnings: string[] = [];
    const sequence: string[] = [];
    for (const { dir, text } of proc.wire) {
      if (dir !== "out") continue;
      const m = JSON.parse(text) as Message;
      if (
        m.method === "configWarning" &&
        text.includes('"summary":"Invalid configuration; using defaults."')
      ) {
        configWarnings.push(mask(text, home, ids));
        continue;
      }
      if (typeof m.method === "string") {
        if (!m.method.startsWith("account/")) continue;
        if ("id" in m) serverRequests.push(mask(text, home, ids));
        else notifications.push(mask(text, home, ids));
        sequence.push(mask(text, home, ids).replace(/,"emittedAtMs":"<ms>"/, ""));
        continue;
      }
      const key = JSON.stringify(m.id);
      if (key === JSON.stringify(END_ID)) continue;
      // The raw text of the id, as it was written (large integers included).
      const raw = /"id":("(?:[^"\\]|\\.)*"|-?\d+)/.exec(text)?.[1] ?? key;
      sequence.push(`answer ${raw}`);
      if (!answers.has(raw)) answers.set(raw, mask(text, home, ids));
    }
    return {
      responses: requests.map((r) => ({
        request: mask(r.request, home, ids),
        answer: answers.get(r.idText) ?? "<no answer>",
      })),
      notifications,
      serverRequests,
      configWarnings,
      sequence,
      authFile,
      stderr: proc.stderr,
      exit,
    };
  } finally {
    removeCodexHome(home);
    if (etcCodex) removeSystemConfigDir(etcCodex);
  }
}

/** Runs the scenario against codex, then ours (one at a time: both bind the callback port 1455). */
export async function differential(
  base: Omit<ServerSetup, "kind">,
  scenario: (s: Session) => Promise<void>,
): Promise<{ codex: Transcript; ours: Transcript }> {
  const codex = await runScenario({ ...base, kind: "codex" }, scenario);
  const ours = await runScenario({ ...base, kind: "ours" }, scenario);
  // Secrets never reach our log: no JWT, no API key, no refresh token.
  const leaked = /eyJ[A-Za-z0-9_-]{10,}\.|sk-[A-Za-z0-9_-]{6,}|rt_[A-Za-z0-9_-]{6,}/.exec(ours.stderr);
  if (leaked)
    throw new Error(`codex-auth app-server logged a secret-looking value (${leaked[0].slice(0, 6)}…)`);
  return { codex, ours };
}

/** The compared part of a transcript. */
export function compared(
  t: Transcript,
): Pick<Transcript, "responses" | "notifications" | "serverRequests" | "configWarnings" | "authFile"> {
  return {
    responses: t.responses,
    notifications: t.notifications,
    serverRequests: t.serverRequests,
    configWarnings: t.configWarnings,
    authFile: t.authFile,
  };
}

/** auth.json's mode and text with token values, random ids, times and exchanged keys masked. */
export function storedAuth(home: string): string {
  const path = join(home, "auth.json");
  if (!existsSync(path)) return "<none>";
  const mode = (statSync(path).mode & 0o777).toString(8);
  const text = readFileSync(path, "utf8")
    .replace(/eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g, "<jwt>")
    .replace(/("refresh_token": )"[^"]*"/g, '$1"<refresh-token>"')
    .replace(/("login_owner_id": )"[A-Za-z0-9_-]{43}"/g, '$1"<43 random>"')
    .replace(/("last_refresh": )"\d{4}-\d\d-\d\dT[^"]*Z"/g, '$1"<rfc3339>"')
    .replace(/"sk-dev-[^"]*"/g, '"<exchanged-api-key>"');
  return `${mode} ${text}`;
}
