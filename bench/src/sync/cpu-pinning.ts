/**
 * Keeps the servers (Trellis and the `ws` floors) on a core of their own and every client process
 * on the others, as on separate machines. Left to itself, Linux runs a loopback socket's reader on
 * the writer's core when a write wakes it (a "sync" wakeup), so clients woken by the server's
 * first sends wait for the rest of its send loop: on a 2-core machine that added about 1 ms to
 * the first delivery of a fan-out (measured, see docs/design/018). Children inherit the affinity
 * of the process that starts them, so the runner switches its own before each start.
 */
import { execFileSync } from "node:child_process";
import { cpus } from "node:os";

export interface CpuPinning {
  /** CPU list (taskset syntax) of the server processes. */
  readonly server: string;
  /** CPU list of the runner and the client processes. */
  readonly clients: string;
}

/**
 * Moves this process to the clients' CPUs and answers the layout; none (undefined) with
 * BENCH_SYNC_PIN=0, on a single core, or without `taskset`.
 */
export function pinToCpus(env: NodeJS.ProcessEnv): CpuPinning | undefined {
  const count = cpus().length;
  if (env.BENCH_SYNC_PIN === "0" || count < 2) return undefined;
  const pinning = { server: "0", clients: count === 2 ? "1" : `1-${count - 1}` };
  try {
    pinSelf(pinning.clients);
  } catch {
    return undefined;
  }
  return pinning;
}

/** Moves every thread of this process to `list`; processes started afterwards inherit it. */
export function pinSelf(list: string): void {
  execFileSync("taskset", ["-a", "-p", "-c", list, String(process.pid)], { stdio: "ignore" });
}

/** Runs `start` with this process on the server's CPUs, so what it starts lands there. */
export async function onServerCpus<T>(pinning: CpuPinning | undefined, start: () => Promise<T>): Promise<T> {
  if (pinning === undefined) return start();
  pinSelf(pinning.server);
  try {
    return await start();
  } finally {
    pinSelf(pinning.clients);
  }
}
