// The main job: a ChatGPT sign-in end to end against the embedded development
// issuer, in a throwaway CODEX_HOME, printing what a user would see. Runs the
// built CLI exactly as a user would; every request stays on 127.0.0.1.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(root, "bin/codex-auth.cjs");
if (!existsSync(join(root, "dist/cli.cjs"))) {
  spawnSync(process.execPath, [join(root, "scripts/build.mjs")], { stdio: "inherit", cwd: root });
}
mkdirSync(join(root, ".tmp"), { recursive: true, mode: 0o700 });
const home = mkdtempSync(join(root, ".tmp", "demo-"));

// 1. The development issuer, approving sign-ins without a person (--auto-approve).
const issuer = spawn(process.execPath, [cli, "dev-issuer", "--port", "0", "--auto-approve"], {
  stdio: ["ignore", "pipe", "ignore"],
});
const lines = createInterface({ input: issuer.stdout });
const issuerUrl = await new Promise((resolve, reject) => {
  lines.once("line", resolve);
  issuer.once("exit", (code) => reject(new Error(`dev issuer exited early (${code})`)));
});
const issuerLog = [];
lines.on("line", (line) => issuerLog.push(JSON.parse(line)));

const env = {
  ...process.env,
  CODEX_HOME: home,
  CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${issuerUrl}/oauth/token`,
  CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${issuerUrl}/oauth/revoke`,
};
delete env.CODEX_API_KEY;

function step(title, args, { input, expect = 0, show = (s) => s } = {}) {
  console.log(`\n$ codex-auth ${args.join(" ")}${input === undefined ? "" : "   # key piped on stdin"}`);
  const r = spawnSync(process.execPath, [cli, ...args], { env, input: input ?? "", encoding: "utf8" });
  for (const line of show(`${r.stdout}${r.stderr}`).split("\n").filter(Boolean)) console.log(`  ${line}`);
  const ok = r.status === expect;
  console.log(`  [exit ${r.status}] ${title}${ok ? "" : `  <-- expected exit ${expect}`}`);
  return ok;
}

console.log(
  `codex-auth demo\n  development issuer: ${issuerUrl} (auto-approve)\n  throwaway CODEX_HOME: ${home}`,
);
const results = [
  step("nothing stored yet", ["login", "status"], { expect: 1 }),
  step("device-code sign-in (approved by the dev issuer at once)", [
    "login",
    "--device-auth",
    "--issuer",
    issuerUrl,
  ]),
  step("same words as codex", ["login", "status"]),
  step("for scripts; never a secret", ["status", "--json"]),
  step("a usable access token for scripts (shown shortened here)", ["token", "--json"], {
    show: (s) => s.replace(/"token":"([^"]{12})[^"]*"/, '"token":"$1…"'),
  }),
  step("revokes the refresh token, removes auth.json", ["logout"]),
  step("back to the start", ["login", "status"], { expect: 1 }),
];
issuer.kill("SIGTERM");
await new Promise((r) => issuer.once("exit", r));
console.log("\nWhat the issuer saw (method, path, outcome — never a secret):");
for (const e of issuerLog)
  console.log(
    `  ${e.method} ${e.path}${e.grant_type ? ` (${e.grant_type})` : ""} → ${e.status} ${e.outcome}`,
  );
rmSync(home, { recursive: true, force: true });
const failed = results.filter((ok) => !ok).length;
console.log(failed === 0 ? "\ndemo: OK" : `\ndemo: ${failed} step(s) did not behave as expected`);
process.exit(failed === 0 ? 0 : 1);
