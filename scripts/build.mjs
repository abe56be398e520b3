// Bundles the library and the CLI with esbuild. The CLI is one file so that
// `codex-auth login status` starts without resolving a module graph; heavy,
// rarely used parts (keyring binding, dev issuer) stay external and are
// loaded lazily with dynamic import().

import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { build } from "esbuild";

rmSync("dist", { recursive: true, force: true });
const common = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  sourcemap: false,
  legalComments: "none",
  logLevel: "warning",
};
await build({
  ...common,
  entryPoints: { index: "src/index.ts", cli: "src/cli/bin.ts", "dev-issuer": "src/dev-issuer/index.ts" },
  outdir: "dist",
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
});
execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], {
  stdio: "inherit",
});
