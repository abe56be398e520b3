/** Runs `codex-auth` in-process against a fake terminal: for command tests that are not about byte compatibility. */

import type { CliDeps } from "../../src/cli/context.js";
import type { Io } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import type { RunResult } from "./run.js";
import { childEnv } from "./run.js";

/** A terminal that records what is written and serves `input` on stdin (not a TTY unless asked). */
export function fakeIo(
  input = "",
  tty: Partial<Pick<Io, "stdinIsTty" | "stdoutIsTty" | "stderrIsTty">> = {},
) {
  const controller = new AbortController();
  let stdout = "";
  let stderr = "";
  const io: Io = {
    out: (text) => {
      stdout += `${text}\n`;
    },
    err: (text) => {
      stderr += `${text}\n`;
    },
    errRaw: (text) => {
      stderr += text;
    },
    readStdin: async () => input,
    stdinLines: async function* () {
      for (const line of input.split("\n")) if (line !== "") yield line;
    },
    stdinIsTty: tty.stdinIsTty ?? false,
    stdoutIsTty: tty.stdoutIsTty ?? false,
    stderrIsTty: tty.stderrIsTty ?? false,
    interrupt: controller.signal,
  };
  return {
    io,
    interrupt: () => controller.abort(),
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
  };
}

/**
 * `codex-auth ARGS` in this process, with the same environment a spawned
 * child gets from {@link childEnv}.
 */
export async function runInProcess(
  args: string[],
  o: { home: string; input?: string; env?: Record<string, string | undefined>; deps?: Partial<CliDeps> },
): Promise<RunResult> {
  const terminal = fakeIo(o.input ?? "");
  const code = await main(args, { io: terminal.io, env: childEnv(o.home, o.env), ...o.deps });
  return { stdout: terminal.stdout, stderr: terminal.stderr, code };
}
