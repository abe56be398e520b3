#!/usr/bin/env node
// Picks the smallest bundle that can run the command: compiling the CLI file
// is most of what a start costs beyond Node's own.
// - `codex-auth app-server` starts without the rest of the CLI (a long-lived
//   server's start-up is measured against `codex app-server`'s);
// - `codex-auth login status` (run on every request by some tools) loads a
//   bundle without the other commands;
// - everything else loads the full CLI.
const args = process.argv.slice(2);
if (args[0] === "app-server") require("../dist/app-server.cjs").runAppServerProcess(args.slice(1));
else require(isLoginStatus(args) ? "../dist/cli-status.cjs" : "../dist/cli.cjs");

/** `login status` with nothing but `-c`/`--config` overrides around it. */
function isLoginStatus(argv) {
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if ((arg === "-c" || arg === "--config") && i + 1 < argv.length) i++;
    else if (
      !(arg.startsWith("--config=") || (arg.startsWith("-c") && arg.length > 2 && !arg.startsWith("--")))
    )
      rest.push(arg);
  }
  return rest.length === 2 && rest[0] === "login" && rest[1] === "status";
}
