import { existsSync, readdirSync, readFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** What the dashboard's page may load and call: its own files and the server's API, nothing else. */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

interface DashboardFile {
  readonly body: Buffer;
  readonly type: string;
  /** Hashed asset names never change content: browsers may keep them. */
  readonly isImmutable: boolean;
}

/**
 * The dashboard's built files (design/027), read once and served from memory by exact path:
 * `/dashboard` is its page, `/dashboard/assets/<file>` its scripts and styles. No path reaches
 * the disk, so none can name a file outside the build.
 */
export class DashboardFiles {
  private files: Map<string, DashboardFile> | undefined;

  constructor(private readonly dir: string | undefined = findBuild()) {}

  /** Serves `path` if it is the dashboard's; false for any other path. */
  serve(method: string | undefined, path: string, response: ServerResponse): boolean {
    if (path !== "/dashboard" && !path.startsWith("/dashboard/")) return false;
    const files = this.load();
    const file =
      path === "/dashboard" || path === "/dashboard/"
        ? files.get("/index.html")
        : files.get(path.slice("/dashboard".length));
    if (method !== "GET" && method !== "HEAD") {
      response
        .writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" })
        .end("The dashboard's files are read with GET.\n");
      return true;
    }
    if (file === undefined) {
      const why =
        files.size === 0
          ? "The dashboard is not built: run `pnpm --filter @trellis/server build`."
          : "No such dashboard file.";
      response.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end(`${why}\n`);
      return true;
    }
    response.writeHead(200, {
      "content-type": file.type,
      "content-length": file.body.length,
      "cache-control": file.isImmutable ? "public, max-age=31536000, immutable" : "no-cache",
      "content-security-policy": CONTENT_SECURITY_POLICY,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "x-frame-options": "DENY",
    });
    response.end(method === "HEAD" ? undefined : file.body);
    return true;
  }

  private load(): Map<string, DashboardFile> {
    if (this.files !== undefined) return this.files;
    const files = new Map<string, DashboardFile>();
    if (this.dir !== undefined) {
      const add = (relative: string) => {
        const type = TYPES[extname(relative)];
        if (type !== undefined)
          files.set(`/${relative}`, {
            body: readFileSync(join(this.dir!, relative)),
            type,
            isImmutable: relative.startsWith("assets/"),
          });
      };
      add("index.html");
      const assets = join(this.dir, "assets");
      if (existsSync(assets)) for (const name of readdirSync(assets)) add(`assets/${name}`);
    }
    this.files = files;
    return files;
  }
}

/** `dist/dashboard` beside the built server (`dist/*.js`), or from its sources (`src/*.ts`). */
function findBuild(): string | undefined {
  for (const relative of ["./dashboard", "../dist/dashboard"]) {
    const dir = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(join(dir, "index.html"))) return dir;
  }
  return undefined;
}
