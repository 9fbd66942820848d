import type { RowChange } from "../store/table.js";
import { indexCanAnswer } from "./plan.js";
import { type Condition, isFieldCondition, type NormalizedQuery } from "./normalized-query.js";
import type { SourceTable } from "./source.js";
import { type FieldReader, fieldReader, readDependsOnCreatedAt } from "./read-field.js";

/**
 * An equality key set a view is routed by: a row can concern the view only if its stored value
 * of `field` (or `id`) is one of `keys`, before or after a change.
 */
export interface Route {
  readonly field: string;
  readonly keys: readonly unknown[];
}

/**
 * A numeric interval a view is routed by: a row can concern the view only if the value it reads
 * for `field` (after fallbacks, as its filter reads it) lies within, before or after a change.
 * Bounds missing are infinite.
 */
export interface RangeRoute {
  readonly field: string;
  readonly read: FieldReader;
  readonly low: number;
  readonly isLowIncluded: boolean;
  readonly high: number;
  readonly isHighIncluded: boolean;
}

/** A collection a view follows, optionally narrowed by an equality route and a range route. */
export interface Watch {
  readonly collection: string;
  readonly route?: Route | undefined;
  readonly range?: RangeRoute | undefined;
  /**
   * The routes say all the view's filter says (see {@link routesDecide}): a row matches exactly
   * when its value is the route's key and lies in the range, so the registry tells the view
   * whether the row matched before and after a change (`LiveView.applyMembership`).
   */
  readonly isDecided?: boolean;
}

/**
 * Anything the {@link LiveQueryRegistry} keeps up to date from store commits: live queries,
 * live aggregates. The registry offers a view only the row changes its watches can see, calls
 * `apply` for those, `reset` instead after a bulk commit, then `flush` once per commit inside a
 * signals `batch`.
 */
export interface LiveView {
  readonly watches: readonly Watch[];
  /** Whether a committed row change could alter the view. */
  canSee(table: SourceTable, row: number, change: RowChange): boolean;
  /** Folds one row change in. */
  apply(table: SourceTable, row: number, change: RowChange): void;
  /**
   * Folds one row change in whose membership the routes decided (a watch with `isDecided`):
   * whether the row matches after the change, and whether it matched before. Returns whether
   * it has something to publish on `flush`.
   */
  applyMembership?(table: SourceTable, row: number, change: RowChange, isMember: boolean, wasMember: boolean): boolean;
  /**
   * For a view its routes decide: the fields whose change can move a matching row along its
   * order (undefined: any field's), and the rows it shows. A change that keeps a row matching
   * and touches none of those fields matters to the view only if it shows the row.
   */
  readonly orderFields?: ReadonlySet<string> | undefined;
  readonly shownRows?: readonly number[];
  /** Recomputes from the table after a bulk commit touched it. */
  reset(table: SourceTable): void;
  /** Publishes what changed; returns whether anything did. */
  flush(): boolean;
  /**
   * The rows of `collection` the view reads when it next changes (a working set must keep them
   * in memory), or undefined when it may read any row of it (it then stays whole in memory).
   */
  heldRows?(collection: string): Iterable<number> | undefined;
}

/**
 * The equality route of a `where`: the first `equals`/`in` filter that a document without a
 * stored value could not satisfy (see `indexCanAnswer`), or undefined.
 */
export function routeOf(where: readonly Condition[], specs: NormalizedQuery["specs"]): Route | undefined {
  for (const condition of where) {
    // Only a condition every match must meet routes; `or` and `not` may be met otherwise.
    if (!isFieldCondition(condition)) continue;
    if (condition.op !== "equals" && condition.op !== "in") continue;
    if (condition.field === "updatedAt") continue;
    const spec = condition.spec ?? specs[condition.field]!;
    if (condition.field !== "id" && !indexCanAnswer(condition, spec)) continue;
    const keys = condition.op === "equals" ? [condition.operand] : (condition.operand as unknown[]);
    return { field: condition.field, keys };
  }
  return undefined;
}

const LOWER_BOUNDS: ReadonlySet<string> = new Set(["greaterThan", "greaterThanOrEqual"]);
const UPPER_BOUNDS: ReadonlySet<string> = new Set(["lessThan", "lessThanOrEqual"]);

/**
 * The range route of a `where`: the interval that its top-level bounds on one number or date
 * field (the first such field) leave, or undefined. Such a bound holds only for a number, which
 * is what the route checks, so it is exact for any fallback; `updatedAt` and dates whose fallback
 * is `now` read more than the field's own stored value, which a change's before-values lack.
 */
export function rangeRouteOf(where: readonly Condition[], specs: NormalizedQuery["specs"]): RangeRoute | undefined {
  let range: { -readonly [K in keyof RangeRoute]: RangeRoute[K] } | undefined;
  for (const condition of where) {
    if (!isFieldCondition(condition) || typeof condition.operand !== "number") continue;
    const isLow = LOWER_BOUNDS.has(condition.op);
    if (!isLow && !UPPER_BOUNDS.has(condition.op)) continue;
    const spec = condition.spec ?? specs[condition.field]!;
    if (condition.field === "updatedAt" || (spec.type !== "number" && spec.type !== "date")) continue;
    if (readDependsOnCreatedAt(spec)) continue;
    if (range === undefined) {
      range = {
        field: condition.field,
        read: fieldReader(condition.field, spec),
        low: -Infinity,
        isLowIncluded: true,
        high: Infinity,
        isHighIncluded: true,
      };
    } else if (range.field !== condition.field) continue;
    const bound = condition.operand;
    const isIncluded = condition.op.endsWith("OrEqual");
    if (isLow && (bound > range.low || (bound === range.low && !isIncluded))) {
      range.low = bound;
      range.isLowIncluded = isIncluded;
    } else if (!isLow && (bound < range.high || (bound === range.high && !isIncluded))) {
      range.high = bound;
      range.isHighIncluded = isIncluded;
    }
  }
  return range;
}

/** Field types whose stored value is the value a filter reads, so an equality key decides a match. */
const DECIDING_KEY_TYPES: ReadonlySet<string> = new Set(["string", "number", "boolean", "ref"]);

/**
 * Whether a `where` says nothing but its routes: one equality condition on the route's single
 * key (a plain field or `id`) and bounds on the range's field, read as the route reads them.
 * Then whether a row matches is decided by the routes that reach the view, and its filter
 * need not run.
 */
export function routesDecide(
  where: readonly Condition[],
  specs: NormalizedQuery["specs"],
  route: Route | undefined,
  range: RangeRoute | undefined,
): boolean {
  if (route !== undefined) {
    if (route.keys.length !== 1) return false;
    if (route.field !== "id" && !DECIDING_KEY_TYPES.has(specs[route.field]?.type ?? "")) return false;
  }
  let keyConditions = 0;
  for (const condition of where) {
    if (!isFieldCondition(condition) || condition.spec !== undefined) return false;
    if (condition.field === route?.field && condition.op === "equals" && condition.operand === route.keys[0]) {
      keyConditions++;
      continue;
    }
    const isBound = LOWER_BOUNDS.has(condition.op) || UPPER_BOUNDS.has(condition.op);
    if (!isBound || condition.field !== range?.field || typeof condition.operand !== "number") return false;
  }
  return keyConditions === (route === undefined ? 0 : 1);
}
