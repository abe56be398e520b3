// The main job: a sign-in end to end in a throwaway CODEX_HOME, printing what
// a user would see. Runs the built CLI exactly as a user would.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(root, "bin/codex-auth.js");
if (!existsSync(join(root, "dist/cli.js"))) {
  spawnSync(process.execPath, [join(root, "scripts/build.mjs")], { stdio: "inherit", cwd: root });
}
mkdirSync(join(root, ".tmp"), { recursive: true, mode: 0o700 });
const home = mkdtempSync(join(root, ".tmp", "demo-"));
const env = { ...process.env, CODEX_HOME: home };
delete env.CODEX_API_KEY;

function step(title, args, input) {
  console.log(`\n$ ${input === undefined ? "" : `printf '%s' "$OPENAI_API_KEY" | `}codex-auth ${args.join(" ")}`);
  const r = spawnSync(process.execPath, [cli, ...args], { env, input: input ?? "", encoding: "utf8" });
  for (const line of `${r.stdout}${r.stderr}`.split("\n").filter(Boolean)) console.log(`  ${line}`);
  console.log(`  [exit ${r.status}] ${title}`);
  return r.status;
}

console.log(`codex-auth demo — throwaway CODEX_HOME=${home}`);
let failed = 0;
failed += step("nothing stored yet", ["login", "status"]) === 1 ? 0 : 1;
failed += step("the key is read from stdin, never from argv", ["login", "--with-api-key"], "sk-demo-1234567890ABCDEFGH") === 0 ? 0 : 1;
failed += step("masked like codex", ["login", "status"]) === 0 ? 0 : 1;
failed += step("machine-readable, never a secret", ["status", "--json"]) === 0 ? 0 : 1;
failed += step("removes auth.json", ["logout"]) === 0 ? 0 : 1;
failed += step("back to the start", ["login", "status"]) === 1 ? 0 : 1;
rmSync(home, { recursive: true, force: true });
console.log(failed === 0 ? "\ndemo: OK" : `\ndemo: ${failed} step(s) did not behave as expected`);
process.exit(failed === 0 ? 0 : 1);
