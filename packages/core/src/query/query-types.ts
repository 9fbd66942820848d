import type { JsonField } from "../schema/t.js";
import type { AutoFieldName, AutoFields, EntitiesDef, EntityDef, ReadValue } from "../schema/types.js";

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** Field names a query can reference: the entity's fields and the auto fields. */
export type QueryFieldName<E extends EntityDef> = (keyof E & string) | AutoFieldName;

/** The value of a field as read (auto fields included). */
export type QueryFieldValue<E extends EntityDef, K> = K extends AutoFieldName
  ? AutoFields[K]
  : K extends keyof E
    ? ReadValue<E[K]>
    : never;

/** The operand type of a filter on a value type (a refMany filters by one member id). */
type Operand<V> = V extends readonly (infer Item)[] ? Item : Exclude<V, undefined>;

/**
 * The operators a field of value type `V` takes. String operators only on strings, ranges only
 * on numbers, strings and dates.
 */
export type WhereOperators<V> = {
  equals?: Operand<V>;
  notEquals?: Operand<V>;
  in?: readonly Operand<V>[];
  notIn?: readonly Operand<V>[];
  isDefined?: boolean;
  isUndefined?: boolean;
} & (Operand<V> extends string ? { contains?: string; startsWith?: string; endsWith?: string } : {}) &
  (Operand<V> extends number | string | Date
    ? V extends readonly unknown[]
      ? {}
      : {
          greaterThan?: Operand<V>;
          greaterThanOrEqual?: Operand<V>;
          lessThan?: Operand<V>;
          lessThanOrEqual?: Operand<V>;
        }
    : {});

/** Whether field `K` of `E` is a `t.json` field: the engine filters those only by presence and never sorts them. */
type IsJsonField<E extends EntityDef, K> = K extends keyof E
  ? E[K] extends JsonField<any, boolean, boolean>
    ? true
    : false
  : false;

/** The filters field `K` takes: a bare value (equals) or operators; a JSON field only `isDefined` / `isUndefined`. */
export type FieldFilter<E extends EntityDef, K> =
  IsJsonField<E, K> extends true
    ? { isDefined?: boolean; isUndefined?: boolean }
    : Operand<QueryFieldValue<E, K>> | WhereOperators<QueryFieldValue<E, K>>;

/** The entity a `t.ref` / `t.refMany` field points at. */
type RefTarget<F> = F extends { readonly target: infer T extends string } ? T : never;

/** A relational filter through a ref/refMany field: some document it names matches `where` (never for other fields). */
type RelatedWhere<F, A extends EntitiesDef> = [RefTarget<F>] extends [never]
  ? never
  : RefTarget<F> extends keyof A
    ? { readonly where: WhereClause<A[RefTarget<F>], A> }
    : never;

/**
 * `where`: per field a bare value (equals) or an operator object; all must hold. `or` holds when
 * one of its filters does, `and` when all of its filters do, `not` when its filter does not.
 * With the schema's entities `A`, a ref/refMany field also takes `{ where }` (some document it
 * names matches) and an entity name `{ where, via? }` (some document of it pointing back matches).
 */
export type WhereClause<E extends EntityDef, A extends EntitiesDef = {}> = {
  [K in QueryFieldName<E>]?: FieldFilter<E, K> | (K extends keyof E ? RelatedWhere<E[K], A> : never) | undefined;
} & { [K in Exclude<keyof A & string, QueryFieldName<E>>]?: ReverseWhere<A[K], A> } & {
  readonly or?: ReadonlyArray<WhereClause<E, A>>;
  readonly and?: ReadonlyArray<WhereClause<E, A>>;
  readonly not?: WhereClause<E, A>;
};

/** A relational filter through an entity whose ref field (named with `via` when several) points back. */
export type ReverseWhere<E extends EntityDef, A extends EntitiesDef> = {
  readonly where: WhereClause<E, A>;
  readonly via?: string;
};

/** The nested query a ref/refMany field takes (never for other fields). */
type RelationOf<F, A extends EntitiesDef> = [RefTarget<F>] extends [never]
  ? never
  : RefTarget<F> extends keyof A
    ? RelationQuery<A[RefTarget<F>], A>
    : never;

/** A nested query selecting related documents; `via` names the link of a reverse relation. */
export type RelationQuery<E extends EntityDef, A extends EntitiesDef> = QueryDef<E, A> & { readonly via?: string };

/**
 * `fields`: the fields to return, each set to `true` (`false` is refused: leave a field out not to
 * select it); a ref/refMany field or an entity name (a reverse relation) set to a nested query
 * returns the related documents. `A` is every entity of the schema (relations are typed only when
 * it is given).
 */
export type FieldsSelection<E extends EntityDef, A extends EntitiesDef = {}> = {
  [K in QueryFieldName<E>]?: true | (K extends keyof E ? RelationOf<E[K], A> : never);
} & { [K in Exclude<keyof A & string, QueryFieldName<E>>]?: RelationQuery<A[K], A> };

/** Fields that can be sorted on (and grouped by): not JSON, not refMany. */
export type SortableName<E extends EntityDef> = {
  [K in QueryFieldName<E>]: IsJsonField<E, K> extends true
    ? never
    : Exclude<QueryFieldValue<E, K>, undefined> extends string | number | boolean | Date
      ? K
      : never;
}[QueryFieldName<E>];

/** One sort key, or several. */
export type OrderBy<E extends EntityDef> =
  readonly [SortableName<E>, "asc" | "desc"] | ReadonlyArray<readonly [SortableName<E>, "asc" | "desc"]>;

/** A query over one collection; `A` (every entity of the schema) types relations in `fields`. */
export interface QueryDef<E extends EntityDef, A extends EntitiesDef = {}> {
  readonly fields?: FieldsSelection<E, A>;
  readonly where?: WhereClause<E, A>;
  readonly orderBy?: OrderBy<E>;
  readonly limit?: number;
}

/** `T`'s keys that `Shape` does not have, each typed `never`. */
type ExcessKeys<T, Shape> = { [K in Exclude<keyof T, keyof Shape>]: never };

/** An operator object's excess keys (into a relational filter's `where`); bare values (strings, Dates, …) are left alone. */
type ExcessOperators<F, E extends EntityDef, K, A extends EntitiesDef> = F extends
  string | number | boolean | Date | readonly unknown[] | null | undefined
  ? unknown
  : F extends { readonly where: infer N }
    ? K extends keyof E
      ? RefTarget<E[K]> extends infer T extends keyof A
        ? { readonly where: StrictWhere<A[T], N, A> } & ExcessKeys<F, { where: unknown }>
        : unknown
      : unknown
    : ExcessKeys<F, Exclude<FieldFilter<E, K>, string | number | boolean | Date>>;

/** Excess-key checks of a `where`, into its `or`, `and`, `not` and relational filters too. */
type StrictWhere<E extends EntityDef, W, A extends EntitiesDef = {}> = ExcessKeys<W, WhereClause<E, A>> & {
  readonly [K in keyof W as K extends QueryFieldName<E> ? K : never]: ExcessOperators<W[K], E, K, A>;
} & {
  readonly [K in keyof W as K extends QueryFieldName<E> ? never : K extends keyof A ? K : never]: StrictReverse<
    W[K],
    A[K & keyof A],
    A
  >;
} & (W extends { readonly or: infer B extends ReadonlyArray<unknown> }
    ? { readonly or: StrictEach<E, B, A> }
    : unknown) &
  (W extends { readonly and: infer B extends ReadonlyArray<unknown> }
    ? { readonly and: StrictEach<E, B, A> }
    : unknown) &
  (W extends { readonly not: infer N } ? { readonly not: StrictWhere<E, N, A> } : unknown);

/** Excess-key checks of a relational filter through an entity pointing back (`{ where, via? }`). */
type StrictReverse<F, E extends EntityDef, A extends EntitiesDef> = F extends { readonly where: infer N }
  ? { readonly where: StrictWhere<E, N, A> } & ExcessKeys<F, ReverseWhere<E, A>>
  : unknown;

/**
 * Each filter of an `or` / `and` list checked on its own. Checked as one union, a key missing from
 * one filter (or an empty filter, `{}`) would drop the checks of the others: `keyof` a union holds
 * only the keys all its members share.
 */
type StrictEach<E extends EntityDef, B extends ReadonlyArray<unknown>, A extends EntitiesDef> = {
  readonly [I in keyof B]: StrictWhere<E, B[I], A>;
};

/** The entity that the relation selected as `fields[K]` of `E` reads (never for other fields). */
type RelatedEntity<E extends EntityDef, A extends EntitiesDef, K> = K extends keyof E
  ? RefTarget<E[K]> extends infer T extends keyof A
    ? A[T]
    : never
  : K extends keyof A
    ? A[K]
    : never;

/**
 * Excess-key checks of `fields`, into the nested queries of its relations: left to TypeScript,
 * a nested query is only refused when none of its keys is known (a weak type), so one known key
 * would let any unknown ones through.
 */
type StrictFields<E extends EntityDef, F, A extends EntitiesDef> = ExcessKeys<F, FieldsSelection<E, A>> & {
  readonly [K in keyof F]: F[K] extends object
    ? [RelatedEntity<E, A, K>] extends [never]
      ? unknown
      : StrictQuery<RelatedEntity<E, A, K>, Omit<F[K], "via">, A>
    : unknown;
};

/**
 * Excess-key checks for a query inferred as a type parameter (`query<const Q>(q: Q & StrictQuery<E, Q>)`),
 * where TypeScript does not check excess properties itself: unknown options, unknown fields in
 * `fields` or `where`, and operators a field does not take become errors at the offending key,
 * in each filter of an `or` / `and` list and in the nested queries of relations alike.
 */
export type StrictQuery<E extends EntityDef, Q, A extends EntitiesDef = {}> = ExcessKeys<Q, QueryDef<E, A>> &
  (Q extends { readonly fields: infer F } ? { readonly fields: StrictFields<E, F, A> } : unknown) &
  (Q extends { readonly where: infer W }
    ? {
        readonly where: StrictWhere<E, W, A>;
      }
    : unknown);

/** What a relation selected with nested query `N` reads as. */
type RelationResult<E extends EntityDef, A extends EntitiesDef, K, N> = K extends keyof E
  ? RefTarget<E[K]> extends infer T extends keyof A
    ? ReadValue<E[K]> extends readonly unknown[]
      ? QueryResultDoc<A[T], N, A>[]
      : QueryResultDoc<A[T], N, A> | undefined
    : never
  : K extends keyof A
    ? QueryResultDoc<A[K], N, A>[]
    : never;

/**
 * The document type a query returns: the fields set to `true` and the relations selected with a
 * nested query, or (with no `fields`) every entity field plus `id`.
 */
export type QueryResultDoc<E extends EntityDef, Q, A extends EntitiesDef = {}> = Q extends { readonly fields: infer F }
  ? Simplify<{
      -readonly [K in keyof F as F[K] extends true ? K : F[K] extends object ? K : never]: F[K] extends true
        ? QueryFieldValue<E, K>
        : RelationResult<E, A, K, F[K]>;
    }>
  : Simplify<{ id: string } & { -readonly [K in keyof E]: ReadValue<E[K]> }>;

/** A query to paginate: any query without `limit`, plus the page size. */
export type PaginatedQueryDef<E extends EntityDef, A extends EntitiesDef = {}> = Omit<QueryDef<E, A>, "limit"> & {
  readonly pageSize: number;
  /** Pages take `pageSize` instead. */
  readonly limit?: never;
};

/** Excess-key checks of a paginated query (see `StrictQuery`). */
export type StrictPaginatedQuery<E extends EntityDef, Q, A extends EntitiesDef = {}> = StrictQuery<
  E,
  Omit<Q, "pageSize">,
  A
>;
