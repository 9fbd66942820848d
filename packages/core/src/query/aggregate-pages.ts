import { GroupAggregator } from "./aggregate-groups.js";
import type { AggregateResultRow, NormalizedAggregateQuery } from "./aggregate-query.js";

/**
 * The position of an aggregated row in its query's order: the values it is ordered by and its
 * group key, in comparable form (dates as epoch ms). Group keys are unique, so a cursor names
 * one place between rows whatever their aggregates become.
 */
export interface AggregateCursor {
  readonly sort: readonly unknown[];
  readonly key: readonly unknown[];
}

/** Where a page of aggregated rows starts: after a cursor, before one, at the end, or (none) at the beginning. */
export interface AggregateAnchor {
  readonly after?: AggregateCursor;
  readonly before?: AggregateCursor;
  /** The last page: the rows before the end. */
  readonly isLast?: boolean;
}

/** A page of aggregated rows and where it sits among all of them. */
export interface AggregatePage {
  readonly rows: readonly AggregateResultRow[];
  /** Every aggregated row (every group). */
  readonly total: number;
  /** Rows before the page. */
  readonly before: number;
  /** Rows after the page. */
  readonly after: number;
}

/**
 * Keyset pages over the aggregated rows of a query (all of them, in query order, as a live
 * aggregate without a limit holds them): rows strictly after or before a row's cursor, `size`
 * at a time, so groups appearing or leaving elsewhere never shift a page. The order is the
 * aggregate engine's own (`orderBy`, then the group key).
 *
 * @example
 * const pages = new AggregatePages(normalizedAggregate, 10);
 * const rows = runAggregate(store, normalizedAggregate);
 * const first = pages.pageOf(rows, {});
 * const second = pages.pageOf(rows, { after: pages.cursorOf(first.rows.at(-1)!) });
 */
export class AggregatePages {
  private readonly aggregator: GroupAggregator;

  constructor(
    private readonly query: NormalizedAggregateQuery,
    readonly size: number,
  ) {
    this.aggregator = new GroupAggregator(query);
  }

  cursorOf(row: AggregateResultRow): AggregateCursor {
    return {
      sort: this.query.orderBy.map(([name]) => comparable(row[name])),
      key: this.query.groupBy.map((field) => comparable(row[field])),
    };
  }

  /** The page at `anchor` among `rows` (every aggregated row, in query order). */
  pageOf(rows: readonly AggregateResultRow[], anchor: AggregateAnchor): AggregatePage {
    let start = anchor.after === undefined ? 0 : this.firstAfter(rows, anchor.after, 0);
    let end = anchor.before === undefined ? rows.length : this.firstAfter(rows, anchor.before, -1);
    if (end < start) end = start;
    if (end - start > this.size) {
      if (anchor.after === undefined && (anchor.before !== undefined || anchor.isLast === true))
        start = end - this.size;
      else end = start + this.size;
    }
    return { rows: rows.slice(start, end), total: rows.length, before: start, after: rows.length - end };
  }

  /** Index of the first row ordered after `cursor` (`bias` 0), or at or after it (`bias` -1). */
  private firstAfter(rows: readonly AggregateResultRow[], cursor: AggregateCursor, bias: 0 | -1): number {
    let low = 0;
    let high = rows.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const at = this.cursorOf(rows[mid]!);
      if (this.aggregator.compare(at.sort, at.key, cursor.sort, cursor.key) <= bias) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}

function comparable(value: unknown): unknown {
  return value instanceof Date ? value.getTime() : value;
}
