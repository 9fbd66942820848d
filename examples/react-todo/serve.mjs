// Builds the React todo app with vite and serves the result on 127.0.0.1 from this Node process:
// `npm start` uses it (through examples/local-todo/main.mjs --web) next to its sync server.
// Standalone: `node serve.mjs [--server http://127.0.0.1:8787]` (a server must be running).
import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, extname, join, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { hashInputs, isStampCurrent, writeStamp } from "../../scripts/build-stamp.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
/** The packages the bundle takes from their sources. */
const BUNDLED = ["core", "client", "react"];
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
};

/**
 * Bundles the app into `dist/` with the sync server's url baked in (unless an unchanged bundle
 * for that server is there already), then serves it.
 *
 * @example
 * const web = await serveReactTodo({ serverUrl: "http://127.0.0.1:8787" });
 * console.log(web.url); // http://127.0.0.1:5173/
 * await web.close();
 */
export async function serveReactTodo({ serverUrl, port = 5173 }) {
  const outDir = join(HERE, "dist");
  // The bundle is built from this folder and the packages' sources (see vite.config.ts); an
  // unchanged one, for the same server, is served as it is.
  const inputs = hashInputs(
    ["examples/react-todo", ...BUNDLED.map((name) => `packages/${name}`), "pnpm-lock.yaml"],
    [serverUrl],
  );
  if (!isStampCurrent("examples/react-todo", inputs, "examples/react-todo/dist")) {
    const { build } = await import("vite");
    await build({
      root: HERE,
      configFile: join(HERE, "vite.config.ts"),
      logLevel: "warn",
      define: { "import.meta.env.VITE_TRELLIS_SERVER_URL": JSON.stringify(serverUrl) },
      build: { outDir, emptyOutDir: true, reportCompressedSize: false },
    });
    writeStamp("examples/react-todo", inputs, "examples/react-todo/dist");
  }
  const server = createServer((request, response) => {
    const pathname = decodeURIComponent(new URL(request.url ?? "/", "http://localhost").pathname);
    let file = resolve(outDir, `.${pathname}`);
    // Anything that is not a built file is the app's page (it reads its settings from the query).
    if (!file.startsWith(outDir + sep) || !existsSync(file) || !statSync(file).isFile())
      file = join(outDir, "index.html");
    response.writeHead(200, {
      "content-type": TYPES[extname(file)] ?? "application/octet-stream",
      "cache-control": "no-cache",
    });
    response.end(readFileSync(file));
  });
  const listen = (at) =>
    new Promise((done, fail) => {
      server.once("error", fail);
      server.listen(at, "127.0.0.1", () => (server.off("error", fail), done()));
    });
  try {
    await listen(port);
  } catch (error) {
    if (error.code !== "EADDRINUSE") throw error;
    console.warn(`Port ${port} is taken; serving the React app on a free one.`);
    await listen(0);
  }
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    close: () => new Promise((done) => (server.closeAllConnections(), server.close(() => done()))),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const flag = process.argv.indexOf("--server");
  const serverUrl = flag > 0 ? process.argv[flag + 1] : (process.env.TRELLIS_SERVER_URL ?? "http://127.0.0.1:8787");
  const web = await serveReactTodo({ serverUrl, port: Number(process.env.WEB_PORT ?? 5173) });
  console.log(`React todo app: ${web.url} (syncing with ${serverUrl}); press Ctrl+C to stop.`);
}
