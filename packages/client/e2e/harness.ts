// End-to-end harness: Debian's Chromium (driven by playwright-core, never a downloaded browser),
// the test app in packages/client/e2e/app bundled from source, a static server for it on
// 127.0.0.1 and a real `trellis-server` process. See docs/design/012-browser-tests.md.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, extname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { removeDataDir, type ServerProcess, startServerProcess, tempDataDir } from "@trellis/server/testing";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect } from "vitest";
import type { StartOptions } from "./app/test-app.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const APP_DIR = join(HERE, "app");
const REPO_ROOT = resolve(HERE, "../../..");

/** The Chromium binary: `CHROMIUM_PATH`, else Debian's `/usr/bin/chromium`. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** Whether {@link chromiumPath} exists; without it browser tests fail under CI and skip elsewhere. */
export const hasChromium = existsSync(chromiumPath);
const isCI =
  process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false" && process.env.CI !== "0";
const MISSING_CHROMIUM =
  `Chromium not found at ${chromiumPath}. Install it with \`apt-get install -y chromium\` ` +
  "(.ci/run does) or set CHROMIUM_PATH; never `playwright install`.";

/**
 * `describe` for browser tests: runs them when Chromium is installed or under CI (where a
 * missing Chromium then fails in {@link launchBrowser}); elsewhere skips them with a warning.
 *
 * @example
 * describeBrowser("sync between tabs", () => { const env = useBrowserEnv(); it(…) });
 */
export function describeBrowser(name: string, body: () => void): void {
  describe.skipIf(!hasChromium && !isCI)(name, body);
}
if (!hasChromium && !isCI) console.warn(`\n⚠️  SKIPPING BROWSER TESTS: ${MISSING_CHROMIUM}\n`);

// Flags for headless Chromium as root on a machine without GPU or internet (see TOOLCHAIN.md).
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Launches headless Chromium (one per test file: call it in `beforeAll`, close it in `afterAll`).
 * Each `browser.newContext()` is a fresh profile, like another user or machine.
 *
 * @example
 * const browser = await launchBrowser();
 * const context = await browser.newContext();
 */
export async function launchBrowser(): Promise<Browser> {
  if (!hasChromium) throw new Error(MISSING_CHROMIUM);
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS });
}

/**
 * Launches headless Chromium with its profile in `userDataDir` and a DevTools port, and attaches
 * over CDP with `noDefaults`: Playwright's focus emulation, which keeps every page "visible" and
 * makes Chromium ignore `Page.setWebLifecycleState` freezes, stays off in the profile's context
 * (`browser.contexts()[0]`). `close` ends the browser process and waits until it stopped writing
 * to the profile.
 *
 * @example
 * const { browser, close } = await launchOverCdp(mkdtempSync(join(tmpdir(), "profile-")));
 */
export async function launchOverCdp(
  userDataDir: string,
): Promise<{ readonly browser: Browser; close(): Promise<void> }> {
  const child = spawn(
    chromiumPath,
    ["--headless", ...CHROMIUM_ARGS, "--remote-debugging-port=0", `--user-data-dir=${userDataDir}`, "about:blank"],
    {
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  // Its helper processes share its stderr: once that closes, none of them writes to the profile any more.
  const closed = new Promise((resolve) => child.once("close", resolve));
  const endpoint = await new Promise<string>((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`Chromium gave no DevTools endpoint: ${output}`)), 30_000);
    child.stderr!.on("data", (chunk: Buffer) => {
      output += String(chunk);
      const found = /DevTools listening on (ws:\/\/\S+)/.exec(output);
      if (found === null) return;
      clearTimeout(timer);
      resolve(found[1]!);
    });
    child.once("exit", (code) => reject(new Error(`Chromium exited (${code}): ${output}`)));
  });
  const browser = await chromium.connectOverCDP(endpoint, { noDefaults: true });
  return {
    browser,
    async close() {
      await browser.close();
      // Closing a browser attached over CDP only disconnects.
      if (child.exitCode === null && child.signalCode === null) child.kill();
      await closed;
    },
  };
}

/** Every input of the bundle: the app, the packages it bundles from source, and the lockfile. */
function sourceHash(): string {
  const hash = createHash("sha256");
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (!/\.test(-d)?\.ts$/.test(entry.name)) hash.update(relative(REPO_ROOT, path)).update(readFileSync(path));
    }
  };
  walk(APP_DIR);
  walk(join(REPO_ROOT, "packages/core/src"));
  walk(join(REPO_ROOT, "packages/client/src"));
  hash.update(readFileSync(join(REPO_ROOT, "pnpm-lock.yaml")));
  return hash.digest("hex").slice(0, 16);
}

let built: Promise<string> | undefined;

/**
 * Bundles the test app (e2e/app) with vite, resolving `@trellis/*` from their TypeScript
 * sources, and returns the folder holding `index.html` and its assets. Builds at most once per
 * change of the sources: the output is cached under node_modules/.cache/trellis-e2e, keyed by a
 * hash of its inputs, so the test files of one run (separate workers) share one build.
 */
export function buildTestApp(): Promise<string> {
  built ??= (async () => {
    const cacheRoot = join(REPO_ROOT, "node_modules/.cache/trellis-e2e");
    const outDir = join(cacheRoot, sourceHash());
    if (existsSync(join(outDir, "index.html"))) return outDir;
    // Build beside the final folder and rename: workers building at once never see half a bundle.
    const tempDir = `${outDir}.${process.pid}.tmp`;
    mkdirSync(cacheRoot, { recursive: true });
    const { build } = await import("vite");
    await build({
      configFile: false,
      root: APP_DIR,
      logLevel: "warn",
      resolve: { conditions: ["@trellis/source", "browser", "module", "import", "default"] },
      build: {
        outDir: tempDir,
        emptyOutDir: true,
        target: "es2022",
        minify: false,
        sourcemap: true,
        reportCompressedSize: false,
        // Node's fallback WebSocket; the browser has its own, so the dynamic import never runs.
        rollupOptions: { external: ["ws"] },
      },
    });
    try {
      renameSync(tempDir, outDir);
    } catch (error) {
      if (!existsSync(join(outDir, "index.html"))) throw error;
      rmSync(tempDir, { recursive: true, force: true }); // another worker won the race
    }
    for (const old of readdirSync(cacheRoot)) {
      const path = join(cacheRoot, old);
      if (path !== outDir && !old.endsWith(".tmp") && Date.now() - statSync(path).mtimeMs > 60 * 60_000) {
        rmSync(path, { recursive: true, force: true });
      }
    }
    return outDir;
  })();
  return built;
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

/** A static HTTP server for the built app. */
export interface AppServer {
  /** "http://127.0.0.1:<port>/": a secure context, so IndexedDB, BroadcastChannel and Web Locks work. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves the built test app (see {@link buildTestApp}) on 127.0.0.1 and a free port.
 *
 * @example
 * const app = await serveTestApp();
 * await page.goto(app.url);
 */
export async function serveTestApp(dir?: string): Promise<AppServer> {
  const root = dir ?? (await buildTestApp());
  const server = createServer((request, response) => {
    const pathname = decodeURIComponent(new URL(request.url ?? "/", "http://localhost").pathname);
    const file = resolve(root, `.${pathname.endsWith("/") ? `${pathname}index.html` : pathname}`);
    if (!file.startsWith(root + sep) || !existsSync(file) || !statSync(file).isFile()) {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    response.writeHead(200, {
      "content-type": CONTENT_TYPES[extname(file)] ?? "application/octet-stream",
      "cache-control": "no-store",
    });
    response.end(readFileSync(file));
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

const consoleLogs = new WeakMap<Page, string[]>();
const startOptions = new WeakMap<Page, StartOptions>();

/**
 * Records the page's console errors and uncaught exceptions from now on (idempotent); read them
 * with {@link consoleErrors}. {@link openApp} calls it for every page it opens.
 */
export function watchConsole(page: Page): string[] {
  let errors = consoleLogs.get(page);
  if (errors !== undefined) return errors;
  const list: string[] = [];
  consoleLogs.set(page, list);
  page.on("console", (message) => {
    if (message.type() === "error") list.push(`console.error: ${message.text()}`);
  });
  page.on("pageerror", (error) => list.push(`uncaught: ${error.stack ?? error.message}`));
  errors = list;
  return errors;
}

/**
 * Every console message of a page from now on, and its errors: console errors, uncaught
 * exceptions and failed responses (what the examples' hydration checks read).
 */
export function recordPageOutput(page: Page): { readonly messages: string[]; readonly errors: string[] } {
  const messages: string[] = [];
  const errors: string[] = [];
  page.on("console", (message) => {
    messages.push(`${message.type()}: ${message.text()}`);
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(`uncaught: ${error.stack ?? error.message}`));
  page.on(
    "response",
    (response) => void (response.status() >= 400 && errors.push(`HTTP ${response.status()}: ${response.url()}`)),
  );
  return { messages, errors };
}

/** The console errors and uncaught exceptions seen on a page opened by {@link openApp}. */
export function consoleErrors(page: Page): readonly string[] {
  return consoleLogs.get(page) ?? [];
}

/** What {@link openApp} needs: where the app is served, plus `window.app.start`'s options. */
export interface OpenAppOptions extends StartOptions {
  /** The static server's url, from {@link serveTestApp}. */
  readonly appUrl: string;
}

/**
 * Opens a new tab in `context`, loads the test app and starts its client (`window.app.start`).
 * Console errors are collected from the start (see {@link consoleErrors}); `beforeStart` may
 * attach listeners of its own before the page loads.
 *
 * @example
 * const page = await openApp(context, { appUrl: env.appUrl, serverUrl: env.server.url, appId: "todos-1", userId: "ada" });
 * await page.evaluate(() => window.app.createTodo("milk"));
 */
export async function openApp(
  context: BrowserContext,
  options: OpenAppOptions,
  beforeStart?: (page: Page) => void,
): Promise<Page> {
  const page = await context.newPage();
  watchConsole(page);
  beforeStart?.(page);
  await startApp(page, options);
  return page;
}

async function startApp(page: Page, { appUrl, ...start }: OpenAppOptions): Promise<void> {
  await page.goto(appUrl);
  await page.waitForFunction(() => window.app !== undefined);
  await page.evaluate((options) => void window.app.start(options), start);
  startOptions.set(page, { appUrl, ...start } as OpenAppOptions);
}

/**
 * Reloads a tab opened by {@link openApp} and starts its client again with the same options, as a
 * user reloading the app would (whatever the client persisted survives; memory does not).
 */
export async function reloadApp(page: Page): Promise<void> {
  const options = startOptions.get(page) as OpenAppOptions | undefined;
  if (options === undefined) throw new Error("reloadApp: open the page with openApp() first.");
  await startApp(page, options);
}

/** Closes a tab: stops its client first (so it says goodbye), then closes the page. */
export async function closeApp(page: Page): Promise<void> {
  if (page.isClosed()) return;
  await page.evaluate(() => window.app?.stop()).catch(() => undefined);
  await page.close();
}

/**
 * Waits until `window.app.status()` (e.g. "online/0") satisfies the test, for tabs started by
 * {@link openApp}; by default until the client is online with nothing pending.
 */
export async function waitForStatus(page: Page, expected = "online/0", timeoutMs = 15_000): Promise<void> {
  await page.waitForFunction((want) => window.app.client !== undefined && window.app.status() === want, expected, {
    timeout: timeoutMs,
  });
}

/** The shared fixtures of a browser test file, set up by {@link useBrowserEnv}. */
export interface BrowserEnv {
  readonly browser: Browser;
  /** A `trellis-server` process on 127.0.0.1 with a fresh data folder. */
  readonly server: ServerProcess;
  /** The test app's url on the static server. */
  readonly appUrl: string;
  /** A fresh app id for a test, so tests on the shared server do not see each other's data. */
  newAppId(): string;
  /** A fresh browser context (profile), closed after the test. */
  newContext(): Promise<BrowserContext>;
  /**
   * Opens the app in a new tab of `context` (see {@link openApp}); after the test the tab is
   * closed and its console must have stayed free of errors.
   */
  open(
    context: BrowserContext,
    options: Omit<OpenAppOptions, "appUrl">,
    beforeStart?: (page: Page) => void,
  ): Promise<Page>;
  /** Leaves a tab out of the after-test checks (it closed, or logs errors on purpose). */
  forget(page: Page): void;
}

/** Options of {@link useBrowserEnv}. */
export interface BrowserEnvOptions {
  /** Console errors the test file expects, such as Chromium's own for a refused connection. */
  readonly ignoreConsole?: RegExp;
  /** Permission rules for the server (`trellis-server --permissions`); none by default. */
  readonly permissions?: object;
}

/** A `trellis-server` process, with the rules given written next to its data (none: no rules). */
function startServer(permissions: object | undefined): Promise<ServerProcess> {
  if (permissions === undefined) return startServerProcess();
  const dataDir = tempDataDir();
  const file = join(dataDir, "rules.json");
  writeFileSync(file, JSON.stringify(permissions));
  return startServerProcess({ dataDir, args: ["--permissions", file] });
}

/**
 * Registers `beforeAll`/`afterAll` hooks that launch Chromium, build and serve the test app and
 * start a `trellis-server` process for the enclosing test file, and tear them down after it.
 * Read the fields inside tests (they are set once `beforeAll` ran).
 *
 * @example
 * describeBrowser("sync", () => {
 *   const env = useBrowserEnv();
 *   it("…", async () => { const context = await env.browser.newContext(); … });
 * });
 */
export function useBrowserEnv(options: BrowserEnvOptions = {}): BrowserEnv {
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  const pages: Page[] = [];
  let server: ServerProcess | undefined;
  let appServer: AppServer | undefined;
  let apps = 0;
  const prefix = `e2e-${process.pid}-${Date.now().toString(36)}`;

  beforeAll(async () => {
    // Settle all three so that whatever started is torn down even if another part failed.
    const [launched, started, served] = await Promise.allSettled([
      launchBrowser(),
      startServer(options.permissions),
      serveTestApp(),
    ]);
    if (launched.status === "fulfilled") browser = launched.value;
    if (started.status === "fulfilled") server = started.value;
    if (served.status === "fulfilled") appServer = served.value;
    for (const result of [launched, started, served]) if (result.status === "rejected") throw result.reason;
  }, 60_000);
  afterEach(async () => {
    const { ignoreConsole } = options;
    const errors = pages
      .flatMap((page) => consoleErrors(page))
      .filter((error) => ignoreConsole === undefined || !ignoreConsole.test(error));
    for (const page of pages.splice(0)) await closeApp(page);
    for (const context of contexts.splice(0)) await context.close();
    expect(errors, "the browser console stays free of errors").toEqual([]);
  });
  afterAll(async () => {
    await browser?.close();
    await appServer?.close();
    if (server !== undefined) {
      await server.stop();
      removeDataDir(server.dataDir);
    }
  });

  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error("useBrowserEnv: read the environment inside tests, after beforeAll.");
    return value;
  };
  return {
    get browser() {
      return ready(browser);
    },
    get server() {
      return ready(server);
    },
    get appUrl() {
      return ready(appServer).url;
    },
    newAppId: () => `${prefix}-${++apps}`,
    async newContext() {
      const context = await ready(browser).newContext();
      contexts.push(context);
      return context;
    },
    async open(context, start, beforeStart) {
      const page = await openApp(context, { appUrl: ready(appServer).url, ...start }, beforeStart);
      pages.push(page);
      return page;
    },
    forget(page) {
      const index = pages.indexOf(page);
      if (index >= 0) pages.splice(index, 1);
    },
  };
}
