import { TICKS_PER_MS } from "../hlc.js";
import type { FieldSpec } from "../schema/field.js";
import { CREATED_AT_FIELD } from "../triples.js";
import { compareValues } from "./compare.js";
import type { Direction } from "./normalized-query.js";
import { fieldReader } from "./read-field.js";
import type { SourceTable } from "./source.js";

/**
 * A row with its sort key, computed once so sorting never reads the store twice. The first key
 * is a property of its own: most orders have one key, and comparing it needs no array access.
 */
export interface Keyed {
  readonly row: number;
  readonly id: string;
  readonly first: unknown;
  /** Keys after the first (empty for single-key orders). */
  readonly rest: readonly unknown[];
}

/** Sort keys and their comparison for one `orderBy`. */
export interface Ordering {
  keyOf(table: SourceTable, row: number): Keyed;
  compare(a: Keyed, b: Keyed): number;
}

const NO_KEYS: readonly unknown[] = [];

const readCreatedAt = fieldReader(CREATED_AT_FIELD, { type: "date", optional: true });

/**
 * The sort key of `createdAt`: its milliseconds plus the fraction of a millisecond its HLC counter
 * adds, so documents one client creates within the same millisecond sort in the order it created
 * them (the HLC orders them; ids would not). Filters read `createdAt` in whole milliseconds.
 */
function creationKey(table: SourceTable, row: number): unknown {
  const millis = readCreatedAt(table, row);
  const ticks = table.ticksOf?.(row, CREATED_AT_FIELD);
  return typeof millis !== "number" || ticks === undefined ? millis : millis + (ticks % TICKS_PER_MS) / TICKS_PER_MS;
}

/** Order of two values of one key: a fast path for defined values of one type. */
function compareKey(x: unknown, y: unknown): number {
  if (typeof x === typeof y && x !== undefined) return (x as number) < (y as number) ? -1 : 1;
  return compareValues(x, y);
}

/**
 * Compiles an `orderBy`. The order is total: `undefined` sorts first ascending and last
 * descending, and ties fall back to `id` ascending whatever the directions.
 */
export function compileOrder(
  orderBy: ReadonlyArray<readonly [string, Direction]>,
  specs: Readonly<Record<string, FieldSpec>>,
): Ordering {
  const readers = orderBy.map(([field]) =>
    field === CREATED_AT_FIELD ? creationKey : fieldReader(field, specs[field]!),
  );
  const signs = orderBy.map(([, direction]) => (direction === "desc" ? -1 : 1));
  const count = readers.length;
  const readFirst = readers[0];
  const firstSign = signs[0] ?? 1;
  return {
    keyOf(table, row) {
      let rest = NO_KEYS;
      if (count > 1) {
        const keys = new Array<unknown>(count - 1);
        for (let i = 1; i < count; i++) keys[i - 1] = readers[i]!(table, row);
        rest = keys;
      }
      return { row, id: table.idOf(row), first: readFirst === undefined ? undefined : readFirst(table, row), rest };
    },
    compare(a, b) {
      if (a.first !== b.first) return compareKey(a.first, b.first) * firstSign;
      for (let i = 1; i < count; i++) {
        const x = a.rest[i - 1];
        const y = b.rest[i - 1];
        if (x !== y) return compareKey(x, y) * signs[i]!;
      }
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    },
  };
}

/**
 * Sorts keyed rows and keeps the first `limit`. With a small limit over many rows it first
 * moves the best `limit` to the front with quickselect (linear on average, whatever the input
 * order), then sorts only those.
 */
export function sortKeyed(
  entries: Keyed[],
  compare: (a: Keyed, b: Keyed) => number,
  limit: number | undefined,
): Keyed[] {
  if (limit !== undefined && limit * 8 < entries.length) {
    selectSmallest(entries, limit, compare);
    entries.length = limit;
  }
  entries.sort(compare);
  return limit === undefined || entries.length <= limit ? entries : entries.slice(0, limit);
}

/** Reorders `entries` so its first `k` are the k smallest (in any order). */
function selectSmallest(entries: Keyed[], k: number, compare: (a: Keyed, b: Keyed) => number): void {
  let low = 0;
  let high = entries.length - 1;
  while (low < high) {
    const pivot = medianOfThree(entries, low, (low + high) >>> 1, high, compare);
    let i = low;
    let j = high;
    while (i <= j) {
      while (compare(entries[i]!, pivot) < 0) i++;
      while (compare(entries[j]!, pivot) > 0) j--;
      if (i <= j) {
        const swap = entries[i]!;
        entries[i] = entries[j]!;
        entries[j] = swap;
        i++;
        j--;
      }
    }
    // Now [low, j] <= pivot <= [i, high]; keep narrowing towards position k.
    if (k - 1 <= j) high = j;
    else if (k - 1 >= i) low = i;
    else return;
  }
}

function medianOfThree(
  entries: Keyed[],
  a: number,
  b: number,
  c: number,
  compare: (a: Keyed, b: Keyed) => number,
): Keyed {
  const x = entries[a]!;
  const y = entries[b]!;
  const z = entries[c]!;
  if (compare(x, y) < 0) return compare(y, z) < 0 ? y : compare(x, z) < 0 ? z : x;
  return compare(x, z) < 0 ? x : compare(y, z) < 0 ? z : y;
}

/** Index at which `entry` keeps `sorted` sorted (after equal entries). */
export function insertionPoint(
  sorted: readonly Keyed[],
  entry: Keyed,
  compare: (a: Keyed, b: Keyed) => number,
): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compare(sorted[mid]!, entry) <= 0) low = mid + 1;
    else high = mid;
  }
  return low;
}
