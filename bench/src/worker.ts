/**
 * Child process entry: runs one workload of one peer and prints its rows as one line
 * `@@result <json>` on stdout. Only that peer's module is loaded, so no other library's code
 * or polyfills share the process.
 *
 * Usage: node --expose-gc dist/worker.js <peer> <workload>   (BENCH_CONFIG holds the config)
 */
import type { BenchConfig } from "./config.js";
import { type PeerBench, type PeerId, RESULT_PREFIX, type WorkloadId } from "./peer.js";

const loaders: Record<PeerId, () => Promise<PeerBench>> = {
  plain: async () => (await import("./peers/plain.js")).plain,
  sqlite: async () => (await import("./peers/sqlite.js")).sqlite,
  tinybase: async () => (await import("./peers/tinybase.js")).tinybase,
  triplit: async () => (await import("./peers/triplit.js")).triplit,
  trellis: async () => (await import("./peers/trellis.js")).trellis,
};

async function main(): Promise<void> {
  const [peer, workload] = process.argv.slice(2) as [PeerId | undefined, WorkloadId | undefined];
  if (peer === undefined || !Object.hasOwn(loaders, peer) || workload === undefined) {
    throw new Error(`usage: worker.js <${Object.keys(loaders).join("|")}> <W1|W2|W3|W4|W5|W6|W7>`);
  }
  const raw = process.env.BENCH_CONFIG;
  if (raw === undefined) throw new Error("worker.js: BENCH_CONFIG is not set; run the suite with run.js.");
  const config = JSON.parse(raw) as BenchConfig;
  const bench = await loaders[peer]();
  const runner = bench[workload];
  if (runner === undefined) throw new Error(`${peer} does not take part in ${workload}.`);
  const rows = await runner(config);
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(rows)}\n`);
}

main().then(
  // Exit at once: some libraries leave timers behind that would keep the process alive.
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
