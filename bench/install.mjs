// Install time of the packed package (issue 11): `npm ci` of the tarball
// into an empty consumer folder, offline from the npm cache (so the network
// does not decide the figure), with `--ignore-scripts` — against the same
// tarball with the dependency set before fs-ext-extra-prebuilt, where fs-ext
// 2.1.1 is compiled by node-gyp at install time (scripts allowed). Both sides
// install the same versions of everything else; runs are interleaved.

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { installConsumer, packTarball, writeConsumer } from "../scripts/pack-consumer.mjs";

/**
 * @param {object} h helpers from run.mjs: { section, goal, table, note, stats, num, repo, quick }
 */
export async function installTime(h) {
  await h.section(
    "Install time of the packed tarball: prebuilt lock binding vs fs-ext built by node-gyp",
    async () => {
      const root = mkdtempSync(join(h.repo, ".tmp", "bench-install-"));
      try {
        const { path: tarball } = packTarball(join(root, "tarball"));
        const variants = [
          { name: "codex-auth, --ignore-scripts (fs-ext-extra-prebuilt)", dir: join(root, "ours") },
        ];
        writeConsumer(variants[0].dir, tarball);
        variants.push({
          name: "codex-auth, install scripts run",
          dir: join(root, "ours-scripts"),
          scripts: true,
        });
        writeConsumer(variants[1].dir, tarball);

        const before = baseline(h.repo, root, tarball);
        if (before.error) h.note(`baseline not measured: ${before.error}`);
        else {
          variants.push({
            name: "before: fs-ext 2.1.1 compiled by node-gyp",
            dir: join(root, "before"),
            scripts: true,
            before: true,
          });
          writeConsumer(variants.at(-1).dir, before.tarball, {
            lock: before.lock,
            pkg: before.pkg,
            allowScripts: { "fs-ext": true },
          });
        }

        const rounds = h.quick ? 1 : 3;
        const samples = new Map(variants.map((v) => [v.name, []]));
        for (let round = 0; round < rounds; round++) {
          for (const v of variants) {
            try {
              const { ms } = installConsumer(v.dir, { ignoreScripts: !v.scripts });
              if (v.before && !existsSync(join(v.dir, "node_modules/fs-ext/build/Release")))
                throw new Error("fs-ext was not compiled: the figure would not be a node-gyp build");
              samples.get(v.name).push(ms);
            } catch (err) {
              h.note(`${v.name}: ${String(err.message).split("\n").slice(0, 3).join(" ")}`);
            }
          }
        }
        const ours = h.stats(samples.get(variants[0].name)).median;
        h.table(
          ["install (npm ci --offline, warm npm cache)", "runs", "median s", "min s", "× ours"],
          variants
            .filter((v) => samples.get(v.name).length > 0)
            .map((v) => {
              const s = h.stats(samples.get(v.name));
              return [
                v.name,
                s.n,
                h.num(s.median / 1000),
                h.num(s.min / 1000),
                `${(s.median / ours).toFixed(2)}×`,
              ];
            }),
        );
        h.note(
          "Same tarball and dependency versions on every line; only the flock binding and install scripts differ.",
        );
        const b = samples.get("before: fs-ext 2.1.1 compiled by node-gyp");
        if (b?.length) {
          h.goal(
            "install time, prebuilt --ignore-scripts ÷ node-gyp build of fs-ext",
            ours / h.stats(b).median,
            1,
            "lower",
            "×",
          );
        }
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
  );
}

/**
 * The tarball and lockfile as they were before the switch: the package.json
 * and package-lock.json of the last commit that still depended on fs-ext,
 * applied to today's tarball (repacked with that dependency set).
 */
function baseline(repo, root, tarball) {
  let commit;
  try {
    const changed = execFileSync("git", ["log", "--format=%H", "-1", '-G"fs-ext": "', "--", "package.json"], {
      cwd: repo,
      encoding: "utf8",
    }).trim();
    commit = `${changed}^`;
    const show = (file) =>
      JSON.parse(execFileSync("git", ["show", `${commit}:${file}`], { cwd: repo, encoding: "utf8" }));
    const oldPkg = show("package.json");
    if (!oldPkg.dependencies?.["fs-ext"]) return { error: `no fs-ext dependency found in ${commit}` };
    const lock = show("package-lock.json");
    const dir = join(root, "repack");
    mkdirSync(dir, { recursive: true });
    execFileSync("tar", ["-xzf", tarball, "-C", dir]);
    const pkgPath = join(dir, "package", "package.json");
    const pkg = JSON.parse(readFileSync(pkgPath, "utf8"));
    pkg.dependencies = oldPkg.dependencies;
    writeFileSync(pkgPath, `${JSON.stringify(pkg, null, 2)}\n`);
    const out = join(root, "before-tarball", "codex-auth-before.tgz");
    mkdirSync(join(root, "before-tarball"), { recursive: true });
    execFileSync("tar", ["-czf", out, "-C", dir, "package"]);
    return { tarball: out, lock, pkg };
  } catch (err) {
    return { error: `cannot rebuild the fs-ext dependency set (${commit ?? "no commit"}): ${err.message}` };
  }
}
