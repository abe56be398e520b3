// Builds the package with esbuild.
// - The library (and its subpath exports: oauth, dev-issuer) as ESM with shared chunks.
// - The CLI as ONE CommonJS file: `codex-auth login status` runs on every
//   request of some tools, and Node 20's ESM loader costs about 1 ms per file;
//   modules the command does not use are initialised lazily inside the bundle.
//   The dev issuer (oidc-provider is ESM-only) stays a separate ESM file,
//   imported only by `codex-auth dev-issuer`.
// Then tsc emits the type declarations.
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { build } from "esbuild";

const { version } = JSON.parse(readFileSync("package.json", "utf8"));
rmSync("dist", { recursive: true, force: true });
const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  packages: "external",
  sourcemap: false,
  legalComments: "none",
  logLevel: "warning",
  define: { CODEX_AUTH_VERSION: JSON.stringify(version) },
};
await build({
  ...common,
  format: "esm",
  entryPoints: {
    index: "src/index.ts",
    oauth: "src/oauth/index.ts",
    "dev-issuer": "src/dev-issuer/index.ts",
  },
  outdir: "dist",
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
});
/** Keeps `import("../dev-issuer/index.js")` a real dynamic import of dist/dev-issuer.js. */
const devIssuerExternal = {
  name: "dev-issuer-external",
  setup(b) {
    b.onResolve({ filter: /\/dev-issuer\/index\.js$/ }, () => ({ path: "./dev-issuer.js", external: true }));
  },
};
/** Keeps `import("../app-server/cli.js")` a lazy require of dist/app-server.cjs. */
const appServerExternal = {
  name: "app-server-external",
  setup(b) {
    b.onResolve({ filter: /\/app-server\/cli\.js$/ }, () => ({ path: "./app-server.cjs", external: true }));
  },
};
const cjs = {
  ...common,
  format: "cjs",
  outExtension: { ".js": ".cjs" },
  outdir: "dist",
  define: { ...common.define, "import.meta.url": "__codexAuthModuleUrl" },
  banner: { js: 'const __codexAuthModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
};
// `codex-auth app-server` as one more CommonJS file: the CLI requires it on first use only.
await build({ ...cjs, entryPoints: { "app-server": "src/app-server/cli.ts" } });
await build({
  ...cjs,
  entryPoints: { cli: "src/cli/bin.ts" },
  define: { ...cjs.define, CODEX_AUTH_APP_SERVER_BUNDLE: JSON.stringify("./app-server.cjs") },
  plugins: [devIssuerExternal, appServerExternal],
});
/**
 * `codex-auth login status` runs on every request of some tools, and
 * compiling the CLI file is most of what it costs beyond Node's own start:
 * it gets a bundle of its own without the other commands (their modules are
 * replaced by a stub it never reaches). bin/codex-auth.cjs picks it for
 * `login status` only; one process never loads both bundles.
 */
const otherCommandsStubbed = {
  name: "other-commands-stubbed",
  setup(b) {
    b.onResolve({ filter: /^\.\/(logout|login|status|token)\.js$/ }, (args) =>
      args.importer.endsWith("src/cli/main.ts")
        ? { path: `${process.cwd()}/src/cli/elsewhere.ts` }
        : undefined,
    );
  },
};
await build({
  ...cjs,
  entryPoints: { "cli-status": "src/cli/bin.ts" },
  define: { ...cjs.define, CODEX_AUTH_APP_SERVER_BUNDLE: JSON.stringify("./app-server.cjs") },
  plugins: [devIssuerExternal, appServerExternal, otherCommandsStubbed],
});
execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], {
  stdio: "inherit",
});
