/**
 * What the CLI says when something is wrong, as a new user met it: one
 * error naming the problem, on stderr, in Codex's words where Codex has
 * them, never a secret, and stored credentials unchanged.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findCodexBinary, makeCodexHome, removeCodexHome } from "../support/env.js";
import { runInProcess } from "../support/fake-io.js";
import { runCodexAsync } from "../support/run.js";

const codex = findCodexBinary();
const homes: string[] = [];
afterAll(() => {
  for (const h of homes) removeCodexHome(h);
});
function home(authJson?: string): string {
  const h = makeCodexHome("msg");
  homes.push(h);
  if (authJson !== undefined) writeFileSync(join(h, "auth.json"), authJson, { mode: 0o600 });
  return h;
}

const SECRET_KEY = "sk-proj-ARGV-SECRET-0123456789abcdef";

describe("usage errors never echo a credential passed on the command line", () => {
  it.each([
    [["login", "--with-api-key", SECRET_KEY]],
    [[SECRET_KEY]],
    [["login", "status", SECRET_KEY]],
    [["token", SECRET_KEY]],
  ])("%j", async (args) => {
    const h = home();
    const r = await runInProcess(args, { home: h });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("sk-p… (36 characters, not shown)");
    expect(r.stderr + r.stdout).not.toContain("SECRET");
  });

  it("short arguments are still named, as Codex names them", async () => {
    const r = await runInProcess(["frob"], { home: home() });
    expect(r.stderr).toContain("unrecognized subcommand 'frob'");
  });
});

describe("token: one error for credentials it cannot use, nothing printed as a token", () => {
  it("an empty stored API key is an error, not an empty line", async () => {
    const record = JSON.stringify({ auth_mode: "apikey", OPENAI_API_KEY: "" });
    const h = home(record);
    const r = await runInProcess(["token"], { home: h });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^Error: the stored API key in .* is empty; sign in again/);
    expect(readFileSync(join(h, "auth.json"), "utf8")).toBe(record);
  });

  it("an unreadable auth.json is one error naming the file (not also 'Not logged in'), bytes unchanged", async () => {
    const broken = '{"auth_mode":"apikey","OPENAI_API_KEY":"sk-live-SECRET';
    const h = home(broken);
    for (const args of [["token"], ["token", "--json"]]) {
      const r = await runInProcess(args, { home: h });
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr.trim().split("\n")).toEqual([
        expect.stringMatching(/^Error: .*auth\.json is not a valid auth record: invalid JSON/),
      ]);
      expect(r.stderr).not.toContain("SECRET");
    }
    expect(readFileSync(join(h, "auth.json"), "utf8")).toBe(broken);
  });
});

describe("status: the human report's error goes to stderr; --json keeps it in the report", () => {
  it("a broken auth.json", async () => {
    const h = home("{");
    const human = await runInProcess(["status"], { home: h });
    expect([human.code, human.stdout]).toEqual([1, ""]);
    expect(human.stderr).toMatch(/^Error: .*auth\.json is not a valid auth record/);
    const json = await runInProcess(["status", "--json"], { home: h });
    expect(JSON.parse(json.stdout).error.code).toBe("ERR_AUTH_FILE_MALFORMED");
  });
});

describe.runIf(codex)("-c overrides that cannot be parsed: Codex 0.169's words", () => {
  it.each([["x"], ["=x"], [" =1"]])("-c %j", async (override) => {
    const [a, b] = [home(), home()];
    const theirs = await runCodexAsync(codex!, ["login", "status", "-c", override], { home: a });
    const ours = await runInProcess(["login", "status", "-c", override], { home: b });
    expect({ code: ours.code, stderr: ours.stderr }).toEqual({ code: theirs.code, stderr: theirs.stderr });
  });
});

describe("usage errors still name options", () => {
  it("a long option name is not masked", async () => {
    const r = await runInProcess(["status", "--with-access-token"], { home: home() });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--with-access-token");
  });
});
