import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The built CLI (beside this module in dist/, or from src/testing/): tests run a real server process, as users do. */
const CLI =
  [new URL("./cli.js", import.meta.url), new URL("../../dist/cli.js", import.meta.url)]
    .map((url) => fileURLToPath(url))
    .find((path) => existsSync(path)) ?? "dist/cli.js";

/** A `trellis-server` process on 127.0.0.1, for tests and benchmarks. */
export interface ServerProcess {
  /** "http://127.0.0.1:<port>" */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** The process id of the running server (it changes with `restart`). */
  readonly pid: number;
  /** Whether the process is running (it has not exited since it last started). */
  readonly isAlive: boolean;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM, then waits for the graceful exit. */
  stop(): Promise<void>;
  /** SIGKILL: no flush, no goodbye, like a crash. */
  kill(): Promise<void>;
  /** Starts the process again on the same port and data folder (after `stop` or `kill`). */
  restart(): Promise<void>;
}

export interface ServerProcessOptions {
  /** Defaults to a fresh temporary folder. */
  readonly dataDir?: string;
  /** Defaults to a free port. */
  readonly port?: number;
  /** More CLI arguments, e.g. ["--jwt-secret", secret]. */
  readonly args?: readonly string[];
  /** The process's limit on open files (`ulimit -n`), when it must be lower than the test runner's. */
  readonly maxOpenFiles?: number;
}

/**
 * Starts `trellis-server` in its own process; resolves once it listens.
 *
 * @example
 * const server = await startServerProcess();
 * const client = createClient({ schema, serverUrl: server.url, appId: "test" });
 * await server.stop();
 */
export async function startServerProcess(options: ServerProcessOptions = {}): Promise<ServerProcess> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build @trellis/server first (npm test does).`);
  const dataDir = options.dataDir ?? tempDataDir();
  let output = "";
  let child: ChildProcess;
  let port = options.port ?? 0;

  const launch = () =>
    new Promise<number>((resolve, reject) => {
      // The host is explicit, as are port and folder: a HOST in the environment must not move the server.
      const command = [
        process.execPath,
        CLI,
        "--port",
        String(port),
        "--host",
        "127.0.0.1",
        "--data",
        dataDir,
        ...(options.args ?? []),
      ];
      // prlimit (util-linux) starts the server with fewer descriptors, as a constrained host would.
      const limited =
        options.maxOpenFiles === undefined
          ? command
          : ["prlimit", `--nofile=${options.maxOpenFiles}`, "--", ...command];
      child = spawn(limited[0]!, limited.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
      const timer = setTimeout(() => reject(new Error(`trellis-server did not start within 15 s:\n${output}`)), 15_000);
      const collect = (chunk: Buffer) => {
        output += chunk.toString("utf8");
        const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output.slice(-2000));
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      };
      child.stdout!.on("data", collect);
      child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`trellis-server exited (${signal ?? code}) before listening:\n${output}`));
      });
    });

  const exited = (signal: NodeJS.Signals) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill(signal);
    });

  port = await launch();
  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    dataDir,
    get pid() {
      return child.pid!;
    },
    get isAlive() {
      return child.exitCode === null && child.signalCode === null;
    },
    output: () => output,
    stop: () => exited("SIGTERM"),
    kill: () => exited("SIGKILL"),
    restart: async () => {
      await exited("SIGKILL");
      port = await launch();
    },
  };
}

/** A fresh temporary folder; remove it with {@link removeDataDir}. */
export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), "trellis-test-"));
}

export function removeDataDir(dataDir: string): void {
  rmSync(dataDir, { recursive: true, force: true });
}
