import type { BenchConfig } from "./config.js";

/** Marks the line of a child process's stdout that carries its rows as JSON. */
export const RESULT_PREFIX = "@@result ";

/** Labels of the two W6 rows the aggregate target compares (live subscription vs re-running the query). */
export const TRELLIS_W6_LIVE = "Trellis (query; live: subscribe)";
export const TRELLIS_W6_RERUN = "Trellis (re-run query per write)";

/** Labels of the W7 rows its targets compare: one `createMany`, a loop of `create`, SQLite's bulk insert. */
export const TRELLIS_W7_MANY = "Trellis (createMany)";
export const TRELLIS_W7_LOOP = "Trellis (loop of await create)";
export const SQLITE_W7_BULK = "SQLite (prepared INSERT in one transaction, :memory:)";

/** The workloads of the suite. */
export type WorkloadId = "W1" | "W2" | "W3" | "W3L" | "W4" | "W5" | "W6" | "W7";

/** The peers measured; each runs in its own child process per workload. */
export type PeerId = "trellis" | "plain" | "sqlite" | "tinybase" | "triplit";

/**
 * One row of the report: a peer (or a variant of it, `label`) on one workload. Metric names are
 * per workload (see report.ts); times in ms or µs as their names say, sizes in bytes.
 */
export interface ResultRow {
  readonly workload: WorkloadId;
  readonly peer: PeerId;
  /** What is shown in the table, e.g. "trellis (batch)". */
  readonly label: string;
  /** Rows marked informational are printed but not used for targets. */
  readonly isInfo?: boolean;
  readonly metrics: Readonly<Record<string, number | string>>;
}

/** A workload implementation of one peer: runs it and returns its rows. */
export type WorkloadRunner = (config: BenchConfig) => Promise<ResultRow[]>;

/** The workloads a peer takes part in. */
export type PeerBench = Partial<Record<WorkloadId, WorkloadRunner>>;
