/**
 * Stands in for the commands other than `login status` in the start-up
 * bundle (`dist/cli-status.cjs`), which `bin/codex-auth.cjs` loads only for
 * `login status`: the full CLI bundle runs every other command.
 */
export function run(): never {
  throw new Error("this command is not part of the login-status bundle");
}
