/**
 * The benchmark suite: runs every (workload, peer) pair in a fresh child process, one after
 * another (never in parallel, so peers do not compete for the cores), then prints one table
 * per workload, one JSON line per workload, and the target ratios.
 *
 * Usage: node dist/run.js [--smoke]
 * Environment: BENCH_SCALE, BENCH_SMOKE=1, BENCH_PEERS=trellis,plain, BENCH_WORKLOADS=W2,W3,
 * BENCH_REPS, BENCH_W2_QUERIES, BENCH_W3_BUDGET_MS, BENCH_ONESHOT_REPS, BENCH_ONESHOT_BUDGET_MS,
 * BENCH_W5_BUDGET_MS, BENCH_W6_BUDGET_MS, BENCH_W6_RERUN_BUDGET_MS, BENCH_CHILD_TIMEOUT_MS, SEED.
 */
import { spawn } from "node:child_process";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { type BenchConfig, configFromEnv } from "./config.js";
import { finishRun, runMain } from "./finish-run.js";
import { type PeerId, RESULT_PREFIX, type ResultRow, type WorkloadId } from "./peer.js";
import { agreement, targetLines, targets, workloadJson, workloadTable } from "./report.js";

const WORKLOADS: readonly WorkloadId[] = ["W1", "W2", "W3", "W3L", "W4", "W5", "W6", "W7"];

/**
 * Which peers take part in which workload (SQLite's memory is not on the JS heap, so no W4;
 * SQLite runs only the one-shot forms of W5 and W6; Triplit is left out of W5 and W6). W3L (W3 at
 * 10,000 live queries) compares Trellis with the plain loop only: TinyBase and Triplit re-run
 * every query on each write, so their runs would be all setup. W7 compares Trellis's bulk create
 * with its single creates and SQLite's bulk insert.
 */
const PLAN: Record<WorkloadId, readonly PeerId[]> = {
  W1: ["plain", "sqlite", "tinybase", "triplit", "trellis"],
  W2: ["plain", "sqlite", "tinybase", "triplit", "trellis"],
  W3: ["plain", "tinybase", "triplit", "trellis"],
  W3L: ["plain", "trellis"],
  W4: ["plain", "tinybase", "triplit", "trellis"],
  W5: ["plain", "sqlite", "tinybase", "trellis"],
  W6: ["plain", "sqlite", "tinybase", "trellis"],
  W7: ["sqlite", "trellis"],
};

function listFromEnv<T extends string>(raw: string | undefined, allowed: readonly T[], name: string): readonly T[] {
  if (raw === undefined || raw.trim() === "") return allowed;
  const wanted = raw.split(",").map((each) => each.trim());
  for (const each of wanted) {
    if (!allowed.includes(each as T))
      throw new Error(`${name}: unknown "${each}" (expected some of ${allowed.join(",")}).`);
  }
  return wanted as T[];
}

/** Runs one pair in a child process; resolves with its rows, or rejects with why it failed. */
function runChild(peer: PeerId, workload: WorkloadId, config: BenchConfig, timeoutMs: number): Promise<ResultRow[]> {
  const worker = fileURLToPath(new URL("./worker.js", import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--expose-gc", "--max-old-space-size=8192", worker, peer, workload], {
      env: { ...process.env, BENCH_CONFIG: JSON.stringify(config) },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => (stdout += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split("\n").find((each) => each.startsWith(RESULT_PREFIX));
      if (code === 0 && line !== undefined) resolve(JSON.parse(line.slice(RESULT_PREFIX.length)) as ResultRow[]);
      else
        reject(new Error(signal === "SIGKILL" ? `timed out after ${timeoutMs} ms` : `exited with ${signal ?? code}`));
    });
  });
}

async function main(): Promise<number> {
  const config = configFromEnv(process.env, process.argv.includes("--smoke"));
  const workloads = listFromEnv(process.env.BENCH_WORKLOADS, WORKLOADS, "BENCH_WORKLOADS");
  const peers = listFromEnv(process.env.BENCH_PEERS, PLAN.W1, "BENCH_PEERS");
  const timeoutMs = Number(process.env.BENCH_CHILD_TIMEOUT_MS ?? 300_000);
  const started = performance.now();
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  console.log(`Trellis benchmarks — node ${process.version}, ${cpus().length} x ${cpu}`);
  console.log(
    `scale ${config.scale}${config.isSmoke ? " (smoke)" : ""}, seed ${config.seed}: W1 ${config.w1Docs} docs x ${config.w1Reps} reps; ` +
      `W2 ${config.w2Docs} docs, ${config.w2Queries} queries; W3 ${config.w3Docs} docs, ${config.w3Queries} live queries, ` +
      `up to ${config.w3Writes} writes or ${config.w3BudgetMs / 1000} s per peer; W4 ${config.w4Docs} docs;\n` +
      `W5 ${config.w5Users} users x ${config.w5Posts} posts, ${config.w5Reps} one-shot runs, up to ${config.w5Writes} writes or ` +
      `${config.w5BudgetMs / 1000} s; W6 ${config.w6Docs} docs, ${config.w6Reps} one-shot runs, up to ${config.w6Writes} writes or ` +
      `${config.w6BudgetMs / 1000} s (re-run loops ${config.w6RerunBudgetMs / 1000} s); W7 as W1\n`,
  );

  const rows: ResultRow[] = [];
  const failures: string[] = [];
  for (const workload of workloads) {
    for (const peer of PLAN[workload].filter((each) => peers.includes(each))) {
      const pairStart = performance.now();
      process.stderr.write(`  running ${workload} ${peer} … `);
      try {
        rows.push(...(await runChild(peer, workload, config, timeoutMs)));
        process.stderr.write(`${((performance.now() - pairStart) / 1000).toFixed(1)} s\n`);
      } catch (error) {
        const message = `${workload} ${peer}: ${error instanceof Error ? error.message : String(error)}`;
        process.stderr.write("FAILED\n");
        failures.push(message);
      }
    }
  }

  console.log("");
  for (const workload of workloads) {
    const ofWorkload = rows.filter((row) => row.workload === workload);
    if (ofWorkload.length === 0) continue;
    console.log(workloadTable(workload, ofWorkload));
    for (const check of agreement(workload, ofWorkload)) {
      console.log(check.line);
      if (!check.isAgreed) failures.push(check.line);
    }
    console.log("");
  }
  const results = targets(rows);
  console.log(targetLines(results));
  console.log("");
  for (const workload of workloads) {
    const ofWorkload = rows.filter((row) => row.workload === workload);
    if (ofWorkload.length > 0) console.log(workloadJson(workload, ofWorkload, config));
  }
  console.log(JSON.stringify({ targets: results }));

  // The suite runs one single-threaded child at a time, so it adds about 1 to the load average.
  return finishRun({
    started,
    resultsFile: "latest.json",
    results: { date: new Date().toISOString(), node: process.version, cpu, config, rows, targets: results, failures },
    busyLoad: 1.6,
    failures,
  });
}

runMain(main);
