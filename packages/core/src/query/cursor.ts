import { insertionPoint, type Keyed } from "./order.js";
import type { Cursor, NormalizedQuery } from "./normalized-query.js";

type Compare = (a: Keyed, b: Keyed) => number;

/** One cursor object per sorted entry, so a window's cursors keep their identity while unchanged. */
const cursors = new WeakMap<Keyed, Cursor>();

/**
 * The cursor of a sorted entry: its sort keys (missing values as `null`, so the cursor is plain
 * JSON) and its id.
 *
 * @example
 * const [entry] = sortedMatches(store.table("users")!, normalized, 1);
 * cursorOf(entry!, normalized.orderBy.length); // { keys: [36, "Ada"], id: "u1" }
 */
export function cursorOf(entry: Keyed, keyCount: number): Cursor {
  let cursor = cursors.get(entry);
  if (cursor === undefined) {
    const keys: unknown[] = [];
    if (keyCount > 0) keys.push(entry.first ?? null);
    for (const key of entry.rest) keys.push(key ?? null);
    cursor = { keys, id: entry.id };
    cursors.set(entry, cursor);
  }
  return cursor;
}

/**
 * The position a cursor names, as an entry `Ordering.compare` can compare with real rows.
 *
 * @example
 * const entries = sortedMatches(store.table("users")!, normalized, undefined);
 * const cursor = keyedOfCursor({ keys: [36, "Ada"], id: "u1" });
 * const later = entries.filter((entry) => ordering.compare(entry, cursor) > 0); // the entries after the cursor
 */
export function keyedOfCursor(cursor: Cursor): Keyed {
  const keys = cursor.keys.map((key) => (key === null ? undefined : key));
  return { row: -1, id: cursor.id, first: keys[0], rest: keys.slice(1) };
}

/** Entries `[start, end)` of a sorted match set: the page a query shows. */
export interface WindowBounds {
  readonly start: number;
  readonly end: number;
}

/** The page of a query (its cursors and limit) over its sorted match set. */
export interface PageWindow {
  /** Whether an entry lies strictly between the cursors. */
  contains(entry: Keyed): boolean;
  /** With only a `before` cursor the page is the `limit` entries closest to it, counted backwards. */
  readonly isFromEnd: boolean;
  /** The page's entries within a sorted match set. */
  bounds(sorted: readonly Keyed[]): WindowBounds;
}

/**
 * Compiles the page of a query: the matches strictly after `after` and strictly before
 * `before`, then `limit` of them counted from the `after` side, or from the `before` side when
 * only `before` is given (the page preceding a cursor, still in ascending query order).
 *
 * @example
 * const after = { keys: [36, "Ada"], id: "u1" };
 * const page = compilePageWindow({ ...normalized, after, limit: 20 }, ordering.compare);
 * const { start, end } = page.bounds(sortedMatches(store.table("users")!, normalized, undefined));
 */
export function compilePageWindow(query: NormalizedQuery, compare: Compare): PageWindow {
  const after = query.after === undefined ? undefined : keyedOfCursor(query.after);
  const before = query.before === undefined ? undefined : keyedOfCursor(query.before);
  const limit = query.limit ?? Infinity;
  const isFromEnd = after === undefined && before !== undefined;
  return {
    isFromEnd,
    contains(entry) {
      return (after === undefined || compare(entry, after) > 0) && (before === undefined || compare(entry, before) < 0);
    },
    bounds(sorted) {
      let start = after === undefined ? 0 : insertionPoint(sorted, after, compare);
      let end = before === undefined ? sorted.length : firstAtOrAbove(sorted, before, compare);
      if (end < start) end = start;
      if (end - start > limit) {
        if (isFromEnd) start = end - limit;
        else end = start + limit;
      }
      return { start, end };
    },
  };
}

/** Index of the first entry greater than or equal to `entry` (`insertionPoint` is the first greater one). */
function firstAtOrAbove(sorted: readonly Keyed[], entry: Keyed, compare: Compare): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compare(sorted[mid]!, entry) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

/**
 * Where a live query's visible page sits in its full match set, with the cursors that continue
 * it: `after: last` is the next page, `before: first` the previous one.
 */
export interface ResultWindow {
  /** Every match of the query, ignoring cursors and limit. */
  readonly total: number;
  /** Matches before the visible page. */
  readonly before: number;
  /** Matches after the visible page. */
  readonly after: number;
  /** Cursor of the first visible document (undefined when the page is empty). */
  readonly first: Cursor | undefined;
  /** Cursor of the last visible document (undefined when the page is empty). */
  readonly last: Cursor | undefined;
}

/** The window of an empty match set. */
export const EMPTY_WINDOW: ResultWindow = { total: 0, before: 0, after: 0, first: undefined, last: undefined };

/**
 * The window of `bounds` over `sorted`, or `previous` itself when nothing about it changed (so a
 * signal holding it notifies only on real changes). `sorted` may hold only the first of `total`
 * matches, as long as it holds the page.
 *
 * @example
 * const entries = sortedMatches(store.table("users")!, normalized, undefined);
 * const page = compilePageWindow(normalized, ordering.compare);
 * let window = EMPTY_WINDOW;
 * // The same object again while nothing about the window changed:
 * window = resultWindow(window, entries, page.bounds(entries), normalized.orderBy.length);
 */
export function resultWindow(
  previous: ResultWindow,
  sorted: readonly Keyed[],
  bounds: WindowBounds,
  keyCount: number,
  total = sorted.length,
): ResultWindow {
  const { start, end } = bounds;
  const first = end > start ? cursorOf(sorted[start]!, keyCount) : undefined;
  const last = end > start ? cursorOf(sorted[end - 1]!, keyCount) : undefined;
  const after = total - end;
  if (
    previous.total === total &&
    previous.before === start &&
    previous.after === after &&
    previous.first === first &&
    previous.last === last
  ) {
    return previous;
  }
  return { total, before: start, after, first, last };
}
