// Packs codex-auth (`npm pack`) and installs the tarball into an empty folder
// outside the repository, the way a user's project gets it — without network
// access, so it also runs inside CI's loopback-only namespace.
//
// Offline is the hard part: `npm install ./codex-auth-X.tgz` resolves the
// tarball's dependencies through registry metadata, which `npm ci` (CI's
// install) never caches. So the consumer gets a lockfile instead, made from
// this repository's: every non-dev package at the version the repo pinned,
// with its registry tarball URL and integrity. `npm ci --offline` then takes
// each tarball from the npm cache by its integrity (the cache `npm ci` in
// the repository filled). Dev dependencies are left out on purpose: one that
// the package needs at run time fails the consumer.
//
//   node scripts/pack-consumer.mjs DIR     packs, installs into DIR (must not exist or be empty), prints DIR
//
// Used by test/e2e/packaging.test.ts and bench/install.mjs.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = dirname(dirname(fileURLToPath(import.meta.url)));

/** This environment minus npm's `npm_*` variables (set when run under `npm test`), which would leak the repo's config. */
export function npmEnv(extra = {}) {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.toLowerCase().startsWith("npm_")) delete env[key];
  return { ...env, ...extra };
}

/** Runs npm; returns { status, stdout, stderr, ms }. */
export function npm(args, cwd, env = npmEnv()) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync("npm", args, { cwd, env, encoding: "utf8", timeout: 300_000 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "", error: r.error, ms };
}

/**
 * `npm pack` of the repository as it is (dist/ must be built: `--ignore-scripts`
 * keeps `prepare` from rebuilding it under tests that are using it).
 *
 * @returns the tarball's path and the files it holds.
 */
export function packTarball(dest, repo = REPO) {
  mkdirSync(dest, { recursive: true });
  const r = npm(["pack", "--ignore-scripts", "--json", "--pack-destination", dest], repo);
  if (r.status !== 0) throw new Error(`npm pack failed (${r.status}): ${r.stderr}`);
  const [info] = JSON.parse(r.stdout);
  return { path: join(dest, info.filename), files: info.files.map((f) => f.path) };
}

/** The npm registry URL, as configured (tarball URLs in the consumer's lockfile). */
function registry() {
  try {
    return execFileSync("npm", ["config", "get", "registry"], { env: npmEnv(), encoding: "utf8" })
      .trim()
      .replace(/\/$/, "");
  } catch {
    return "https://registry.npmjs.org";
  }
}

/**
 * Writes `dir/package.json` and `dir/package-lock.json` for a project that
 * depends on the tarball only (copied into `dir`), its dependency tree taken
 * from `lock` (default: this repository's package-lock.json) without dev
 * packages. `pkg` supplies the tarball's `dependencies` (default: the
 * repository's package.json). `allowScripts` becomes the consumer's policy.
 */
export function writeConsumer(dir, tarball, { lock, pkg, allowScripts } = {}) {
  mkdirSync(dir, { recursive: true });
  lock ??= JSON.parse(readFileSync(join(REPO, "package-lock.json"), "utf8"));
  pkg ??= JSON.parse(readFileSync(join(REPO, "package.json"), "utf8"));
  const file = basename(tarball);
  copyFileSync(tarball, join(dir, file));
  const integrity = `sha512-${createHash("sha512").update(readFileSync(tarball)).digest("base64")}`;
  const spec = `file:${file}`;
  const base = registry();
  const packages = {
    "": { name: "codex-auth-consumer", dependencies: { "codex-auth": spec } },
    "node_modules/codex-auth": {
      version: pkg.version,
      resolved: spec,
      integrity,
      license: pkg.license,
      dependencies: pkg.dependencies,
      bin: pkg.bin,
      engines: pkg.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === "" || entry.dev || !path.startsWith("node_modules/")) continue;
    const { devOptional: _, ...kept } = entry;
    const name = path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length);
    kept.resolved ??= `${base}/${name}/-/${name.split("/").pop()}-${entry.version}.tgz`;
    packages[path] = kept;
  }
  const manifest = { name: "codex-auth-consumer", private: true, dependencies: { "codex-auth": spec } };
  if (allowScripts) manifest.allowScripts = allowScripts;
  writeFileSync(join(dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(
    join(dir, "package-lock.json"),
    `${JSON.stringify({ name: manifest.name, lockfileVersion: 3, requires: true, packages }, null, 2)}\n`,
  );
}

/** `npm ci` in the consumer, offline; with `ignoreScripts` (default true) no install script runs. */
export function installConsumer(dir, { ignoreScripts = true } = {}) {
  const args = ["ci", "--offline", "--no-audit", "--no-fund", "--loglevel=error"];
  if (ignoreScripts) args.push("--ignore-scripts");
  const r = npm(args, dir);
  if (r.status !== 0) throw new Error(`npm ${args.join(" ")} failed in ${dir} (${r.status}): ${r.stderr}`);
  return r;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = resolve(process.argv[2] ?? "");
  if (!process.argv[2]) throw new Error("usage: node scripts/pack-consumer.mjs DIR");
  mkdirSync(dir, { recursive: true });
  if (readdirSync(dir).length > 0) throw new Error(`${dir} is not empty`);
  const { path } = packTarball(join(dir, ".pack"));
  writeConsumer(dir, path);
  installConsumer(dir);
  console.log(dir);
}
