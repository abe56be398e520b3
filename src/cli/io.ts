/** Where a command reads and writes. Commands never touch `process` directly. */
export interface Io {
  /** One line (or block) to stdout, newline added. */
  out(text: string): void;
  /** One line (or block) to stderr, newline added. */
  err(text: string): void;
  /** Reads stdin to EOF. */
  readStdin(): Promise<string>;
  stdinIsTty: boolean;
  stdoutIsTty: boolean;
}

/** The process's own streams. */
export function processIo(): Io {
  return {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString("utf8");
    },
    stdinIsTty: process.stdin.isTTY === true,
    stdoutIsTty: process.stdout.isTTY === true,
  };
}

/** Codex's API-key mask: ≤ 13 characters → `***`, else first 8 + `***` + last 5. */
export function maskApiKey(key: string): string {
  const chars = Array.from(key);
  if (chars.length <= 13) return "***";
  return `${chars.slice(0, 8).join("")}***${chars.slice(-5).join("")}`;
}
