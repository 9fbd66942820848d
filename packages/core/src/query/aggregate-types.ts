import type { EntitiesDef, EntityDef } from "../schema/types.js";
import type { AggregateFunction } from "./aggregate-query.js";
import type { QueryFieldName, QueryFieldValue, SortableName, StrictQuery, WhereClause } from "./query-types.js";

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** Fields `groupBy` takes: any but `t.json` and `t.refMany`. @example type G = GroupableName<Posts>; // "title" | "tag" | … */
export type GroupableName<E extends EntityDef> = SortableName<E>;

/** Fields `sum` and `avg` take: numbers. @example type S = SummableName<Posts>; // "viewCount" | … */
export type SummableName<E extends EntityDef> = {
  [K in SortableName<E>]: Exclude<QueryFieldValue<E, K>, undefined> extends number ? K : never;
}[SortableName<E>];

/** Fields `min` and `max` take: numbers, strings (refs included) and dates. @example type M = ExtremeName<Posts>; */
export type ExtremeName<E extends EntityDef> = {
  [K in SortableName<E>]: Exclude<QueryFieldValue<E, K>, undefined> extends boolean ? never : K;
}[SortableName<E>];

/** One aggregate function applied to one field, the other functions excluded. */
type Only<F extends AggregateFunction, V> = { readonly [P in F]: V } & {
  readonly [P in Exclude<AggregateFunction, F>]?: never;
};

/**
 * One aggregate: `{ count: "*" }` counts rows, `{ count: "field" }` rows where the field is
 * defined (for a refMany: non-empty), `sum`/`avg` take numbers, `min`/`max` numbers, strings and dates.
 *
 * @example
 * const views: AggregateDef<Posts> = { sum: "viewCount" };
 */
export type AggregateDef<E extends EntityDef> =
  | Only<"count", "*" | QueryFieldName<E>>
  | Only<"sum", SummableName<E>>
  | Only<"avg", SummableName<E>>
  | Only<"min", ExtremeName<E>>
  | Only<"max", ExtremeName<E>>;

/** `aggregations`: result key → aggregate. @example const a: AggregationsDef<Posts> = { n: { count: "*" } }; */
export type AggregationsDef<E extends EntityDef> = { readonly [name: string]: AggregateDef<E> };

/** `orderBy` over aggregated rows: group fields and aggregate names `N`. @example const o: AggregateOrderBy<"n"> = ["n", "desc"]; */
export type AggregateOrderBy<N extends string = string> =
  readonly [N, "asc" | "desc"] | ReadonlyArray<readonly [N, "asc" | "desc"]>;

interface AggregateQueryOptions<E extends EntityDef, A extends EntitiesDef> {
  readonly where?: WhereClause<E, A>;
  readonly orderBy?: AggregateOrderBy;
  readonly limit?: number;
  /** Aggregated rows hold group fields and aggregate values: `fields` does not combine with them. */
  readonly fields?: never;
}

/**
 * An aggregate query: `aggregations`, `groupBy` or both, with optional `where`, and `orderBy`/
 * `limit` over the aggregated rows.
 *
 * @example
 * const q = { aggregations: { n: { count: "*" } }, groupBy: ["tag"], orderBy: ["n", "desc"] } satisfies AggregateQueryDef<Posts>;
 */
export type AggregateQueryDef<E extends EntityDef, A extends EntitiesDef = {}> = AggregateQueryOptions<E, A> &
  (
    | { readonly aggregations: AggregationsDef<E>; readonly groupBy?: readonly GroupableName<E>[] }
    | { readonly aggregations?: AggregationsDef<E>; readonly groupBy: readonly GroupableName<E>[] }
  );

/**
 * An aggregate query to page through its aggregated rows: no `limit`, and the page size.
 *
 * @example
 * const q = { aggregations: { n: { count: "*" } }, groupBy: ["tag"], orderBy: ["n", "desc"], pageSize: 10 } satisfies PaginatedAggregateQueryDef<Posts>;
 */
export type PaginatedAggregateQueryDef<E extends EntityDef, A extends EntitiesDef = {}> = AggregateQueryDef<E, A> & {
  readonly pageSize: number;
  /** Pages take `pageSize` instead. */
  readonly limit?: never;
};

/**
 * Excess-key checks of a paginated aggregate query (see {@link StrictAggregateQuery}).
 *
 * @example
 * function pages<const Q extends PaginatedAggregateQueryDef<Posts>>(query: Q & StrictPaginatedAggregateQuery<Posts, Q>) {}
 */
export type StrictPaginatedAggregateQuery<E extends EntityDef, Q, A extends EntitiesDef = {}> = StrictAggregateQuery<
  E,
  Omit<Q, "pageSize">,
  A
>;

type GroupFieldsOf<Q> = Q extends { readonly groupBy: readonly (infer K)[] } ? K : never;
type AggregationsOf<Q> = Q extends { readonly aggregations: infer A } ? A : {};
/** The names `orderBy` may use in aggregate query `Q`. */
type RowNames<Q> = (GroupFieldsOf<Q> | keyof AggregationsOf<Q>) & string;

type ExcessKeys<T, Allowed extends PropertyKey> = { [K in Exclude<keyof T, Allowed>]: never };

/**
 * Checks for an aggregate query inferred as a type parameter, where TypeScript does not check
 * excess properties itself: unknown options (`fields` among them), unknown keys in an aggregate,
 * `where` as in {@link StrictQuery}, and `orderBy` names that are neither group fields nor
 * aggregates.
 *
 * @example
 * function aggregate<const Q extends AggregateQueryDef<Posts>>(query: Q & StrictAggregateQuery<Posts, Q>) {}
 */
export type StrictAggregateQuery<E extends EntityDef, Q, A extends EntitiesDef = {}> = ExcessKeys<
  Q,
  "aggregations" | "where" | "groupBy" | "orderBy" | "limit"
> &
  StrictQuery<E, Pick<Q, "where" & keyof Q>, A> &
  (Q extends { readonly aggregations: infer A }
    ? { readonly aggregations: { readonly [K in keyof A]: ExcessKeys<A[K], AggregateFunction> } }
    : unknown) &
  (Q extends { readonly orderBy: infer O }
    ? O extends AggregateOrderBy<RowNames<Q>>
      ? unknown
      : { readonly orderBy: AggregateOrderBy<RowNames<Q>> }
    : unknown);

/**
 * The value type of one aggregate: counts and sums are numbers; avg, min and max may be undefined (no values).
 * @example type V = AggregateValue<Posts, { max: "publishedAt" }>; // Date | undefined
 */
export type AggregateValue<E extends EntityDef, A> = A extends { readonly count: unknown }
  ? number
  : A extends { readonly sum: unknown }
    ? number
    : A extends { readonly avg: unknown }
      ? number | undefined
      : A extends { readonly min: infer K }
        ? Exclude<QueryFieldValue<E, K>, undefined> | undefined
        : A extends { readonly max: infer K }
          ? Exclude<QueryFieldValue<E, K>, undefined> | undefined
          : never;

/**
 * A row of an aggregate query's result: each group field with its read type (Dates for dates)
 * and each aggregate's value.
 *
 * @example
 * type Row = AggregateRow<Posts, { groupBy: ["tag"]; aggregations: { n: { count: "*" } } }>; // { tag: string; n: number }
 */
export type AggregateRow<E extends EntityDef, Q> = Simplify<
  { -readonly [K in GroupFieldsOf<Q> & QueryFieldName<E>]: QueryFieldValue<E, K> } & {
    -readonly [K in keyof AggregationsOf<Q>]: AggregateValue<E, AggregationsOf<Q>[K]>;
  }
>;
