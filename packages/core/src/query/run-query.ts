import { compileOrder, type Keyed, sortKeyed } from "./order.js";
import { candidateRows } from "./plan.js";
import { compileWhere } from "./predicate.js";
import type { NormalizedQuery } from "./query.js";
import type { Source, SourceTable } from "./source.js";

/**
 * Runs a normalized query against a source: the rows of the result, in order, limited.
 *
 * @example
 * const rows = runQuery(store, normalized); // then materialize(...)
 */
export function runQuery(source: Source, query: NormalizedQuery): number[] {
  const table = source.table(query.collection);
  if (table === undefined) return [];
  return sortedMatches(table, query, query.limit).map((entry) => entry.row);
}

/** All matching rows with their sort keys, sorted, cut to `limit` when given. */
export function sortedMatches(table: SourceTable, query: NormalizedQuery, limit: number | undefined): Keyed[] {
  const test = compileWhere(query.where, query.specs);
  const ordering = compileOrder(query.orderBy, query.specs);
  const entries: Keyed[] = [];
  for (const row of candidateRows(table, query)) {
    if (test(table, row)) entries.push(ordering.keyOf(table, row));
  }
  return sortKeyed(entries, ordering.compare, limit);
}
