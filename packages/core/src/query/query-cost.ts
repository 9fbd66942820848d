/**
 * The most linked documents one pass may examine when no limit is configured: one materialization
 * of a result through its relations, or one matching of rows through relational filters (the
 * first matching of a query, or what one commit makes a live query decide again).
 * The unit is one document a relation looks at for one parent, before the relation's `where` and
 * `limit` (an id in a forward ref, a hit of the reverse link's index, a row of a scan), so it
 * counts the work a pass does, not the size of the result. It admits 10,000 documents with 5
 * related documents each, then 1 more below each of those (100,000); a unit costs 0.1–1 µs,
 * the high end when it builds a document of its own.
 *
 * @example
 * new LiveQueryRegistry(store, { maxQueryCost: DEFAULT_MAX_QUERY_COST / 2 }); // a stricter server
 */
export const DEFAULT_MAX_QUERY_COST = 100_000;

/**
 * Options of whatever materializes results (`compileMaterializer`, `LiveQuery`,
 * `LiveQueryRegistry`).
 *
 * @example
 * const registry = new LiveQueryRegistry(store, { maxQueryCost: 50_000 });
 */
export interface QueryCostOptions {
  /**
   * The most linked documents the relations of one pass (one result, or one update of a live
   * result) may examine, counted as {@link DEFAULT_MAX_QUERY_COST} describes; `Infinity` for no
   * limit. Defaults to {@link DEFAULT_MAX_QUERY_COST}.
   */
  readonly maxQueryCost?: number;
}

/**
 * Thrown while materializing a result whose relations would examine more linked documents than
 * the pass may (see {@link QueryCostOptions}). It is an expected failure of that query, not a bug:
 * where results are returned as `{ data, error }`, report it as
 * `fail(error.code, error.message, error.details)`.
 *
 * @example
 * try {
 *   registry.acquire(normalized);
 * } catch (error) {
 *   if (error instanceof QueryCostError) return fail(error.code, error.message, error.details);
 *   throw error;
 * }
 */
export class QueryCostError extends Error {
  override readonly name = "QueryCostError";
  /** The code of the `DatabaseResult` error it maps to. */
  readonly code = "VALIDATION";
  /** Plain data for an error's `details`: the root collection, the relation (or `where: <link>` filter) that ran over, the limit. */
  readonly details: Readonly<{ collection: string; relation: string; limit: number }>;

  constructor(collection: string, relation: string, limit: number) {
    super(
      `A query of ${collection} would examine more than ${limit} linked documents through its relations or relational filters (the limit was reached at "${relation}"). ` +
        "Narrow the relations with where or limit, filter through fewer links, or nest fewer levels.",
    );
    this.details = { collection, relation, limit };
  }
}

/**
 * Counts the linked documents one pass examines and stops the pass, with a {@link QueryCostError},
 * as soon as they exceed its limit: before the examining is done, so a huge scan is never started.
 */
export class CostMeter {
  private spent = 0;

  constructor(
    private readonly limit: number,
    private readonly collection: string,
  ) {}

  /** Counts `count` more linked documents, examined by `relation`. */
  charge(count: number, relation: string): void {
    this.spent += count;
    if (this.spent > this.limit) throw new QueryCostError(this.collection, relation, this.limit);
  }
}

/** The limit of `options`, checked: a programmer error throws at once, naming the fix. */
export function maxQueryCostOf(options: QueryCostOptions | undefined, where: string): number {
  const max = options?.maxQueryCost;
  if (max === undefined) return DEFAULT_MAX_QUERY_COST;
  if (typeof max !== "number" || Number.isNaN(max) || max < 0) {
    throw new TypeError(
      `${where}: maxQueryCost must be a number of linked documents ≥ 0 (Infinity for no limit), got ${String(max)}.`,
    );
  }
  return max;
}
