import type { FieldSpec } from "../schema/field.js";
import type { Condition, Direction, NormalizedQuery } from "./normalized-query.js";

/** Aggregate functions of `aggregations`. @example const fn: AggregateFunction = "avg"; */
export type AggregateFunction = "count" | "sum" | "avg" | "min" | "max";

/** One aggregate of a normalized aggregate query. @example const n: NormalizedAggregate = { name: "n", fn: "count", field: null }; */
export interface NormalizedAggregate {
  /** Its key in the result rows. */
  readonly name: string;
  readonly fn: AggregateFunction;
  /** The field aggregated; null for `count: "*"`. */
  readonly field: string | null;
}

/**
 * An aggregate query checked against the schema and reduced to plain JSON, like
 * `NormalizedQuery`: what the engine runs, what a live aggregate is keyed by, and what the
 * server can run without a schema (the read rules of each field referenced travel in `specs`).
 *
 * @example
 * const { data: normalized } = normalizeAggregateQuery(schema.collections.posts!, {
 *   aggregations: { n: { count: "*" } },
 *   groupBy: ["tag"],
 * });
 * // { collection: "posts", where: [], groupBy: ["tag"], aggregations: [{ name: "n", fn: "count", field: null }], orderBy: [], limit: undefined, specs: { tag: … } }
 */
export interface NormalizedAggregateQuery {
  readonly collection: string;
  readonly where: readonly Condition[];
  /** Group fields, in order; empty for one row over every match. */
  readonly groupBy: readonly string[];
  readonly aggregations: readonly NormalizedAggregate[];
  /** Over the aggregated rows: each name is a group field or an aggregate name. */
  readonly orderBy: ReadonlyArray<readonly [name: string, direction: Direction]>;
  readonly limit: number | undefined;
  /** Read rules of every field the query references. */
  readonly specs: Readonly<Record<string, FieldSpec>>;
}

/** A row of an aggregate result: the group field values (users' form) and the aggregate values. @example const row: AggregateResultRow = { tag: "a", n: 2 }; */
export type AggregateResultRow = Record<string, unknown>;

/**
 * Whether a user query is an aggregate query: one with `aggregations` or `groupBy`.
 *
 * @example
 * isAggregateQuery({ aggregations: { n: { count: "*" } } }); // true
 */
export function isAggregateQuery(input: unknown): boolean {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return false;
  const query = input as Record<string, unknown>;
  return query.aggregations !== undefined || query.groupBy !== undefined;
}

/**
 * Whether a normalized query is an aggregate one (a preload's query may be either).
 *
 * @example
 * const { data: preloaded } = await client.database.todos.preload({ aggregations: { n: { count: "*" } } });
 * isNormalizedAggregate(preloaded!.query); // true
 */
export function isNormalizedAggregate(
  query: NormalizedQuery | NormalizedAggregateQuery,
): query is NormalizedAggregateQuery {
  return "aggregations" in query;
}
