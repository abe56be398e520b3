import { lazyRequire } from "../lazy-require.js";
/** Where a command reads and writes. Commands never touch `process` directly. */
export interface Io {
  /** One line (or block) to stdout, newline added. */
  out(text: string): void;
  /** One line (or block) to stderr, newline added. */
  err(text: string): void;
  /** Reads stdin to EOF. */
  readStdin(): Promise<string>;
  /** Lines typed or piped on stdin, as they arrive (for paste-back). */
  stdinLines(): AsyncIterable<string>;
  stdinIsTty: boolean;
  stdoutIsTty: boolean;
  stderrIsTty: boolean;
  /** Aborted on Ctrl-C (SIGINT) or SIGTERM. */
  interrupt: AbortSignal;
  /** Writes to stderr without a newline (spinners). */
  errRaw(text: string): void;
}

let stdoutUsed = false;
/** True once something was written to stdout through {@link processIo}. */
export function wroteToStdout(): boolean {
  return stdoutUsed;
}

/** The process's own streams. */
export function processIo(): Io {
  return {
    out: (text) => {
      stdoutUsed = true;
      process.stdout.write(`${text}\n`);
    },
    err: (text) => process.stderr.write(`${text}\n`),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString("utf8");
    },
    stdinLines: () =>
      (lazyRequire("node:readline") as typeof import("node:readline")).createInterface({
        input: process.stdin,
        crlfDelay: Number.POSITIVE_INFINITY,
      }),
    // Getters: touching process.stdin/stdout creates the stream, which costs start-up time.
    get stdinIsTty() {
      return process.stdin.isTTY === true;
    },
    get stdoutIsTty() {
      return process.stdout.isTTY === true;
    },
    get stderrIsTty() {
      return process.stderr.isTTY === true;
    },
    get interrupt() {
      return interruptSignal();
    },
    errRaw: (text) => process.stderr.write(text),
  };
}

let interruptController: AbortController | undefined;
/** Installed on first use only, so commands that never wait keep Node's default Ctrl-C. */
function interruptSignal(): AbortSignal {
  if (!interruptController) {
    const controller = new AbortController();
    interruptController = controller;
    for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => controller.abort());
  }
  return interruptController.signal;
}

/** True when colour may be used on a stream (a TTY, and NO_COLOR unset). */
export function useColor(isTty: boolean, env: Readonly<Record<string, string | undefined>>): boolean {
  return isTty && !env.NO_COLOR;
}

/** Codex's API-key mask: ≤ 13 characters → `***`, else first 8 + `***` + last 5. */
export function maskApiKey(key: string): string {
  const chars = Array.from(key);
  if (chars.length <= 13) return "***";
  return `${chars.slice(0, 8).join("")}***${chars.slice(-5).join("")}`;
}
