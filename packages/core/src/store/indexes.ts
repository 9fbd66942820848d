/**
 * Secondary indexes over one field of one table. Both hold only live rows and are kept by the
 * table as cells change. They narrow candidates; the query engine re-checks every candidate,
 * so an index never decides a match on its own.
 */

/** Values an index can key on: primitives only (JSON values are never indexed). */
export function isIndexable(value: unknown): value is string | number | boolean {
  const type = typeof value;
  return type === "string" || type === "number" || type === "boolean";
}

/** Rows by stored value (for a set field: by each member). */
export class EqualityIndex {
  private readonly rowsByValue = new Map<unknown, Set<number>>();

  add(row: number, value: unknown): void {
    if (Array.isArray(value)) {
      for (const member of value) this.addOne(row, member);
    } else if (isIndexable(value)) {
      this.addOne(row, value);
    }
  }

  remove(row: number, value: unknown): void {
    if (Array.isArray(value)) {
      for (const member of value) this.removeOne(row, member);
    } else if (isIndexable(value)) {
      this.removeOne(row, value);
    }
  }

  /** Rows holding `value`; empty when none. */
  get(value: unknown): ReadonlySet<number> {
    return this.rowsByValue.get(value) ?? EMPTY;
  }

  private addOne(row: number, value: unknown): void {
    let rows = this.rowsByValue.get(value);
    if (rows === undefined) this.rowsByValue.set(value, (rows = new Set()));
    rows.add(row);
  }

  private removeOne(row: number, value: unknown): void {
    const rows = this.rowsByValue.get(value);
    if (rows === undefined) return;
    rows.delete(row);
    if (rows.size === 0) this.rowsByValue.delete(value);
  }
}

const EMPTY: ReadonlySet<number> = new Set();

/** Bounds of a range lookup; bounds are numbers or strings, both of one type. */
export interface RangeBounds {
  readonly lower?: number | string;
  readonly lowerInclusive?: boolean;
  readonly upper?: number | string;
  readonly upperInclusive?: boolean;
}

/**
 * Rows sorted by a number or string field. Writes only mark it stale; the next range lookup
 * re-sorts, so bulk loads and write bursts cost one sort, not one splice per write.
 */
export class RangeIndex {
  private sorted: number[] = [];
  private keys: Array<number | string> = [];
  private isStale = true;

  constructor(
    private readonly liveRows: () => number[],
    private readonly valueOf: (row: number) => unknown,
  ) {}

  markStale(): void {
    this.isStale = true;
  }

  /** How many rows {@link lookup} would return, without building the list. */
  count(bounds: RangeBounds): number {
    const [start, end] = this.span(bounds);
    return Math.max(0, end - start);
  }

  /** Rows whose value has the bounds' type and lies within them, in value order. */
  lookup(bounds: RangeBounds): number[] {
    const [start, end] = this.span(bounds);
    return this.sorted.slice(start, end);
  }

  private span(bounds: RangeBounds): [number, number] {
    if (this.isStale) this.rebuild();
    const type = typeof (bounds.lower ?? bounds.upper);
    const keys = this.keys;
    // Numbers sort before strings, so each type occupies one contiguous run.
    let start = type === "string" ? this.firstString() : 0;
    let end = type === "string" ? keys.length : this.firstString();
    if (bounds.lower !== undefined) start = this.search(bounds.lower, bounds.lowerInclusive !== true, start, end);
    if (bounds.upper !== undefined) end = this.search(bounds.upper, bounds.upperInclusive === true, start, end);
    return [start, end];
  }

  private rebuild(): void {
    const entries: Array<[number | string, number]> = [];
    for (const row of this.liveRows()) {
      const value = this.valueOf(row);
      // NaN has no place in an order (every comparison with it is false), so one stored NaN would
      // corrupt the sort and the binary searches; it never satisfies a range anyway.
      if ((typeof value === "number" && !Number.isNaN(value)) || typeof value === "string") entries.push([value, row]);
    }
    entries.sort((a, b) => compareKeys(a[0], b[0]) || a[1] - b[1]);
    this.keys = entries.map((entry) => entry[0]);
    this.sorted = entries.map((entry) => entry[1]);
    this.isStale = false;
  }

  private firstString(): number {
    let low = 0;
    let high = this.keys.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (typeof this.keys[mid] === "number") low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** First position in [low, high) whose key is > bound (afterEqual) or >= bound. */
  private search(bound: number | string, afterEqual: boolean, low: number, high: number): number {
    while (low < high) {
      const mid = (low + high) >>> 1;
      const order = compareKeys(this.keys[mid]!, bound);
      if (order < 0 || (afterEqual && order === 0)) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}

function compareKeys(a: number | string, b: number | string): number {
  if (typeof a !== typeof b) return typeof a === "number" ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
