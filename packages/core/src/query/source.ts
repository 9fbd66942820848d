import type { RangeBounds } from "../store/indexes.js";

/**
 * One collection as the query engine sees it. The client's in-memory triple store is one
 * implementation; the server's SQLite-backed store is another. Rows are opaque numbers.
 */
export interface SourceTable {
  /** The collection's name. */
  readonly name: string;
  /** Live (not deleted) documents. */
  liveRows(): number[];
  readonly liveCount: number;
  /** Only some of the collection's documents are in memory (a client's working set dropped others). */
  readonly isPartial?: boolean;
  rowOf(id: string): number | undefined;
  isLive(row: number): boolean;
  idOf(row: number): string;
  /** Stored value of a field (set fields: sorted members), or undefined. */
  get(row: number, field: string): unknown;
  /** HLC ticks of the row's latest write (its `updatedAt`). */
  updatedTicksOf(row: number): number;
  /** HLC ticks of the write that set a field (orders documents created in the same millisecond). */
  ticksOf?(row: number, field: string): number | undefined;
  /** Optional equality index: rows whose stored value equals (or set contains) a value. */
  equalityIndex?(field: string): { get(value: unknown): ReadonlySet<number> };
  /** Optional range index: rows whose stored value lies in the bounds. */
  rangeIndex?(field: string): { count(bounds: RangeBounds): number; lookup(bounds: RangeBounds): number[] };
}

/** Where the query engine reads documents from. */
export interface Source {
  table(collection: string): SourceTable | undefined;
  /**
   * A number that changes whenever any table's documents may have changed, so answers computed
   * from the source can be reused while it stays the same; undefined when unknown (nothing is
   * reused), as during a transaction.
   */
  readonly version?: number | undefined;
}
