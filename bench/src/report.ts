/** Turns result rows into the printed tables, the JSON lines and the target ratios. */
import type { BenchConfig } from "./config.js";
import { MIN_TIMED_QUERIES } from "./harness.js";
import {
  type ResultRow,
  SQLITE_W7_BULK,
  TRELLIS_W6_LIVE,
  TRELLIS_W6_RERUN,
  TRELLIS_W7_LOOP,
  TRELLIS_W7_MANY,
  type WorkloadId,
} from "./peer.js";

interface Column {
  readonly title: string;
  readonly metric: string;
  readonly digits?: number;
}

/** The columns of a bulk insert's figures (see `measureInsert`). */
const INSERT_COLUMNS: readonly Column[] = [
  { title: "docs", metric: "docs" },
  { title: "total ms", metric: "totalMs", digits: 1 },
  { title: "µs/doc", metric: "perDocUs", digits: 2 },
  { title: "min ms", metric: "minMs", digits: 1 },
  { title: "reps", metric: "reps" },
];

/** W3 and W3L: time per write under live queries, and what reached the callbacks. */
const LIVE_WRITE_COLUMNS: readonly Column[] = [
  { title: "writes", metric: "writes" },
  { title: "mean µs", metric: "meanUs", digits: 1 },
  { title: "median µs", metric: "medianUs", digits: 1 },
  { title: "p95 µs", metric: "p95Us", digits: 1 },
  { title: "write→cb µs", metric: "callbackMedianUs", digits: 1 },
  { title: "p99 write→cb µs", metric: "callbackP99Us", digits: 1 },
  { title: "callbacks", metric: "callbacks" },
  { title: "setup ms", metric: "setupMs", digits: 0 },
  { title: "final*", metric: "finalChecksum" },
];

const COLUMNS: Record<WorkloadId, { readonly title: string; readonly columns: readonly Column[] }> = {
  W1: { title: "W1 insert documents (median of reps, fresh store each)", columns: INSERT_COLUMNS },
  W2: {
    title: "W2 where priority > p and tag == t order by createdAt desc limit 50 (distinct queries)",
    columns: [
      { title: "docs", metric: "docs" },
      { title: "median ms", metric: "medianMs", digits: 3 },
      { title: "p90 ms", metric: "p90Ms", digits: 3 },
      { title: "mean ms", metric: "meanMs", digits: 3 },
      { title: "1st ms", metric: "firstMs", digits: 2 },
      { title: "load ms", metric: "loadMs", digits: 0 },
      { title: "queries", metric: "queries" },
      { title: "rows*", metric: "checkedRows" },
      { title: "checksum*", metric: "checksum" },
    ],
  },
  W3: {
    title: "W3 single-field writes under live queries (time per write incl. all notifications)",
    columns: LIVE_WRITE_COLUMNS,
  },
  W3L: {
    title: "W3L as W3 at 10,000 live queries over 200 tags (time per write incl. all notifications)",
    columns: LIVE_WRITE_COLUMNS,
  },
  W4: {
    title: "W4 memory per document (after gc; ArrayBuffers are outside heapUsed)",
    columns: [
      { title: "docs", metric: "docs" },
      { title: "heap B/doc", metric: "heapPerDoc", digits: 1 },
      { title: "buffers B/doc", metric: "buffersPerDoc", digits: 1 },
      { title: "total B/doc", metric: "totalPerDoc", digits: 1 },
    ],
  },
  W5: {
    title:
      "W5 users with their 10 latest published posts " +
      "(one-shot: median of runs; live: one subscription, time per post write incl. callback)",
    columns: [
      { title: "posts", metric: "posts" },
      { title: "1-shot ms", metric: "oneShotMs", digits: 2 },
      { title: "runs", metric: "runs" },
      { title: "1st ms", metric: "firstMs", digits: 1 },
      { title: "load ms", metric: "loadMs", digits: 0 },
      { title: "result*", metric: "checksum" },
      { title: "writes", metric: "writes" },
      { title: "mean µs", metric: "meanUs", digits: 1 },
      { title: "median µs", metric: "medianUs", digits: 1 },
      { title: "p95 µs", metric: "p95Us", digits: 1 },
      { title: "callbacks", metric: "callbacks" },
      { title: "setup ms", metric: "setupMs", digits: 0 },
      { title: "final*", metric: "finalChecksum" },
    ],
  },
  W6: {
    title:
      "W6 group by tag: count, sum(score), avg(priority) " +
      "(one-shot: median of runs; live: one subscription, time per write incl. callback)",
    columns: [
      { title: "docs", metric: "docs" },
      { title: "1-shot ms", metric: "oneShotMs", digits: 2 },
      { title: "runs", metric: "runs" },
      { title: "1st ms", metric: "firstMs", digits: 1 },
      { title: "load ms", metric: "loadMs", digits: 0 },
      { title: "result*", metric: "checksum" },
      { title: "writes", metric: "writes" },
      { title: "mean µs", metric: "meanUs", digits: 1 },
      { title: "median µs", metric: "medianUs", digits: 1 },
      { title: "p95 µs", metric: "p95Us", digits: 1 },
      { title: "callbacks", metric: "callbacks" },
      { title: "setup ms", metric: "setupMs", digits: 0 },
      { title: "final*", metric: "finalChecksum" },
    ],
  },
  W7: {
    title:
      "W7 bulk create: one createMany vs single creates vs SQLite's bulk insert (median of reps, fresh store each)",
    columns: [
      ...INSERT_COLUMNS,
      { title: "x creates", metric: "vsCreates", digits: 2 },
      { title: "x SQLite", metric: "vsSqlite", digits: 2 },
    ],
  },
};

/**
 * W7's rows with their time as a ratio of the loop of single creates' and of SQLite's (figures
 * of this run), which is what its targets read.
 */
function withW7Ratios(rows: readonly ResultRow[]): ResultRow[] {
  const totalOf = (label: string) => metricOf(rows, "W7", label, "totalMs");
  const creates = totalOf(TRELLIS_W7_LOOP);
  const sqlite = totalOf(SQLITE_W7_BULK);
  return rows.map((row) => {
    const total = row.metrics.totalMs;
    if (typeof total !== "number") return row;
    return { ...row, metrics: { ...row.metrics, vsCreates: total / creates, vsSqlite: total / sqlite } };
  });
}

/** A number with fixed decimals and thousands separators ("-" when missing); strings as they are. */
export function formatValue(value: number | string | undefined, digits = 0): string {
  if (value === undefined) return "-";
  if (typeof value === "string") return value;
  if (!Number.isFinite(value)) return "-";
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A fixed-width text table: first column left-aligned, the rest right-aligned. */
export function table(header: readonly string[], body: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((title, i) => Math.max(title.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ");
  return [line(header), widths.map((width) => "-".repeat(width)).join("  "), ...body.map(line)].join("\n");
}

/** The printed table of one workload's rows. */
export function workloadTable(workload: WorkloadId, rows: readonly ResultRow[]): string {
  const { title, columns } = COLUMNS[workload];
  const body = (workload === "W7" ? withW7Ratios(rows) : rows).map((row) => [
    row.isInfo === true ? `${row.label} [info]` : row.label,
    ...columns.map((column) => formatValue(row.metrics[column.metric], column.digits)),
  ]);
  return `${title}\n${table(["peer", ...columns.map((column) => column.title)], body)}`;
}

/** The checksums compared across peers, per workload, and what agreeing means. */
const CHECKS: Record<WorkloadId, ReadonlyArray<{ readonly metric: string; readonly what: string }>> = {
  W1: [],
  W2: [{ metric: "checksum", what: `same rows for the first ${MIN_TIMED_QUERIES} queries (rows*, checksum*)` }],
  W3: [
    {
      metric: "finalChecksum",
      what: "same visible result of every live query after all writes (final*; peers stopped by the time budget are not compared)",
    },
  ],
  W3L: [
    {
      metric: "finalChecksum",
      what: "same visible result of every live query after all writes (final*; peers stopped by the time budget are not compared)",
    },
  ],
  W4: [],
  W5: [
    { metric: "checksum", what: "one-shot: same users, post ids and titles (result*)" },
    {
      metric: "finalChecksum",
      what: "live: same result after all writes (final*; peers stopped by the time budget are not compared)",
    },
  ],
  W6: [
    { metric: "checksum", what: "one-shot: same rows per tag (result*)" },
    {
      metric: "finalChecksum",
      what: "live: same rows after all writes (final*; peers stopped by the time budget are not compared)",
    },
  ],
  W7: [],
};

/** Whether peers agree on each result checksum of a workload: a line per check, and whether they agree. */
export function agreement(
  workload: WorkloadId,
  rows: readonly ResultRow[],
): Array<{ line: string; isAgreed: boolean }> {
  const lines: Array<{ line: string; isAgreed: boolean }> = [];
  for (const { metric, what } of CHECKS[workload]) {
    const sums = rows
      .map((row) => [row.label, row.metrics[metric]] as const)
      .filter(([, sum]) => sum !== undefined && sum !== "-");
    if (sums.length < 2) continue;
    const [referenceLabel, reference] = sums[0]!;
    const differing = sums.filter(([, sum]) => sum !== reference).map(([label]) => label);
    lines.push(
      differing.length === 0
        ? { line: `${workload} cross-check: all ${sums.length} results agree: ${what}.`, isAgreed: true }
        : {
            line: `${workload} cross-check FAILED: ${differing.join(", ")} differ from ${referenceLabel} (${what}).`,
            isAgreed: false,
          },
    );
  }
  return lines;
}

/**
 * One target. `atMost`: Trellis's figure over the peer's must not exceed `limit`. `atLeast`: the
 * peer's figure over Trellis's (how many times faster Trellis is) must reach `limit`.
 */
export interface TargetResult {
  readonly name: string;
  readonly trellis: number;
  readonly peer: number;
  readonly unit: string;
  readonly ratio: number;
  readonly limit: number;
  readonly comparison: "atMost" | "atLeast";
  readonly status: "PASS" | "MISS" | "N/A";
}

function metricOf(rows: readonly ResultRow[], workload: WorkloadId, label: string, metric: string): number {
  const row = rows.find((each) => each.workload === workload && each.label === label);
  const value = row?.metrics[metric];
  return typeof value === "number" ? value : Number.NaN;
}

/** The targets, each as a ratio of figures measured in this run. */
export function targets(rows: readonly ResultRow[]): TargetResult[] {
  const target = (name: string, unit: string, limit: number, trellis: number, peer: number): TargetResult => {
    const ratio = trellis / peer;
    const status = Number.isFinite(ratio) ? (ratio <= limit ? "PASS" : "MISS") : "N/A";
    return { name, trellis, peer, unit, ratio, limit, comparison: "atMost", status };
  };
  const speedup = (name: string, unit: string, limit: number, trellis: number, peer: number): TargetResult => {
    const ratio = peer / trellis;
    const status = Number.isFinite(ratio) ? (ratio >= limit ? "PASS" : "MISS") : "N/A";
    return { name, trellis, peer, unit, ratio, limit, comparison: "atLeast", status };
  };
  return [
    target(
      "W3 Trellis per write <= 1.5x plain loop",
      "µs",
      1.5,
      metricOf(rows, "W3", "Trellis (subscribe)", "meanUs"),
      metricOf(rows, "W3", "plain JS (re-check loop)", "meanUs"),
    ),
    target(
      "W3 Trellis p99 write→callback <= 1 ms",
      "µs",
      1,
      metricOf(rows, "W3", "Trellis (subscribe)", "callbackP99Us"),
      1_000,
    ),
    target(
      "W3L Trellis per write <= 1.5x plain loop",
      "µs",
      1.5,
      metricOf(rows, "W3L", "Trellis (subscribe)", "meanUs"),
      metricOf(rows, "W3L", "plain JS (re-check loop)", "meanUs"),
    ),
    target(
      "W3L Trellis per write <= 2x its W3 time (10x the queries a write cannot affect)",
      "µs",
      2,
      metricOf(rows, "W3L", "Trellis (subscribe)", "meanUs"),
      metricOf(rows, "W3", "Trellis (subscribe)", "meanUs"),
    ),
    target(
      "W2 Trellis median query <= SQLite",
      "ms",
      1,
      metricOf(rows, "W2", "Trellis (query)", "medianMs"),
      metricOf(rows, "W2", "SQLite (better-sqlite3, :memory:)", "medianMs"),
    ),
    target(
      "W1 Trellis batch insert <= 1.5x SQLite",
      "ms",
      1.5,
      metricOf(rows, "W1", "Trellis (batch.execute)", "totalMs"),
      metricOf(rows, "W1", "SQLite (better-sqlite3, :memory:)", "totalMs"),
    ),
    target(
      "W4 Trellis bytes/doc <= 1.5x TinyBase (heap + ArrayBuffers)",
      "B",
      1.5,
      metricOf(rows, "W4", "Trellis (client, memory)", "totalPerDoc"),
      metricOf(rows, "W4", "TinyBase (Store)", "totalPerDoc"),
    ),
    target(
      "W4 Trellis bytes/doc <= 1.5x TinyBase (heapUsed only)",
      "B",
      1.5,
      metricOf(rows, "W4", "Trellis (client, memory)", "heapPerDoc"),
      metricOf(rows, "W4", "TinyBase (Store)", "heapPerDoc"),
    ),
    target(
      "W7 Trellis createMany <= 0.5x a loop of single creates",
      "ms",
      0.5,
      metricOf(rows, "W7", TRELLIS_W7_MANY, "totalMs"),
      metricOf(rows, "W7", TRELLIS_W7_LOOP, "totalMs"),
    ),
    target(
      "W7 Trellis createMany <= 1.0x SQLite bulk insert",
      "ms",
      1,
      metricOf(rows, "W7", TRELLIS_W7_MANY, "totalMs"),
      metricOf(rows, "W7", SQLITE_W7_BULK, "totalMs"),
    ),
    speedup(
      "W6 Trellis live aggregate per write >= 10x faster than re-running the query",
      "µs",
      10,
      metricOf(rows, "W6", TRELLIS_W6_LIVE, "meanUs"),
      metricOf(rows, "W6", TRELLIS_W6_RERUN, "meanUs"),
    ),
  ];
}

/** The printed lines of the targets. */
export function targetLines(results: readonly TargetResult[]): string {
  const body = results.map((result) => [
    result.name,
    `${formatValue(result.trellis, 2)} ${result.unit}`,
    `${formatValue(result.peer, 2)} ${result.unit}`,
    `${formatValue(result.ratio, 2)}x`,
    `${result.comparison === "atMost" ? "<=" : ">="} ${result.limit}x`,
    result.status,
  ]);
  return `Targets (ratios of figures from this run)\n${table(["target", "Trellis", "peer", "ratio", "limit", ""], body)}`;
}

/** The one JSON line of a workload: its config and every row's metrics. */
export function workloadJson(workload: WorkloadId, rows: readonly ResultRow[], config: BenchConfig): string {
  return JSON.stringify({
    workload,
    scale: config.scale,
    results: rows.map((row) => ({ peer: row.peer, label: row.label, info: row.isInfo === true, ...row.metrics })),
  });
}
