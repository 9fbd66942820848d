// Remembers what a build was made from, so `npm start` can skip a build whose output is still
// current. A stamp pairs a hash of the build's inputs (file contents) with a fingerprint of its
// output folder (names, sizes and modification times): a changed input, or an output folder that
// is missing or was rewritten by another build (e.g. `pnpm run build` on another checkout), means
// the stamp no longer holds and the build runs again.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const STAMPS = join(ROOT, "node_modules/.cache/trellis-build");

/** Folders never read as inputs: installed packages, build output, tests run in a browser. */
const SKIPPED = new Set(["node_modules", "dist", "e2e"]);

/**
 * A hash of the contents of the given files and folders (recursively, leaving out
 * node_modules, dist, e2e and dot-files such as .svelte-kit), plus any extra strings.
 *
 * @example
 * hashInputs(["packages/core", "pnpm-lock.yaml"]); // "3f1a…"
 */
export function hashInputs(paths, extra = []) {
  const hash = createHash("sha256");
  for (const path of paths) {
    for (const file of listFiles(join(ROOT, path), true)) {
      hash.update(`${relative(ROOT, file)}\0`);
      hash.update(readFileSync(file));
      hash.update("\0");
    }
  }
  for (const value of extra) hash.update(`${value}\0`);
  return hash.digest("hex");
}

/**
 * Whether `dir` still holds the output of a build from `inputs`, as `writeStamp` recorded it.
 *
 * @example
 * if (!isStampCurrent("packages/core", hashInputs(["packages/core"]), "packages/core/dist")) build();
 */
export function isStampCurrent(name, inputs, dir) {
  const stamp = readStamps()[name];
  const output = fingerprint(dir);
  return output !== undefined && stamp?.inputs === inputs && stamp.output === output;
}

/**
 * Records that `dir` now holds the output of a successful build from `inputs`.
 *
 * @example
 * writeStamp("packages/core", inputs, "packages/core/dist");
 */
export function writeStamp(name, inputs, dir) {
  const stamps = readStamps();
  stamps[name] = { inputs, output: fingerprint(dir) };
  mkdirSync(STAMPS, { recursive: true });
  // Written aside, then renamed: a build running at the same time never reads half a file.
  const temporary = join(STAMPS, `stamps.${process.pid}.json`);
  writeFileSync(temporary, `${JSON.stringify(stamps, null, 2)}\n`);
  renameSync(temporary, join(STAMPS, "stamps.json"));
}

function readStamps() {
  try {
    return JSON.parse(readFileSync(join(STAMPS, "stamps.json"), "utf8"));
  } catch {
    return {};
  }
}

/** Names, sizes and modification times of the files under `dir`; undefined when it is empty or missing. */
function fingerprint(dir) {
  const files = listFiles(join(ROOT, dir), false);
  if (files.length === 0) return undefined;
  const hash = createHash("sha256");
  for (const file of files) {
    const { size, mtimeMs } = statSync(file);
    hash.update(`${relative(ROOT, file)}\0${size}\0${mtimeMs}\0`);
  }
  return hash.digest("hex");
}

/** Files under `path` (or `path` itself), sorted so the hash does not depend on the file system's order. */
function listFiles(path, isInput) {
  let entries;
  try {
    if (!statSync(path).isDirectory()) return [path];
    entries = readdirSync(path, { withFileTypes: true });
  } catch {
    return [];
  }
  const files = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (isInput && (entry.name.startsWith(".") || SKIPPED.has(entry.name))) continue;
    const child = join(path, entry.name);
    if (entry.isDirectory()) files.push(...listFiles(child, isInput));
    else if (entry.isFile()) files.push(child);
  }
  return files;
}
