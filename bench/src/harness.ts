/**
 * The measuring loops of each workload, shared by all peers so every peer is timed the same way.
 * A peer supplies only the calls of its own API.
 */
import type { BenchConfig } from "./config.js";
import {
  createChecksum,
  createTodoSource,
  makeTodos,
  type Todo,
  W2_LIMIT,
  type W2Query,
  w2Queries,
  type W3Write,
} from "./data.js";
import { mean, median, memorySnapshot, percentile, settleHeap, timeMs } from "./stats.js";

// ---- W1: bulk insert ----

/** Makes a fresh, empty store and returns the timed part: inserting `todos` into it. */
export type InsertSetup = () => Promise<(todos: readonly Todo[]) => unknown>;

/**
 * W1: times inserting all documents into a fresh store, `reps` times (median reported), after
 * one untimed warm-up on a small slice so the JIT has seen the code.
 */
export async function measureInsert(
  config: BenchConfig,
  setup: InsertSetup,
  reps = config.w1Reps,
): Promise<Record<string, number>> {
  const todos = makeTodos(config.w1Docs, config.seed);
  const warmup = await setup();
  await warmup(todos.slice(0, Math.max(100, Math.floor(todos.length / 20))));
  const times: number[] = [];
  for (let rep = 0; rep < reps; rep++) {
    const insert = await setup();
    await settleHeap();
    times.push(await timeMs(() => insert(todos)));
  }
  const total = median(times);
  return {
    docs: todos.length,
    totalMs: total,
    perDocUs: (total * 1000) / todos.length,
    minMs: Math.min(...times),
    reps,
  };
}

// ---- W2: one-shot queries ----

/** W2 times at least this many queries, however slow the peer. */
export const MIN_TIMED_QUERIES = 10;

/** A loaded store's query: returns result ids in order (the peer builds its result rows too). */
export type QueryRunner = (query: W2Query) => Promise<readonly string[]> | readonly string[];

/**
 * W2: loads the documents (timed, for information), runs distinct warm-up queries (the first
 * one's time is reported as `firstMs`: it includes lazily built indexes and JIT), then times
 * distinct queries one by one, until all are done or the time budget is spent. A checksum of
 * the first timed results (the ones every peer runs) lets the report check that all peers
 * returned the same rows.
 */
export async function measureQueries(
  config: BenchConfig,
  load: (todos: readonly Todo[]) => Promise<QueryRunner>,
): Promise<Record<string, number | string>> {
  let todos: Todo[] | undefined = makeTodos(config.w2Docs, config.seed);
  let run: QueryRunner | undefined;
  const loadMs = await timeMs(async () => {
    run = await load(todos!);
  });
  todos = undefined;
  const queries = w2Queries(config.w2Warmup + config.w2Queries, config.seed);
  let firstMs = Number.NaN;
  for (const [i, query] of queries.slice(0, config.w2Warmup).entries()) {
    const ms = await timeMs(() => run!(query));
    if (i === 0) firstMs = ms;
  }
  await settleHeap();
  const checksum = createChecksum();
  const times: number[] = [];
  let rows = 0;
  const begin = performance.now();
  for (const query of queries.slice(config.w2Warmup)) {
    if (times.length >= MIN_TIMED_QUERIES && performance.now() - begin > config.w2BudgetMs) break;
    const start = performance.now();
    const ids = await run!(query);
    times.push(performance.now() - start);
    if (ids.length > W2_LIMIT) throw new Error(`W2 query returned ${ids.length} rows, more than the limit.`);
    if (times.length > MIN_TIMED_QUERIES) continue;
    rows += ids.length;
    for (const id of ids) checksum.add(id);
  }
  return {
    docs: config.w2Docs,
    medianMs: median(times),
    p90Ms: percentile(times, 90),
    meanMs: mean(times),
    firstMs,
    queries: times.length,
    /** Rows returned by the first MIN_TIMED_QUERIES queries (with the checksum, compared across peers). */
    checkedRows: rows,
    loadMs,
    checksum: checksum.value(),
  };
}

// ---- W3: writes under many live queries ----

/** Counts subscription callbacks and remembers when the latest one ran. */
export class NotifyTracker {
  count = 0;
  lastAt = -1;
  /** Call from every subscription callback (after setup). */
  readonly notify = (): void => {
    this.count++;
    this.lastAt = performance.now();
  };
}

/** Applies one write and returns once every callback it causes has run. */
export type WriteRunner<W = W3Write> = (write: W) => unknown;

/**
 * W3, W5, W6: applies the writes in order until all are done or the time budget is spent (but
 * at least `minWrites`), timing each one (including all the notifications it causes).
 * Write-to-callback latency is the time from the start of a write to the last callback it
 * caused, over writes that caused one.
 */
export async function measureWrites<W = W3Write>(
  config: BenchConfig,
  writes: readonly W[],
  write: WriteRunner<W>,
  tracker: NotifyTracker,
  budgetMs: number = config.w3BudgetMs,
  minWrites = 0,
): Promise<Record<string, number>> {
  await settleHeap();
  tracker.count = 0;
  const times: number[] = [];
  const latencies: number[] = [];
  const begin = performance.now();
  for (const each of writes) {
    const start = performance.now();
    tracker.lastAt = -1;
    const pending = write(each);
    if (isPromise(pending)) await pending;
    const end = performance.now();
    times.push(end - start);
    if (tracker.lastAt >= start) latencies.push(tracker.lastAt - start);
    if (end - begin > budgetMs && times.length >= minWrites) break;
  }
  const toUs = (ms: number) => ms * 1000;
  return {
    writes: times.length,
    isComplete: times.length === writes.length ? 1 : 0,
    meanUs: toUs(mean(times)),
    medianUs: toUs(median(times)),
    p95Us: toUs(percentile(times, 95)),
    callbackMedianUs: toUs(median(latencies)),
    callbackP99Us: toUs(percentile(latencies, 99)),
    callbacks: tracker.count,
    writesNotifying: latencies.length,
  };
}

// ---- W5, W6: one-shot queries repeated ----

/** W5 and W6 time at least this many one-shot runs (or all of them if fewer are asked for), however slow the peer. */
export const MIN_ONESHOT_RUNS = 3;

/**
 * W5 and W6 one-shot: runs the query once untimed (reported as `firstMs`: it includes lazily
 * built indexes and JIT), then up to `reps` timed runs, stopping early once the budget is spent;
 * the median is the figure. Every run must give the same result (checked through `checksumOf`,
 * outside the timing), which is reported for the cross-check between peers.
 */
export async function measureOneShot<R>(
  config: BenchConfig,
  reps: number,
  run: () => Promise<R> | R,
  checksumOf: (result: R) => string,
): Promise<Record<string, number | string>> {
  const firstStart = performance.now();
  const first = await run();
  const firstMs = performance.now() - firstStart;
  const checksum = checksumOf(first);
  const times: number[] = [];
  const begin = performance.now();
  for (let rep = 0; rep < reps; rep++) {
    if (rep >= MIN_ONESHOT_RUNS && performance.now() - begin > config.oneShotBudgetMs) break;
    await settleHeap();
    const start = performance.now();
    const result = await run();
    times.push(performance.now() - start);
    const again = checksumOf(result);
    if (again !== checksum)
      throw new Error(`one-shot run ${rep + 1} returned a different result (${again}) than the first (${checksum}).`);
  }
  return { oneShotMs: median(times), oneShotMinMs: Math.min(...times), firstMs, runs: times.length, checksum };
}

function isPromise(value: unknown): value is Promise<unknown> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}

// ---- W4: memory per document ----

/** Set while measuring so the store under measurement stays reachable. */
let _retained: unknown;

/**
 * W4: heap bytes per document. Settles the heap, builds the store from lazily generated
 * documents (so their strings are counted, and no input array stays behind), settles again and
 * divides the growth by the document count. ArrayBuffer memory (typed arrays) is outside
 * `heapUsed`, so it is reported too and added in `totalPerDoc`.
 */
export async function measureMemory(
  config: BenchConfig,
  build: (count: number, next: () => Todo) => Promise<unknown>,
): Promise<Record<string, number>> {
  const count = config.w4Docs;
  const source = createTodoSource(config.seed);
  await settleHeap();
  const before = memorySnapshot();
  _retained = await build(count, () => source.next());
  await settleHeap();
  const after = memorySnapshot();
  const heap = after.heapUsed - before.heapUsed;
  const buffers = after.arrayBuffers - before.arrayBuffers;
  const result = {
    docs: count,
    heapPerDoc: heap / count,
    buffersPerDoc: buffers / count,
    totalPerDoc: (heap + buffers) / count,
  };
  _retained = undefined;
  return result;
}

/**
 * W3's cross-check: a checksum of every live query's visible result (ids, in order) after the
 * writes. Peers that ran every write must agree.
 */
export function resultsChecksum(results: Iterable<readonly string[]>): string {
  const checksum = createChecksum();
  for (const ids of results) {
    for (const id of ids) checksum.add(id);
    checksum.add("|");
  }
  return checksum.value();
}
