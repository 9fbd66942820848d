import type { FieldReader } from "./read-field.js";
import type { LiveView, RangeRoute } from "./live-view.js";

/** A view as the live query registry keeps it. */
export interface Registration {
  readonly view: LiveView;
  readonly key: string;
  count: number;
  /** Stamp of the last row change offered to the view (a view reachable twice hears it once). */
  visitedAt: number;
  /** Stamp of the last commit that changed the view. */
  dirtyAt: number;
  /** Its routes decide whether a row matches (see `Watch.isDecided`). */
  readonly isDecided: boolean;
  /** A decided view's `orderFields`, kept here so routing need not touch the view. */
  readonly orderFields?: ReadonlySet<string> | undefined;
  /** The shown rows the registry indexed for a decided view; undefined when it shows too many to index. */
  shown?: readonly number[] | undefined;
}

/**
 * The views routed to one place (an equality key, or a collection's views without one): those
 * without a range route, and per field the ones with a range on it.
 */
export class RouteBucket {
  readonly plain = new Set<Registration>();
  readonly ranges = new Map<string, RangeList>();

  get isEmpty(): boolean {
    return this.plain.size === 0 && this.ranges.size === 0;
  }

  add(registration: Registration, range: RangeRoute | undefined): void {
    if (range === undefined) {
      this.plain.add(registration);
      return;
    }
    let list = this.ranges.get(range.field);
    if (list === undefined) this.ranges.set(range.field, (list = new RangeList(range.field, range.read)));
    list.add(registration, range);
  }

  delete(registration: Registration, range: RangeRoute | undefined): void {
    if (range === undefined) {
      this.plain.delete(registration);
      return;
    }
    const list = this.ranges.get(range.field);
    if (list?.delete(registration) === true && list.size === 0) this.ranges.delete(range.field);
  }

  /** Adds every view of the bucket to `into`. */
  collect(into: Set<Registration>): void {
    for (const registration of this.plain) into.add(registration);
    for (const list of this.ranges.values()) list.collect(into);
  }
}

/**
 * Views routed by intervals of one field, their bounds in flat arrays: finding the ones that
 * hold a value scans numbers, and touches only the views it finds.
 */
export class RangeList {
  private readonly lows: number[] = [];
  private readonly highs: number[] = [];
  /** Bit 1: the low bound is included; bit 2: the high bound is. */
  private readonly inclusions: number[] = [];
  private readonly registrations: Registration[] = [];

  constructor(
    readonly field: string,
    /** Reads the field as the views' filters do. */
    readonly read: FieldReader,
  ) {}

  get size(): number {
    return this.registrations.length;
  }

  add(registration: Registration, range: RangeRoute): void {
    this.lows.push(range.low);
    this.highs.push(range.high);
    this.inclusions.push((range.isLowIncluded ? 1 : 0) | (range.isHighIncluded ? 2 : 0));
    this.registrations.push(registration);
  }

  /** Removes a view; returns whether it was there. */
  delete(registration: Registration): boolean {
    const index = this.registrations.indexOf(registration);
    if (index < 0) return false;
    const last = this.registrations.length - 1;
    this.lows[index] = this.lows[last]!;
    this.highs[index] = this.highs[last]!;
    this.inclusions[index] = this.inclusions[last]!;
    this.registrations[index] = this.registrations[last]!;
    this.lows.pop();
    this.highs.pop();
    this.inclusions.pop();
    this.registrations.pop();
    return true;
  }

  /**
   * Calls `visit` with every view whose interval holds the value after a change or the one
   * before it (the same when the field did not change), saying which do. Only numbers lie in
   * an interval.
   */
  visit(
    after: unknown,
    before: unknown,
    visit: (registration: Registration, holdsAfter: boolean, holdsBefore: boolean) => void,
  ): void {
    const { lows, highs, inclusions } = this;
    for (let i = 0; i < lows.length; i++) {
      const holdsAfter = holds(after, lows[i]!, highs[i]!, inclusions[i]!);
      const holdsBefore = before === after ? holdsAfter : holds(before, lows[i]!, highs[i]!, inclusions[i]!);
      if (holdsAfter || holdsBefore) visit(this.registrations[i]!, holdsAfter, holdsBefore);
    }
  }

  collect(into: Set<Registration>): void {
    for (const registration of this.registrations) into.add(registration);
  }
}

/** Whether `value` is a number within the interval (`inclusion` bit 1: low included; bit 2: high included). */
function holds(value: unknown, low: number, high: number, inclusion: number): boolean {
  if (typeof value !== "number" || value < low || value > high) return false;
  return !((value === low && (inclusion & 1) === 0) || (value === high && (inclusion & 2) === 0));
}
