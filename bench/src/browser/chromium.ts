/**
 * Chromium for the browser benchmark: Debian's binary driven by playwright-core (never a
 * downloaded browser), the benchmark page bundled by vite against the packages' built output,
 * and a static server for it on 127.0.0.1. The same setup as the e2e harness
 * (packages/client/e2e/harness.ts, which runs inside vitest from sources), except that profiles
 * live on disk: IndexedDB in an incognito-like context is kept in memory, which would flatter
 * load times.
 */
import { existsSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { spawn } from "node:child_process";
import { type Browser, type BrowserContext, chromium } from "playwright-core";

/** The Chromium binary: `CHROMIUM_PATH`, else Debian's `/usr/bin/chromium`. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const hasChromium = existsSync(chromiumPath);

// Headless Chromium as root on a machine without GPU or internet (see TOOLCHAIN.md).
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
 * Launches headless Chromium with its profile in `userDataDir` (on disk, like a real user's).
 *
 * @example
 * const context = await launchProfile(mkdtempSync(join(tmpdir(), "profile-")));
 */
export function launchProfile(userDataDir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    args: CHROMIUM_ARGS,
  });
}

/**
 * Launches headless Chromium with its profile in `userDataDir` and a DevTools port, and attaches
 * over CDP with `noDefaults`: Playwright's focus emulation, which keeps every page "visible" and
 * makes Chromium ignore `Page.setWebLifecycleState` freezes, stays off in the profile's context
 * (`browser.contexts()[0]`). `close` ends the browser process.
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

/**
 * Bundles a page of bench/src/browser (`page` by default, the load benchmark's) with vite,
 * minified as an app ships, resolving `@trellis/*` to their built `dist/` (run `pnpm run build`
 * first); returns a fresh folder holding `index.html`.
 */
export async function buildBenchPage(page = "page"): Promise<string> {
  const root = fileURLToPath(new URL(`../../src/browser/${page}/`, import.meta.url));
  const outDir = mkdtempSync(join(tmpdir(), "trellis-bench-page-"));
  const { build } = await import("vite");
  await build({
    configFile: false,
    root,
    logLevel: "warn",
    build: {
      outDir,
      emptyOutDir: true,
      target: "es2022",
      reportCompressedSize: false,
      // Node's fallback WebSocket; the browser has its own, so the dynamic import never runs.
      rollupOptions: { external: ["ws"] },
    },
  });
  return outDir;
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
};

/**
 * Serves a folder on 127.0.0.1 and a free port: a secure context, so IndexedDB and
 * `navigator.storage.estimate()` work.
 */
export async function serveDir(root: string): Promise<{ readonly url: string; close(): Promise<void> }> {
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
