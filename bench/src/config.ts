/**
 * Sizes and budgets of a benchmark run, read from the environment once by the runner and handed
 * to every child process, so all peers of a workload run on identical data.
 */
export interface BenchConfig {
  /** Multiplies every document, query and write count (BENCH_SCALE). */
  readonly scale: number;
  /** Tiny sizes and budgets, for a test that only checks the suite runs end to end. */
  readonly isSmoke: boolean;
  /** Seed of all generated data (SEED). */
  readonly seed: number;
  /** W1: documents inserted; repetitions (fresh store each), the median is reported. */
  readonly w1Docs: number;
  readonly w1Reps: number;
  /** W2: documents loaded; distinct queries run before timing; distinct queries timed. */
  readonly w2Docs: number;
  readonly w2Warmup: number;
  readonly w2Queries: number;
  /** W2: wall-clock budget for a peer's timed queries (at least 10 run whatever the budget). */
  readonly w2BudgetMs: number;
  /** W3: documents, live queries, writes, and the wall-clock budget for a peer's writes. */
  readonly w3Docs: number;
  readonly w3Queries: number;
  readonly w3Writes: number;
  readonly w3BudgetMs: number;
  /** W3L: W3 with this many live queries (documents, writes and budget as W3's). */
  readonly w3lQueries: number;
  /** W4: documents held in memory. */
  readonly w4Docs: number;
  /** W5: users and posts; timed one-shot runs (median reported); live writes and their budget. */
  readonly w5Users: number;
  readonly w5Posts: number;
  readonly w5Reps: number;
  readonly w5Writes: number;
  readonly w5BudgetMs: number;
  /** W6: documents; timed one-shot runs (median reported); live writes and their budget. */
  readonly w6Docs: number;
  readonly w6Reps: number;
  readonly w6Writes: number;
  readonly w6BudgetMs: number;
  /** W6: budget of the "re-run the aggregate query after each write" loops (at least 20 writes run). */
  readonly w6RerunBudgetMs: number;
  /** W5, W6: time after which a slow peer's one-shot runs stop (at least 3 run, or all if fewer). */
  readonly oneShotBudgetMs: number;
}

/**
 * A positive number from the environment, or `fallback` when unset; anything else throws.
 *
 * @example
 * const reps = numberFrom(process.env, "BENCH_REPS", 3);
 */
export function numberFrom(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}.`);
  return value;
}

/**
 * Reads BENCH_SCALE, BENCH_SMOKE, SEED, BENCH_REPS, BENCH_W2_QUERIES, BENCH_W2_BUDGET_MS,
 * BENCH_W3_BUDGET_MS, BENCH_ONESHOT_REPS, BENCH_ONESHOT_BUDGET_MS, BENCH_W5_BUDGET_MS,
 * BENCH_W6_BUDGET_MS, BENCH_W6_RERUN_BUDGET_MS.
 *
 * @example
 * const config = configFromEnv(process.env, process.argv.includes("--smoke"));
 */
export function configFromEnv(env: NodeJS.ProcessEnv, smokeFlag: boolean): BenchConfig {
  const isSmoke = smokeFlag || env.BENCH_SMOKE === "1";
  const scale = isSmoke ? 0.02 : numberFrom(env, "BENCH_SCALE", 1);
  const scaled = (count: number, minimum: number) => Math.max(minimum, Math.round(count * scale));
  return {
    scale,
    isSmoke,
    seed: Math.floor(numberFrom(env, "SEED", 1)),
    w1Docs: scaled(100_000, 100),
    w1Reps: isSmoke ? 1 : Math.floor(numberFrom(env, "BENCH_REPS", 3)),
    w2Docs: scaled(100_000, 100),
    w2Warmup: isSmoke ? 2 : 5,
    w2Queries: isSmoke ? 10 : Math.min(175, Math.floor(numberFrom(env, "BENCH_W2_QUERIES", 60))),
    w2BudgetMs: isSmoke ? 1_000 : numberFrom(env, "BENCH_W2_BUDGET_MS", 8_000),
    w3Docs: scaled(10_000, 100),
    w3Queries: scaled(1_000, 20),
    w3Writes: scaled(10_000, 100),
    w3BudgetMs: isSmoke ? 2_000 : numberFrom(env, "BENCH_W3_BUDGET_MS", 20_000),
    w3lQueries: scaled(10_000, 200),
    w4Docs: scaled(100_000, 100),
    w5Users: scaled(1_000, 20),
    w5Posts: scaled(100_000, 200),
    w5Reps: isSmoke ? 2 : Math.floor(numberFrom(env, "BENCH_ONESHOT_REPS", 5)),
    w5Writes: scaled(10_000, 100),
    w5BudgetMs: isSmoke ? 1_000 : numberFrom(env, "BENCH_W5_BUDGET_MS", 10_000),
    w6Docs: scaled(100_000, 100),
    w6Reps: isSmoke ? 2 : Math.floor(numberFrom(env, "BENCH_ONESHOT_REPS", 5)),
    w6Writes: scaled(10_000, 100),
    w6BudgetMs: isSmoke ? 1_000 : numberFrom(env, "BENCH_W6_BUDGET_MS", 10_000),
    w6RerunBudgetMs: isSmoke ? 500 : numberFrom(env, "BENCH_W6_RERUN_BUDGET_MS", 5_000),
    oneShotBudgetMs: isSmoke ? 500 : numberFrom(env, "BENCH_ONESHOT_BUDGET_MS", 5_000),
  };
}
