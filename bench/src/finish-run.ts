/** The end of a benchmark run, shared by both suites: the results file, the closing lines, the exit code. */
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";

export interface FinishOptions {
  /** `performance.now()` when the run started. */
  readonly started: number;
  /** File name under bench/results/ (git-ignored), e.g. "latest.json". */
  readonly resultsFile: string;
  /** Written to the results file as JSON. */
  readonly results: unknown;
  /** One-minute load average above which the run itself does not explain the load. */
  readonly busyLoad: number;
  /** What went wrong; any makes the exit code 1. */
  readonly failures: readonly string[];
}

/**
 * Writes the results file, prints how long the run took and the load average (with a warning
 * when other work competed), then the failures; returns the exit code.
 *
 * @example
 * return finishRun({ started, resultsFile: "latest.json", results, busyLoad: 1.6, failures });
 */
export function finishRun(options: FinishOptions): number {
  const { started, resultsFile, results, busyLoad, failures } = options;
  const resultsDir = fileURLToPath(new URL("../results/", import.meta.url));
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(`${resultsDir}${resultsFile}`, `${JSON.stringify(results, null, 2)}\n`);
  const [load] = loadavg();
  console.log(
    `\nfinished in ${((performance.now() - started) / 1000).toFixed(0)} s; results also in bench/results/${resultsFile}`,
  );
  console.log(
    `load average over the last minute: ${load!.toFixed(2)}` +
      (load! > busyLoad ? " — other processes were busy too; timings are noisy, compare ratios within this run" : ""),
  );
  if (failures.length > 0) {
    console.error(`\n${failures.length} problem(s):\n  ${failures.join("\n  ")}`);
    return 1;
  }
  return 0;
}

/**
 * Runs a runner's `main` and exits with its code (at once: some libraries leave timers behind),
 * or with 1 and the error.
 *
 * @example
 * runMain(main);
 */
export function runMain(main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}
