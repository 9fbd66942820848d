// Helpers for end-to-end tests of the framework examples: a build cache key, and a Node app
// server (next start, adapter-node) run on 127.0.0.1 and a free port.
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, relative } from "node:path";

/**
 * A short hash of every file under `dirs` and of `files` (paths relative to `root` are part of
 * it): the key of a cached build.
 * @example hashInputs(repoRoot, [join(appDir, "src"), join(repoRoot, "pnpm-lock.yaml")])
 */
export function hashInputs(root: string, paths: readonly string[]): string {
  const hash = createHash("sha256");
  const add = (path: string): void => {
    const entries = (() => {
      try {
        return readdirSync(path, { withFileTypes: true });
      } catch {
        return undefined;
      }
    })();
    if (entries === undefined) {
      hash.update(relative(root, path)).update(readFileSync(path));
      return;
    }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) add(join(path, entry.name));
  };
  for (const path of paths) add(path);
  return hash.digest("hex").slice(0, 16);
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

/** A running app server. */
export interface NodeApp {
  readonly url: string;
  readonly child: ChildProcess;
  output(): string;
  /** Stops it (SIGTERM, to its process group when started detached) and waits for the exit. */
  stop(): Promise<void>;
}

/**
 * Runs `node <args>` (an app server) with the port from {@link freePort} and resolves once it
 * answers HTTP; fails with its output if it exits or stays silent for 20 s.
 * @example const app = await startNodeApp({ name: "next start", cwd, args: (port) => [nextBin, "start", "--port", String(port)] });
 */
export async function startNodeApp(options: {
  readonly name: string;
  readonly cwd: string;
  readonly args: (port: number) => readonly string[];
  readonly env?: (port: number) => NodeJS.ProcessEnv;
  /** Runs it in a process group of its own, stopped as a whole (for servers that fork workers). */
  readonly isGroup?: boolean;
}): Promise<NodeApp> {
  const port = await freePort();
  const child = spawn(process.execPath, [...options.args(port)], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env?.(port) },
    stdio: ["ignore", "pipe", "pipe"],
    detached: options.isGroup === true,
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  const url = `http://127.0.0.1:${port}/`;
  const app: NodeApp = {
    url,
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      const exited = new Promise<void>((done) => child.once("exit", () => done()));
      if (options.isGroup === true) process.kill(-child.pid, "SIGTERM");
      else child.kill("SIGTERM");
      await exited;
    },
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${options.name} exited (${child.exitCode}):\n${output}`);
    const answered = await fetch(`${url}favicon.ico`).then(
      () => true,
      () => false,
    );
    if (answered) return app;
    if (Date.now() > deadline) throw new Error(`${options.name} did not answer within 20 s:\n${output}`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

/** Resolves once a client's writes have reached the server (online, nothing pending). */
export async function settled(client: {
  readonly connection: { getCurrentState(): { state: string; pending: number } };
}): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { state, pending } = client.connection.getCurrentState();
    if (state === "online" && pending === 0) return;
    if (Date.now() > deadline) throw new Error(`the client did not sync within 10 s (${state}, ${pending} pending)`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

/**
 * An app and a service key made through a production-mode server's admin API, as an operator
 * makes them for a framework example's server code.
 *
 * @example const { id, serviceKey } = await createKeyedApp(server.url, ADMIN_SECRET, "Next.js example", "next.js server");
 */
export async function createKeyedApp(
  serverUrl: string,
  adminSecret: string,
  name: string,
  keyName: string,
): Promise<{ id: string; serviceKey: string }> {
  const admin = async (path: string, body: unknown) => {
    const response = await fetch(`${serverUrl}/v1/admin/apps${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminSecret}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (response.status !== 201)
      throw new Error(`POST /v1/admin/apps${path} answered ${response.status}: ${await response.text()}`);
    return (await response.json()) as { id: string; key: string };
  };
  const { id } = await admin("", { name });
  const { key } = await admin(`/${id}/keys`, { name: keyName });
  return { id, serviceKey: key };
}
