/**
 * The package as users get it (issue 11, item 7): `npm pack`, then
 * `npm ci --offline --ignore-scripts` of the tarball into an empty folder
 * outside the repository (scripts/pack-consumer.mjs: no network, so it runs
 * in CI's loopback-only namespace), then the installed CLI and two small
 * programs — ESM and CommonJS — against the installed dev issuer. Catches a
 * file missing from `files`, a dev dependency needed at run time, and any
 * install step (a native build) the package would need.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installConsumer, npmEnv, packTarball, writeConsumer } from "../../scripts/pack-consumer.mjs";
import { REPO_ROOT } from "../support/env.js";

const version = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).version as string;
let root: string;
let consumer: string;
let home: string;
let files: string[];
let issuer: ChildProcess | undefined;
let issuerUrl: string;

beforeAll(() => {
  if (!existsSync(join(REPO_ROOT, "dist", "index.js")))
    throw new Error("dist/ is not built: run `npm run build`");
  root = mkdtempSync(join(tmpdir(), "codex-auth-pack-"));
  consumer = join(root, "consumer");
  home = join(root, "codex-home");
  mkdirSync(home, { mode: 0o700 });
  const packed = packTarball(join(root, "tarball"));
  files = packed.files;
  writeConsumer(consumer, packed.path);
  installConsumer(consumer);
  for (const script of ["consumer.mjs", "consumer.cjs"])
    copyFileSync(join(REPO_ROOT, "test/fixtures/consumer", script), join(consumer, script));
}, 240_000);

afterAll(async () => {
  if (issuer && issuer.exitCode === null) {
    issuer.kill("SIGTERM");
    await new Promise((resolve) => issuer!.once("exit", resolve));
  }
  if (root) rmSync(root, { recursive: true, force: true });
});

/** The consumer's environment: no npm_* leaking from `npm test`, npm kept offline, its own CODEX_HOME. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e = npmEnv({ npm_config_offline: "true", CODEX_HOME: home, ...extra });
  for (const k of ["CODEX_API_KEY", "OPENAI_API_KEY", "CODEX_REFRESH_TOKEN_URL_OVERRIDE"]) delete e[k];
  e.CODEX_REVOKE_TOKEN_URL_OVERRIDE = "http://127.0.0.1:9/oauth/revoke";
  return e;
}

function run(command: string, args: string[], extra: Record<string, string> = {}) {
  const r = spawnSync(command, args, { cwd: consumer, env: env(extra), encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const npx = (...args: string[]) => run("npx", ["codex-auth", ...args]);

describe("the packed package, installed with --ignore-scripts outside the repository", () => {
  it("lives outside the repository", () => {
    expect(realpathSync(consumer).startsWith(`${realpathSync(REPO_ROOT)}/`)).toBe(false);
  });

  it("the tarball holds the built package: CLI, library, subpaths, types; no sources or tests", () => {
    for (const f of [
      "package.json",
      "bin/codex-auth.cjs",
      "dist/cli.cjs",
      "dist/index.js",
      "dist/oauth.js",
      "dist/dev-issuer.js",
      "dist/types/index.d.ts",
    ])
      expect(files).toContain(f);
    expect(files.filter((f) => /^(src|test|bench|scripts)\//.test(f))).toEqual([]);
  });

  it("needs no install script: the lock binding's prebuilt binary is used, nothing was compiled", () => {
    const binding = join(consumer, "node_modules/fs-ext-extra-prebuilt");
    expect(existsSync(binding)).toBe(true);
    expect(existsSync(join(binding, "build"))).toBe(false);
    expect(existsSync(join(consumer, "node_modules/fs-ext"))).toBe(false);
    const loaded = run("node", [
      "-e",
      'const b = require("fs-ext-extra-prebuilt"); process.stdout.write(b.getNativeModuleSource())',
    ]);
    expect(loaded).toMatchObject({ code: 0, stdout: "prebuilt" });
  });

  it("npx codex-auth --version and login status (nobody signed in yet)", () => {
    expect(npx("--version")).toMatchObject({ code: 0, stdout: `codex-auth ${version}\n` });
    expect(npx("login", "status")).toMatchObject({ code: 1, stderr: "Not logged in\n" });
  });

  it("the installed dev issuer starts, the installed CLI signs in at it with a device code, login status says ChatGPT", async () => {
    // The installed bin itself (not through npx, whose wrapper would not pass
    // on the SIGTERM that stops it: the issuer would outlive the test).
    issuer = spawn(
      join(consumer, "node_modules/.bin/codex-auth"),
      ["dev-issuer", "--port", "0", "--auto-approve"],
      {
        cwd: consumer,
        env: env(),
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stderr = "";
    issuer.stderr!.on("data", (d) => (stderr += d));
    const first = await new Promise<string>((resolve, reject) => {
      createInterface({ input: issuer!.stdout! }).once("line", resolve);
      issuer!.once("exit", (code) => reject(new Error(`dev issuer exited (${code}): ${stderr}`)));
    });
    issuerUrl = /https?:\/\/127\.0\.0\.1:\d+/.exec(first)?.[0] ?? "";
    expect(issuerUrl, first).not.toBe("");

    const login = npx("login", "--device-auth", "--issuer", issuerUrl);
    expect(login.code, login.stderr).toBe(0);
    expect(npx("login", "status")).toMatchObject({ code: 0, stderr: "Logged in using ChatGPT\n" });
  });

  it("an ESM program imports codex-auth and its subpaths, watches, and refreshes at the dev issuer", () => {
    const r = run("node", ["consumer.mjs"], { ISSUER: issuerUrl });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      mode: "chatgpt",
      email: "dev@example.com",
      plan: "pro",
      rotated: true,
      bearerIsStored: true,
      events: ["refreshed"],
    });
  });

  it("a CommonJS program loads codex-auth with import() and refreshes at the dev issuer", () => {
    const r = run("node", ["consumer.cjs"], { ISSUER: issuerUrl });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      mode: "chatgpt",
      email: "dev@example.com",
      plan: "pro",
      rotated: true,
      errorClassLoaded: true,
      packageJson: "codex-auth",
    });
    expect(npx("login", "status")).toMatchObject({ code: 0, stderr: "Logged in using ChatGPT\n" });
  });
});
