/**
 * `codex-auth app-server` as a command: arguments (parsed like the other
 * commands, `-c` before or after the command), help, configuration errors,
 * and the bundle split that keeps other commands from loading it.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseCommandLine } from "../../src/cli/args.js";
import { CLI, makeCodexHome, REPO_ROOT, removeCodexHome } from "../support/env.js";
import { childEnv } from "../support/run.js";

let home: string | undefined;
afterEach(() => {
  if (home) removeCodexHome(home);
  home = undefined;
});

/** Runs `codex-auth ARGS` with `lines` on stdin (then EOF). */
function run(args: string[], lines: unknown[] = []) {
  home ??= makeCodexHome("appserver-cli");
  const r = spawnSync(process.execPath, [CLI, ...args], {
    env: childEnv(home),
    input: lines.map((l) => `${JSON.stringify(l)}\n`).join(""),
    encoding: "utf8",
    timeout: 30_000,
  });
  const messages = r.stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, messages };
}

const INIT = { id: 1, method: "initialize", params: { clientInfo: { name: "cli-test", version: "1" } } };
const API_KEY_LOGIN = {
  id: 2,
  method: "account/login/start",
  params: { type: "apiKey", apiKey: "sk-cli-1234567890" },
};

describe("codex-auth app-server (command)", () => {
  it("parses like the other commands", () => {
    expect(parseCommandLine(["app-server"])).toEqual({ kind: "app-server", overrides: [] });
    expect(parseCommandLine(["-c", "a=1", "app-server", "--config", "b=2"])).toEqual({
      kind: "app-server",
      overrides: ["a=1", "b=2"],
    });
    expect(parseCommandLine(["app-server", "--listen", "stdio://"])).toMatchObject({ kind: "app-server" });
    expect(parseCommandLine(["app-server", "--listen", "ws://127.0.0.1:1"])).toMatchObject({
      kind: "usage-error",
    });
    expect(parseCommandLine(["app-server", "--help"])).toEqual({ kind: "help", topic: ["app-server"] });
  });

  it("help, and a usage error exits 2", () => {
    const help = run(["app-server", "--help"]);
    expect(help.stdout).toContain("Usage: codex-auth app-server");
    expect(help.code).toBe(0);
    const bad = run(["app-server", "--bogus"]);
    expect(bad.stderr).toContain("Unknown option '--bogus'");
    expect(bad.code).toBe(2);
    expect(run(["--help"]).stdout).toContain("app-server");
  });

  it("-c overrides apply, given after the command (fast path) or before it (through the CLI)", () => {
    for (const args of [
      ["app-server", "-c", 'forced_login_method="chatgpt"'],
      ["-c", 'forced_login_method="chatgpt"', "app-server"],
    ]) {
      const r = run(args, [INIT, API_KEY_LOGIN]);
      expect(r.messages.find((m) => m.id === 2)).toEqual({
        id: 2,
        error: { code: -32600, message: "API key login is disabled. Use ChatGPT login instead." },
      });
      expect(r.code).toBe(0);
    }
  });

  it("invalid-config-starts-on-defaults: served on defaults, a configWarning right after initialize, exit 0", () => {
    home = makeCodexHome("appserver-cli-config");
    writeFileSync(join(home, "config.toml"), "forced_login_method = [\n");
    const r = run(["app-server"], [INIT]);
    expect(r.messages[0]).toMatchObject({ id: 1 });
    expect(r.messages[1]).toMatchObject({
      method: "configWarning",
      params: { summary: "Invalid configuration; using defaults.", path: join(home, "config.toml") },
    });
    expect(r.stderr).toContain("Invalid configuration; using defaults.");
    expect(r.code).toBe(0);
  });

  it("secrets-never-logged: the API key a client sends is not on stderr", () => {
    const r = run(
      ["app-server"],
      [INIT, API_KEY_LOGIN, { id: 3, method: "getAuthStatus", params: {} }, "{bad"],
    );
    expect(r.messages.find((m) => m.id === 2)).toMatchObject({ result: { type: "apiKey" } });
    expect(r.stderr).not.toContain("sk-cli-1234567890");
  });

  it("app-server-bundle-stays-out-of-the-cli: other commands never load it", () => {
    const cli = readFileSync(join(REPO_ROOT, "dist/cli.cjs"), "utf8");
    expect(cli).not.toContain("AppServerConnection");
    expect(cli).toContain('lazyRequire("./app-server.cjs")');
    expect(readFileSync(join(REPO_ROOT, "dist/app-server.cjs"), "utf8")).toContain("AppServerConnection");
  });
});
