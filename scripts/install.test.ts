// Installs the packages as a newcomer does before they are on npm (docs/install.md): the tarballs
// of `npm run pack` into a fresh project outside this workspace, with plain npm; type-checks the
// guide's `sync.ts` against the installed types, starts `npx trellis-server` from the installed
// package, and runs the program: two clients sync through it and it exits on its own.
import { execFileSync, spawn } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { fencedBlocks, markdownSection, shellCommands } from "../packages/client/src/testing/doc-shell.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const PACKED = join(ROOT, "dist-packages");
const guide = readFileSync(join(ROOT, "docs/install.md"), "utf8");
let project: string;
let server: ReturnType<typeof spawn> | undefined;

beforeAll(() => {
  // `npm test` packs before the tests; run alone, this packs the current build.
  if (!existsSync(PACKED) || readdirSync(PACKED).length === 0)
    execFileSync(process.execPath, [join(ROOT, "scripts/pack.mjs")], { stdio: "inherit" });
  project = mkdtempSync(join(tmpdir(), "trellis-install-"));
});

afterAll(() => {
  server?.kill("SIGTERM");
  rmSync(project, { recursive: true, force: true });
});

const npm = (args: readonly string[]) =>
  execFileSync("npm", [...args, "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], {
    cwd: project,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });

it(
  "installs from the tarballs with npm, type-checks the guide's program and syncs two clients through the installed server",
  { timeout: 240_000 },
  async () => {
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "first-sync", private: true, type: "module" }));
    const fromRepository = markdownSection(guide, "From this repository (until they are on npm)");
    const [, install] = fencedBlocks(fromRepository, "sh");
    const [command] = shellCommands(install!);
    // The guide's clone is beside the project; here it is this repository.
    const tarballs = [...command!.command.matchAll(/\.\.\/trellis\/(dist-packages\/\S+\.tgz)/g)].map((match) =>
      join(ROOT, match[1]!),
    );
    expect(tarballs.map((path) => path.split("/").at(-1))).toEqual([
      "trellis-core-0.1.0.tgz",
      "trellis-client-0.1.0.tgz",
      "trellis-server-0.1.0.tgz",
    ]);
    for (const tarball of tarballs) expect(existsSync(tarball), tarball).toBe(true);
    // better-sqlite3's own install script would compile it for a minute: the workspace's build of
    // the same version is copied in instead (its install is its own package's business).
    npm(["install", ...tarballs, "--ignore-scripts"]);
    const sqlite = dirname(
      createRequire(join(ROOT, "packages/server/package.json")).resolve("better-sqlite3/package.json"),
    );
    mkdirSync(join(project, "node_modules/better-sqlite3/build/Release"), { recursive: true });
    copyFileSync(
      join(sqlite, "build/Release/better_sqlite3.node"),
      join(project, "node_modules/better-sqlite3/build/Release/better_sqlite3.node"),
    );
    npm(["install", "-D", "typescript@5.9.3", "@types/node@20.19.43"]);

    // Installed as published: versions, not workspace ranges; the client's optional `ws` is there for Node 20.
    const installed = JSON.parse(readFileSync(join(project, "node_modules/@trellis/client/package.json"), "utf8"));
    expect(installed.dependencies["@trellis/core"]).toBe("0.1.0");
    expect(existsSync(join(project, "node_modules/ws/package.json"))).toBe(true);
    expect(existsSync(join(project, "node_modules/@trellis/server/dist/dashboard/index.html"))).toBe(true);

    // The guide's program, type-checked with the settings it names, types of the packages included.
    const [program] = fencedBlocks(markdownSection(guide, "A first sync"), "ts");
    writeFileSync(join(project, "sync.ts"), program!);
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { module: "nodenext", target: "es2022", strict: true, skipLibCheck: false, types: ["node"] },
        files: ["sync.ts"],
      }),
    );
    execFileSync("npx", ["tsc"], { cwd: project, encoding: "utf8" });

    // The installed server, as the guide starts it (on a free port here).
    server = spawn("npx", ["trellis-server", "--port", "0", "--data", "./data"], {
      cwd: project,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the server did not start:\n${output}`)), 30_000);
      const read = (chunk: Buffer) => {
        output += chunk.toString();
        const found = /listening on (http:\/\/\S+)/.exec(output)?.[1];
        if (found !== undefined) {
          clearTimeout(timer);
          resolve(found);
        }
      };
      server!.stdout!.on("data", read);
      server!.stderr!.on("data", read);
    });
    const printed = execFileSync(process.execPath, ["sync.js"], {
      cwd: project,
      encoding: "utf8",
      env: { ...process.env, TRELLIS_URL: url },
      timeout: 30_000,
    });
    const [, run] = fencedBlocks(markdownSection(guide, "A first sync"), "sh");
    expect(printed.trim()).toBe(shellCommands(run!)[0]!.expected.join("\n"));
  },
);
