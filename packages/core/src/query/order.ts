import type { FieldSpec } from "../schema/field.js";
import { compareValues } from "./compare.js";
import type { Direction } from "./query.js";
import { fieldReader } from "./read-field.js";
import type { SourceTable } from "./source.js";

/** A row with its sort key, computed once so sorting never reads the store twice. */
export interface Keyed {
  readonly row: number;
  readonly id: string;
  readonly key: readonly unknown[];
}

/** Sort keys and their comparison for one `orderBy`. */
export interface Ordering {
  keyOf(table: SourceTable, row: number): Keyed;
  compare(a: Keyed, b: Keyed): number;
}

/**
 * Compiles an `orderBy`. The order is total: `undefined` sorts first ascending and last
 * descending, and ties fall back to `id` ascending whatever the directions.
 */
export function compileOrder(
  orderBy: ReadonlyArray<readonly [string, Direction]>,
  specs: Readonly<Record<string, FieldSpec>>,
): Ordering {
  const readers = orderBy.map(([field]) => fieldReader(field, specs[field]!));
  const signs = orderBy.map(([, direction]) => (direction === "desc" ? -1 : 1));
  const count = readers.length;
  return {
    keyOf(table, row) {
      const key = new Array<unknown>(count);
      for (let i = 0; i < count; i++) key[i] = readers[i]!(table, row);
      return { row, id: table.idOf(row), key };
    },
    compare(a, b) {
      for (let i = 0; i < count; i++) {
        const order = compareValues(a.key[i], b.key[i]);
        if (order !== 0) return order * signs[i]!;
      }
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    },
  };
}

/**
 * Sorts keyed rows and keeps the first `limit`. With a small limit over many rows it keeps a
 * bounded sorted buffer (n log k) instead of sorting everything.
 */
export function sortKeyed(entries: Keyed[], compare: (a: Keyed, b: Keyed) => number, limit: number | undefined): Keyed[] {
  if (limit === undefined || limit * 8 >= entries.length) {
    entries.sort(compare);
    return limit === undefined ? entries : entries.slice(0, limit);
  }
  if (limit === 0) return [];
  const best: Keyed[] = [];
  for (const entry of entries) {
    if (best.length === limit && compare(entry, best[limit - 1]!) >= 0) continue;
    best.splice(insertionPoint(best, entry, compare), 0, entry);
    if (best.length > limit) best.pop();
  }
  return best;
}

/** Index at which `entry` keeps `sorted` sorted (after equal entries). */
export function insertionPoint(sorted: readonly Keyed[], entry: Keyed, compare: (a: Keyed, b: Keyed) => number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compare(sorted[mid]!, entry) <= 0) low = mid + 1;
    else high = mid;
  }
  return low;
}
