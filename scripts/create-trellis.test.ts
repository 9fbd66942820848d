// Starts an app as a newcomer does before the packages are on npm (packages/create-trellis/README.md):
// the scaffolder from its tarball, run with npx in a fresh folder outside this workspace, with the
// `@trellis/*` tarballs of `npm run pack`; then installs the app with plain npm, type-checks and
// builds it.
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const PACKED = join(ROOT, "dist-packages");
const SCAFFOLDER = join(PACKED, "create-trellis-0.1.0.tgz");
let folder: string;

beforeAll(() => {
  // `npm test` packs before the tests; run alone, this packs the current build.
  if (!existsSync(SCAFFOLDER)) execFileSync(process.execPath, [join(ROOT, "scripts/pack.mjs")], { stdio: "inherit" });
  folder = mkdtempSync(join(tmpdir(), "trellis-create-"));
});

afterAll(() => {
  rmSync(folder, { recursive: true, force: true });
});

const createTrellis = (args: readonly string[]) =>
  spawnSync("npx", ["--yes", "--package", SCAFFOLDER, "create-trellis", ...args], { cwd: folder, encoding: "utf8", env: { ...process.env, npm_config_loglevel: "error" } });
const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8"));

it("writes a React app from the tarball that installs with npm, type-checks and builds", { timeout: 240_000 }, () => {
  const created = createTrellis(["my-app", "--template", "react", "--tarballs", PACKED]);
  expect(created.stderr).toBe("");
  expect(created.status).toBe(0);
  for (const step of ["cd my-app", "npm install", "npm run server", "npm run dev"]) expect(created.stdout).toContain(step);

  const app = join(folder, "my-app");
  for (const file of [".gitignore", "index.html", "vite.config.ts", "tsconfig.json", "src/schema.ts", "src/trellis.ts", "src/app.tsx", "src/main.tsx"]) expect(existsSync(join(app, file)), file).toBe(true);
  const trellis = readFileSync(join(app, "src/trellis.ts"), "utf8");
  expect(trellis).toContain('appId: "my-app"');
  expect(trellis).toContain('import.meta.env.VITE_TRELLIS_URL ?? "http://127.0.0.1:8787"');

  // The versions the repository's React example runs on, pinned; the packages from the tarballs.
  const manifest = readJson(join(app, "package.json"));
  const example = readJson(join(ROOT, "examples/react-todo/package.json"));
  const ranges = { ...manifest.dependencies, ...manifest.devDependencies };
  expect(manifest.name).toBe("my-app");
  expect(manifest.scripts).toMatchObject({ dev: "vite", build: "vite build", server: "trellis-server --port 8787 --data ./data" });
  for (const name of ["react", "react-dom", "@types/react", "@types/react-dom", "vite", "@vitejs/plugin-react"]) expect(ranges[name], name).toBe({ ...example.dependencies, ...example.devDependencies }[name]);
  expect(ranges.typescript).toBe(readJson(join(ROOT, "package.json")).devDependencies.typescript);
  for (const name of ["core", "client", "react", "server"]) expect(ranges[`@trellis/${name}`]).toBe(`file:${join(PACKED, `trellis-${name}-0.1.0.tgz`)}`);

  // A second run into the same folder writes nothing.
  const again = createTrellis(["my-app"]);
  expect(again.status).toBe(1);
  expect(again.stderr).toContain("my-app is not empty");

  // better-sqlite3's own install script would compile it for a minute: the workspace's build of
  // the same version is copied in instead, as in install.test.ts.
  execFileSync("npm", ["install", "--ignore-scripts", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: app, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const sqlite = dirname(createRequire(join(ROOT, "packages/server/package.json")).resolve("better-sqlite3/package.json"));
  mkdirSync(join(app, "node_modules/better-sqlite3/build/Release"), { recursive: true });
  copyFileSync(join(sqlite, "build/Release/better_sqlite3.node"), join(app, "node_modules/better-sqlite3/build/Release/better_sqlite3.node"));
  expect(execFileSync("npx", ["trellis-server", "--version"], { cwd: app, encoding: "utf8" }).trim()).toContain("0.1.0");

  execFileSync("npx", ["tsc", "--noEmit"], { cwd: app, encoding: "utf8" });
  execFileSync("npm", ["run", "build", "--loglevel=error"], { cwd: app, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  expect(readFileSync(join(app, "dist/index.html"), "utf8")).toMatch(/<script type="module" crossorigin src="\/assets\/index-[\w-]+\.js">/);
  expect(readdirSync(join(app, "dist/assets")).some((file) => file.endsWith(".js"))).toBe(true);
});
