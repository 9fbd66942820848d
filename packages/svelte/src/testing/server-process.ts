/**
 * A real `trellis-server` process and the `ws` WebSocket for the jsdom tests. Under jsdom, Vite
 * serves modules as to a browser (`import.meta.url` is an http URL, `ws` is its browser stub), so
 * both load through Node's own loader. Test support only; not exported. Needs the build first.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { WebSocketConstructor } from "@trellis/client";
import { afterAll, beforeAll } from "vitest";

const packageDir = [join(process.cwd(), "packages/svelte"), process.cwd()].find((dir) =>
  existsSync(join(dir, "src/testing/server-process.ts")),
);
if (packageDir === undefined) throw new Error("Run the Svelte tests from the repository root or packages/svelte.");
const nativeRequire = createRequire(join(packageDir, "package.json"));

/** The `ws` package's WebSocket, for `createClient({ WebSocket })`. */
export const NodeWebSocket = nativeRequire("ws") as WebSocketConstructor;

interface Started {
  readonly url: string;
  stop(): Promise<void>;
  remove(): void;
}

/**
 * Starts the built server for a test file (beforeAll) and stops it (afterAll).
 *
 * @example
 * const server = useBuiltServer(); createClient({ schema, serverUrl: server.url, WebSocket: NodeWebSocket });
 */
export function useBuiltServer(): { readonly url: string } {
  let started: Started | undefined;
  beforeAll(async () => {
    const path = join(packageDir!, "../server/dist/testing.js");
    if (!existsSync(path))
      throw new Error("The built @trellis/server is missing: run `node scripts/pnpm.mjs run build` first.");
    // Node's loader (require of an ES module, Node >= 20.19), not Vite's.
    const testing = nativeRequire(path) as {
      startServerProcess(): Promise<{ url: string; dataDir: string; stop(): Promise<void> }>;
      removeDataDir(dir: string): void;
    };
    const server = await testing.startServerProcess();
    started = { url: server.url, stop: () => server.stop(), remove: () => testing.removeDataDir(server.dataDir) };
  });
  afterAll(async () => {
    await started?.stop();
    started?.remove();
  });
  return {
    get url() {
      if (started === undefined) throw new Error("useBuiltServer: read the url inside tests.");
      return started.url;
    },
  };
}
