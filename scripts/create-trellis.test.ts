// Starts apps as a newcomer does before the packages are on npm (packages/create-trellis/README.md):
// the scaffolder from its tarball, run with npx in a fresh folder outside this workspace, with the
// `@trellis/*` tarballs of `npm run pack`; then installs each app with plain npm, type-checks and
// builds it. The Next.js and SvelteKit apps are also served against their own `trellis-server`:
// its todos must be in the page's HTML, and the page must follow it live in Chromium.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { hasChromium, launchBrowser, recordPageOutput } from "../packages/client/e2e/harness.js";
import { type NodeApp, startNodeApp } from "../packages/client/e2e/node-app.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const PACKED = join(ROOT, "dist-packages");
const SCAFFOLDER = join(PACKED, "create-trellis-0.1.0.tgz");
// Next.js would otherwise send usage data over the network at build and start.
const ENV = { ...process.env, NEXT_TELEMETRY_DISABLED: "1", npm_config_loglevel: "error" };
let folder: string;

beforeAll(() => {
  // `npm test` packs before the tests; run alone, this packs the current build.
  if (!existsSync(SCAFFOLDER)) execFileSync(process.execPath, [join(ROOT, "scripts/pack.mjs")], { stdio: "inherit" });
  folder = mkdtempSync(join(tmpdir(), "trellis-create-"));
}, 120_000); // packing builds every tarball: tens of seconds on a busy machine

// Three apps' node_modules take tens of seconds to delete on a busy machine: a detached `rm`
// deletes them after the tests instead.
afterAll(() => {
  spawn("rm", ["-rf", folder], { detached: true, stdio: "ignore" }).unref();
});

const createTrellis = (args: readonly string[]) =>
  spawnSync("npx", ["--yes", "--package", SCAFFOLDER, "create-trellis", ...args], {
    cwd: folder,
    encoding: "utf8",
    env: ENV,
  });
const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8"));
const run = (command: string, args: readonly string[], cwd: string) =>
  execFileSync(command, args, { cwd, encoding: "utf8", env: ENV, stdio: ["ignore", "pipe", "pipe"] });

/**
 * Writes `name` from `template` and checks what every template gives: the next steps, the
 * `.gitignore`, the server script, the `@trellis/*` tarballs, and each other dependency pinned
 * to the version the repository's `example` (or, failing that, its root) runs on.
 */
function scaffold(
  template: string,
  name: string,
  example: string,
): { app: string; manifest: { scripts: Record<string, string> } } {
  const created = createTrellis([name, "--template", template, "--tarballs", PACKED]);
  expect(created.stderr).toBe("");
  expect(created.status).toBe(0);
  for (const step of [`cd ${name}`, "npm install", "npm run server", "npm run dev"])
    expect(created.stdout).toContain(step);

  const app = join(folder, name);
  expect(existsSync(join(app, ".gitignore"))).toBe(true);
  expect(readFileSync(join(app, "README.md"), "utf8")).toMatch(new RegExp(`^# ${name}\\n`));
  const manifest = readJson(join(app, "package.json"));
  expect(manifest.name).toBe(name);
  expect(manifest.scripts.server).toBe("trellis-server --port 8787 --data ./data");
  const ranges: Record<string, string> = { ...manifest.dependencies, ...manifest.devDependencies };
  const pinned = readJson(join(ROOT, example, "package.json"));
  const versions: Record<string, string> = {
    ...readJson(join(ROOT, "package.json")).devDependencies,
    ...pinned.dependencies,
    ...pinned.devDependencies,
  };
  for (const [dependency, range] of Object.entries(ranges)) {
    if (dependency.startsWith("@trellis/"))
      expect(range).toBe(`file:${join(PACKED, `trellis-${dependency.slice("@trellis/".length)}-0.1.0.tgz`)}`);
    else expect(range, dependency).toBe(versions[dependency]);
  }
  for (const dependency of ["@trellis/core", "@trellis/client", "@trellis/server"])
    expect(ranges[dependency], dependency).toBeDefined();
  return { app, manifest };
}

/**
 * `npm install` as a newcomer runs it, all apps sharing npm's one cache. better-sqlite3's own
 * install script would compile it for a minute: the workspace's build of the same version is
 * copied in instead, as in install.test.ts.
 */
function install(app: string): void {
  run("npm", ["install", "--ignore-scripts", "--prefer-offline", "--no-audit", "--no-fund"], app);
  const sqlite = dirname(
    createRequire(join(ROOT, "packages/server/package.json")).resolve("better-sqlite3/package.json"),
  );
  mkdirSync(join(app, "node_modules/better-sqlite3/build/Release"), { recursive: true });
  copyFileSync(
    join(sqlite, "build/Release/better_sqlite3.node"),
    join(app, "node_modules/better-sqlite3/build/Release/better_sqlite3.node"),
  );
  expect(run(process.execPath, [join(app, "node_modules/.bin/trellis-server"), "--version"], app).trim()).toContain(
    "0.1.0",
  );
}

/** The todo list's markup in a page (the page's data also holds the todos, elsewhere). */
const listIn = (html: string) => html.match(/<ul data-testid="todos"[^>]*>(.*?)<\/ul>/s)?.[1];

let browser: Promise<Awaited<ReturnType<typeof launchBrowser>>> | undefined;
afterAll(async () => {
  await (await browser)?.close();
});

/**
 * Runs the app's own `trellis-server` with a todo in it and the built app (`serve`) against it.
 * The page's HTML must hold the todo (the server-side preload); then, where Chromium is
 * installed, a todo added in one browser must show in another, and its tick come back, with no
 * error in either console.
 */
async function expectServed(
  app: string,
  appId: string,
  serve: (port: number) => readonly string[],
  portEnv: (port: number) => NodeJS.ProcessEnv = () => ({}),
): Promise<void> {
  const started: NodeApp[] = [];
  try {
    const server = await startNodeApp({
      name: "trellis-server",
      cwd: app,
      args: (port) => [
        join(app, "node_modules/.bin/trellis-server"),
        "--port",
        String(port),
        "--data",
        join(app, "data"),
      ],
    });
    started.push(server);
    const serverUrl = new URL(server.url).origin;
    // The app's own client, from its node_modules, writes the todo the page must preload.
    const seed = `
      import { createClient } from "@trellis/client";
      import { createSchema, t } from "@trellis/core";
      const schema = createSchema({ entities: { todos: { text: t.string({ fallback: "" }), done: t.boolean({ fallback: false }) } } });
      const client = createClient({ schema, serverUrl: ${JSON.stringify(serverUrl)}, appId: ${JSON.stringify(appId)}, userId: "seed", storage: "memory" });
      const { error } = await client.database.todos.create({ text: "seeded on the server", done: false });
      if (error) throw new Error(error.message);
      const deadline = Date.now() + 10_000;
      for (let now = client.connection.getCurrentState(); now.state !== "online" || now.pending > 0; now = client.connection.getCurrentState()) {
        if (Date.now() > deadline) throw new Error("the seed did not reach the server");
        await new Promise((done) => setTimeout(done, 20));
      }
      await client.close();`;
    execFileSync(process.execPath, ["--input-type=module", "-e", seed], {
      cwd: app,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const page = await startNodeApp({
      name: "the app",
      cwd: app,
      args: serve,
      env: (port) => ({ ...ENV, ...portEnv(port), TRELLIS_URL: serverUrl }),
      isGroup: true,
    });
    started.push(page);

    const response = await fetch(page.url);
    expect(response.status).toBe(200);
    expect(listIn(await response.text())).toContain("seeded on the server");
    if (!hasChromium) return;

    browser ??= launchBrowser();
    const [alice, bob] = await Promise.all([(await browser).newContext(), (await browser).newContext()]);
    try {
      const [pageA, pageB] = await Promise.all([alice.newPage(), bob.newPage()]);
      const outputs = [recordPageOutput(pageA), recordPageOutput(pageB)];
      // A page opens its sync socket once hydrated: typing or clicking before that would reach
      // the server-rendered form, not the app.
      const hydrated = [
        pageA.waitForEvent("websocket", { timeout: 30_000 }),
        pageB.waitForEvent("websocket", { timeout: 30_000 }),
      ];
      await Promise.all([pageA.goto(page.url), pageB.goto(page.url)]);
      await Promise.all(hydrated);
      await pageA.getByLabel("New todo").fill("added in a browser");
      await pageA.getByRole("button", { name: "Add" }).click();
      const added = (on: typeof pageA) =>
        on.getByTestId("todos").locator("li", { hasText: "added in a browser" }).locator("input");
      await added(pageB).check({ timeout: 15_000 });
      await expect.poll(() => added(pageA).isChecked(), { timeout: 10_000 }).toBe(true);
      expect(outputs.flatMap((output) => output.errors)).toEqual([]);
    } finally {
      await Promise.all([alice.close(), bob.close()]);
    }
  } finally {
    for (const child of started.reverse()) await child.stop();
  }
}

it("writes a React app from the tarball that installs with npm, type-checks and builds", { timeout: 120_000 }, () => {
  const { app, manifest } = scaffold("react", "my-app", "examples/react-todo");
  for (const file of [
    "index.html",
    "vite.config.ts",
    "tsconfig.json",
    "src/schema.ts",
    "src/trellis.ts",
    "src/app.tsx",
    "src/main.tsx",
  ])
    expect(existsSync(join(app, file)), file).toBe(true);
  const trellis = readFileSync(join(app, "src/trellis.ts"), "utf8");
  expect(trellis).toContain('appId: "my-app"');
  expect(trellis).toContain('import.meta.env.VITE_TRELLIS_URL ?? "http://127.0.0.1:8787"');
  expect(manifest.scripts).toMatchObject({ dev: "vite", build: "vite build" });

  // A second run into the same folder writes nothing.
  const again = createTrellis(["my-app"]);
  expect(again.status).toBe(1);
  expect(again.stderr).toContain("my-app is not empty");

  install(app);
  run("npm", ["run", "typecheck"], app);
  run("npm", ["run", "build"], app);
  expect(readFileSync(join(app, "dist/index.html"), "utf8")).toMatch(
    /<script type="module" crossorigin src="\/assets\/index-[\w-]+\.js">/,
  );
  expect(readdirSync(join(app, "dist/assets")).some((file) => file.endsWith(".js"))).toBe(true);
});

it(
  "writes a Next.js app that type-checks, builds, preloads its todos into the HTML and follows them live",
  { timeout: 200_000 },
  async () => {
    const { app, manifest } = scaffold("nextjs", "next-app", "examples/nextjs");
    for (const file of [
      "next.config.mjs",
      "tsconfig.json",
      "app/schema.ts",
      "app/layout.tsx",
      "app/page.tsx",
      "app/trellis-app.tsx",
      "app/todo-list.tsx",
    ])
      expect(existsSync(join(app, file)), file).toBe(true);
    expect(readFileSync(join(app, "app/page.tsx"), "utf8")).toContain('process.env.TRELLIS_APP_ID ?? "next-app"');
    expect(manifest.scripts).toMatchObject({ dev: "next dev", build: "next build", start: "next start" });
    // Next.js writes it on every build and dev start; the one it wrote is ignored, not shipped.
    expect(existsSync(join(app, "next-env.d.ts"))).toBe(false);
    expect(readFileSync(join(app, ".gitignore"), "utf8").split("\n")).toContain("next-env.d.ts");

    install(app);
    const tsconfig = readFileSync(join(app, "tsconfig.json"), "utf8");
    run("npm", ["run", "typecheck"], app);
    run("npm", ["run", "build"], app);
    expect(readFileSync(join(app, ".next/BUILD_ID"), "utf8")).toMatch(/\S/);
    expect(existsSync(join(app, "next-env.d.ts"))).toBe(true);
    // Next.js rewrites a tsconfig.json it disagrees with: the template's must be left as written.
    expect(readFileSync(join(app, "tsconfig.json"), "utf8")).toBe(tsconfig);

    await expectServed(app, "next-app", (port) => [
      join(app, "node_modules/next/dist/bin/next"),
      "start",
      "--hostname",
      "127.0.0.1",
      "--port",
      String(port),
    ]);
  },
);

it(
  "writes a SvelteKit app that type-checks, builds, preloads its todos into the HTML and follows them live",
  { timeout: 200_000 },
  async () => {
    const { app, manifest } = scaffold("sveltekit", "svelte-app", "examples/sveltekit");
    for (const file of [
      "svelte.config.js",
      "vite.config.ts",
      "tsconfig.json",
      "src/app.html",
      "src/lib/schema.ts",
      "src/lib/trellis.ts",
      "src/routes/+page.server.ts",
      "src/routes/+page.svelte",
    ])
      expect(existsSync(join(app, file)), file).toBe(true);
    expect(readFileSync(join(app, "src/lib/server/settings.ts"), "utf8")).toContain(
      'env.TRELLIS_APP_ID ?? "svelte-app"',
    );
    expect(manifest.scripts).toMatchObject({ build: "svelte-kit sync && vite build", start: "node build/index.js" });

    install(app);
    expect(run("npm", ["run", "check"], app)).toContain("svelte-check found 0 errors and 0 warnings");
    run("npm", ["run", "build"], app);
    expect(existsSync(join(app, "build/index.js"))).toBe(true);
    expect(readdirSync(join(app, "build/client/_app/immutable/entry")).some((file) => file.endsWith(".js"))).toBe(true);

    // adapter-node's server takes its port and address from the environment.
    await expectServed(
      app,
      "svelte-app",
      () => [join(app, "build/index.js")],
      (port) => ({ PORT: String(port), HOST: "127.0.0.1" }),
    );
  },
);
