// Builds the packages whose sources changed since their last successful build (and those that
// depend on them), and nothing when none did: `npm start` runs it, so a second start does not
// wait for a build. A package's inputs are its folder (without node_modules and dist), the
// lockfile, the root package.json and the TypeScript configs its build reads.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { hashInputs, isStampCurrent, writeStamp } from "./build-stamp.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const shared = ["pnpm-lock.yaml", "package.json", "tsconfig.json", "tsconfig.base.json"];

const packages = readdirSync(join(root, "packages"))
  .sort()
  .map((folder) => {
    const manifest = JSON.parse(readFileSync(join(root, "packages", folder, "package.json"), "utf8"));
    const ranges = { ...manifest.dependencies, ...manifest.devDependencies, ...manifest.peerDependencies };
    const workspace = Object.keys(ranges).filter((name) => String(ranges[name]).startsWith("workspace:"));
    return { name: manifest.name, dir: `packages/${folder}`, workspace };
  });
const byName = new Map(packages.map((entry) => [entry.name, entry]));

// A package's key covers its dependencies' keys too: their types and exports shape its build.
const keys = new Map();
const keyOf = (entry) => {
  if (!keys.has(entry.name)) {
    const dependencies = entry.workspace.filter((name) => byName.has(name)).map((name) => keyOf(byName.get(name)));
    keys.set(entry.name, hashInputs([entry.dir, ...shared], dependencies));
  }
  return keys.get(entry.name);
};

const stale = packages.filter((entry) => !isStampCurrent(entry.dir, keyOf(entry), `${entry.dir}/dist`));
if (stale.length === 0) {
  console.log("Packages are up to date with their sources: no build needed.");
  process.exit(0);
}

console.log(`Building ${stale.map((entry) => entry.name).join(", ")} (sources changed since their last build)…`);
const filters = stale.flatMap((entry) => ["--filter", entry.name]);
const build = spawnSync(process.execPath, [join(root, "scripts/pnpm.mjs"), ...filters, "run", "build"], {
  cwd: root,
  stdio: "inherit",
});
if (build.status !== 0) process.exit(build.status ?? 1);
for (const entry of stale) writeStamp(entry.dir, keyOf(entry), `${entry.dir}/dist`);
