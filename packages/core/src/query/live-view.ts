import type { RowChange } from "../store/table.js";
import { indexCanAnswer } from "./plan.js";
import { type Condition, isFieldCondition, type NormalizedQuery } from "./normalized-query.js";
import type { SourceTable } from "./source.js";

/**
 * An equality key set a view is routed by: a row can concern the view only if its stored value
 * of `field` (or `id`) is one of `keys`, before or after a change.
 */
export interface Route {
  readonly field: string;
  readonly keys: readonly unknown[];
}

/** A collection a view follows, optionally narrowed by a route. */
export interface Watch {
  readonly collection: string;
  readonly route?: Route | undefined;
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
