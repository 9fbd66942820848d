/**
 * A real `trellis-server` process, and the `ws` WebSocket, for the jsdom tests. Under jsdom,
 * Vite serves modules as to a browser (`import.meta.url` is an http URL, `ws` is its browser
 * stub, the global WebSocket mixes Node's and jsdom's events), so both are loaded with Node's
 * own loader instead. Test support only; not exported. Needs `pnpm run build` first.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { WebSocketConstructor } from "@trellis/client";
import type { ServerProcess } from "@trellis/server/testing";

export type { ServerProcess };

/** This package's folder: tests run from the repository root or from here. */
const packageDir = [join(process.cwd(), "packages/react"), process.cwd()].find((dir) =>
  existsSync(join(dir, "src/testing/server-process.ts")),
);
if (packageDir === undefined) throw new Error("Run the React tests from the repository root or packages/react.");
// Node's loader, not Vite's (Node >= 20.19 requires ES modules too).
const nativeRequire = createRequire(join(packageDir, "package.json"));

/** The `ws` package's WebSocket, for `createClient({ WebSocket })`. */
export const NodeWebSocket = nativeRequire("ws") as WebSocketConstructor;

/**
 * Starts the built server; resolves once it listens.
 *
 * @example
 * const server = await startBuiltServer(); createClient({ schema, serverUrl: server.url, WebSocket: NodeWebSocket }); await server.stop();
 */
export async function startBuiltServer(): Promise<ServerProcess & { readonly remove: () => void }> {
  const path = join(packageDir!, "../server/dist/testing.js");
  if (!existsSync(path))
    throw new Error("The built @trellis/server is missing: run `node scripts/pnpm.mjs run build` first.");
  const testing = nativeRequire(path) as typeof import("@trellis/server/testing");
  const server = await testing.startServerProcess();
  return Object.assign(server, { remove: () => testing.removeDataDir(server.dataDir) });
}
