import { main } from "./main.js";

const exitCode = await main(process.argv.slice(2));
// Flush, then exit: a hung keyring call on the thread pool must not keep the CLI alive.
process.stdout.write("", () => process.exit(exitCode));
