import { compilePageWindow } from "./cursor.js";
import { compileOrder, type Keyed, type Ordering, sortKeyed } from "./order.js";
import { candidateRows } from "./plan.js";
import { compileWhere } from "./predicate.js";
import type { NormalizedQuery } from "./normalized-query.js";
import { CostMeter, maxQueryCostOf, type QueryCostOptions } from "./query-cost.js";
import type { Source, SourceTable } from "./source.js";

/**
 * Runs a normalized query against a source: the rows of the result, in order, limited, and
 * within its cursors when it has any (see {@link pageMatches}). Its relational filters examine at
 * most `options.maxQueryCost` linked documents, or it throws `QueryCostError`.
 *
 * @example
 * const rows = runQuery(store, normalized); // then materialize(...)
 */
export function runQuery(source: Source, query: NormalizedQuery, options?: QueryCostOptions): number[] {
  const table = source.table(query.collection);
  if (table === undefined) return [];
  return pageMatches(table, query, source, options).map((entry) => entry.row);
}

/** The meter of one matching pass (see `QueryCostOptions`), for a query with relational filters. */
export function matchMeter(query: NormalizedQuery, options: QueryCostOptions | undefined): CostMeter {
  return new CostMeter(maxQueryCostOf(options, "runQuery"), query.collection);
}

/**
 * All matching rows with their sort keys, sorted, cut to `limit` when given. Cursors are not
 * applied: this is the full match set a live query keeps and pages are windows of.
 */
export function sortedMatches(
  table: SourceTable,
  query: NormalizedQuery,
  limit: number | undefined,
  source?: Source,
  options?: QueryCostOptions,
): Keyed[] {
  const ordering = compileOrder(query.orderBy, query.specs);
  return sortKeyed(keyedMatches(table, query, ordering, undefined, source, options), ordering.compare, limit);
}

/**
 * The page of a query: its matches strictly after `query.after` and strictly before
 * `query.before`, sorted, then `limit` of them counted from the `after` side, or, with only a
 * `before` cursor, the `limit` closest to it (still in ascending query order).
 *
 * @example
 * const table = store.table(normalized.collection)!; // users
 * pageMatches(table, { ...normalized, after: { keys: [36, "Ada"], id: "u1" }, limit: 20 }); // the 20 rows after Ada's
 */
export function pageMatches(
  table: SourceTable,
  query: NormalizedQuery,
  source?: Source,
  options?: QueryCostOptions,
): Keyed[] {
  if (query.after === undefined && query.before === undefined)
    return sortedMatches(table, query, query.limit, source, options);
  const ordering = compileOrder(query.orderBy, query.specs);
  const page = compilePageWindow(query, ordering.compare);
  const entries = keyedMatches(table, query, ordering, page.contains, source, options);
  if (!page.isFromEnd) return sortKeyed(entries, ordering.compare, query.limit);
  // The `limit` largest entries before the cursor: select them in reverse order, then flip.
  return sortKeyed(entries, (a, b) => ordering.compare(b, a), query.limit).reverse();
}

/**
 * Every matching row with its sort key, unsorted; with `keep`, only the entries it keeps.
 *
 * @example
 * const entries = keyedMatches(store.table("users")!, normalized, ordering, undefined, store, undefined);
 */
export function keyedMatches(
  table: SourceTable,
  query: NormalizedQuery,
  ordering: Ordering,
  keep: ((entry: Keyed) => boolean) | undefined,
  source: Source | undefined,
  options: QueryCostOptions | undefined,
): Keyed[] {
  const test = compileWhere(query.where, query.specs, source);
  const meter = matchMeter(query, options);
  const entries: Keyed[] = [];
  for (const row of candidateRows(table, query)) {
    if (!test(table, row, meter)) continue;
    const entry = ordering.keyOf(table, row);
    if (keep === undefined || keep(entry)) entries.push(entry);
  }
  return entries;
}
