#!/usr/bin/env node
// `codex-auth app-server` starts without loading the rest of the CLI: a long-lived
// server's start-up is measured against `codex app-server`'s.
if (process.argv[2] === "app-server")
  require("../dist/app-server.cjs").runAppServerProcess(process.argv.slice(3));
else require("../dist/cli.cjs");
