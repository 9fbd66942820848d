import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));

/** How a `trellis-server` command ended. */
export interface CliRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the built `trellis-server` command and waits for it without blocking the event loop: a
 * test that blocked it (spawnSync) for longer than the server's keep-alive timeout could reuse a
 * pooled HTTP connection the server had already closed, and its next fetch failed.
 *
 * @example
 * const created = await runCli(["apps", "keys", "create", "app1", "cron job", "--url", serverUrl]);
 * if (created.status !== 0) throw new Error(created.stderr);
 */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ["ignore", "pipe", "pipe"], timeout: 15_000 });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}
