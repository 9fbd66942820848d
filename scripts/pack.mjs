// Writes an installable tarball of every package to dist-packages/ (see docs/install.md), from
// the packages' build output: pnpm rewrites `workspace:*` ranges to the versions and applies each
// package's `publishConfig` (its exports without the repository's source condition and test
// helpers). Then checks each tarball as npm would publish it: `publint` on its contents and
// `@arethetypeswrong/cli` on its types. Exits non-zero on any problem.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist-packages");
const packages = readdirSync(join(root, "packages")).sort();
const bin = (name) => join(root, "node_modules/.bin", name);
const pnpm = [process.execPath, join(root, "scripts/pnpm.mjs")];

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
for (const name of packages) {
  const dir = join(root, "packages", name);
  if (!readdirSync(join(dir, "dist")).length)
    throw new Error(`packages/${name}/dist is empty: run \`npm run build\` first.`);
  execFileSync(pnpm[0], [pnpm[1], "pack", "--pack-destination", out], {
    cwd: dir,
    stdio: ["ignore", "ignore", "inherit"],
  });
}
const tarballs = readdirSync(out)
  .filter((file) => file.endsWith(".tgz"))
  .sort();
let failed = false;
for (const tarball of tarballs) {
  const path = join(out, tarball);
  const manifest = JSON.parse(execFileSync("tar", ["-xzOf", path, "package/package.json"], { encoding: "utf8" }));
  const problems = [];
  const ranges = { ...manifest.dependencies, ...manifest.optionalDependencies, ...manifest.peerDependencies };
  for (const [dependency, range] of Object.entries(ranges))
    if (String(range).startsWith("workspace:")) problems.push(`${dependency} is still ${range}`);
  const files = execFileSync("tar", ["-tzf", path], { encoding: "utf8" }).split("\n");
  if (!files.includes("package/LICENSE")) problems.push("no LICENSE");
  if (!files.includes("package/README.md")) problems.push("no README.md");
  const helpers = files.filter((file) => /\/(testing|test-components)\/|\.test\.|\/(testing|storm)\.js$/.test(file));
  if (helpers.length > 0) problems.push(`test helpers shipped: ${helpers.slice(0, 3).join(", ")}`);
  if (JSON.stringify(manifest.exports ?? {}).includes("@trellis/source"))
    problems.push("exports still name the source condition");
  try {
    execFileSync(bin("publint"), [path, "--strict"], { stdio: "pipe" });
    execFileSync(bin("attw"), [path, "--profile", "esm-only", "--format", "ascii"], { stdio: "pipe" });
  } catch (error) {
    problems.push(`${error.stdout ?? ""}${error.stderr ?? ""}`.trim());
  }
  if (problems.length > 0) failed = true;
  console.log(
    `${problems.length === 0 ? "ok " : "BAD"} dist-packages/${tarball}${problems.length === 0 ? "" : `\n    ${problems.join("\n    ")}`}`,
  );
}
if (failed) process.exit(1);
console.log(
  `packages: ${tarballs.length} tarballs in dist-packages/, publint and attw pass (version ${JSON.parse(readFileSync(join(root, "packages/core/package.json"), "utf8")).version})`,
);
