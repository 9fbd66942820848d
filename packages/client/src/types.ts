import type {
  AggregateQueryDef,
  AggregateRow,
  AutoFieldName,
  CreateInput,
  DatabaseResult,
  Doc,
  EntitiesDef,
  EntityDef,
  QueryDef,
  QueryResultDoc,
  ReplaceInput,
  StrictAggregateQuery,
  StrictQuery,
  UpdateInput,
  WhereClause,
} from "@trellis/core";
import type { PaginatedController, PaginatedQueryDef, StrictPaginatedQuery } from "./paginated-types.js";
import type { PreloadData } from "./preload.js";

/** The state a subscription last delivered. */
export interface SubscriptionState<T> {
  readonly data: T | undefined;
  readonly error: DatabaseResult<never>["error"] | undefined;
  /** True only while the first result is unknown (never for a local-only client). */
  readonly loading: boolean;
}

/** Called at once with the current result, then each time the result changes. */
export type SubscribeCallback<T> = (
  data: T | undefined,
  error: SubscriptionState<T>["error"],
  loading: boolean,
) => void;

/** A live subscription. */
export interface Subscription<T> {
  getCurrentState(): SubscriptionState<T>;
  unsubscribe(): void;
}

/**
 * New field values, or a function computing them from the current document. The function may not
 * return the read-only auto fields (as `{ ...previous }` would): writes refuse them.
 */
export type FieldsOrUpdater<E extends EntityDef, TInput> =
  | TInput
  | ((previous: Doc<E>) => TInput & { readonly [K in AutoFieldName]?: never });

/**
 * The typed API of one collection: `client.database.users`.
 *
 * @example
 * const { data: user } = await client.database.users.create({ name: "Ada" });
 * await client.database.users.update({ id: user!.id, fields: (prev) => ({ age: (prev.age ?? 0) + 1 }) });
 */
export interface CollectionApi<E extends EntityDef, A extends EntitiesDef = {}> {
  /** Creates a document; returns it whole, auto fields included. */
  create(fields: CreateInput<E>): Promise<DatabaseResult<Doc<E>>>;
  /** Changes some fields; a function receives the current document and runs atomically. */
  update(args: { id: string; fields: FieldsOrUpdater<E, UpdateInput<E>> }): Promise<DatabaseResult<void>>;
  /** Sets every field: required ones must be given, the rest are removed. */
  replace(args: { id: string; fields: FieldsOrUpdater<E, ReplaceInput<E>> }): Promise<DatabaseResult<void>>;
  /** Deletes a document for good. */
  delete(id: string): Promise<DatabaseResult<void>>;
  /** `update` on every match of `where`, in one transaction. */
  updateMany(args: { where?: WhereClause<E, A>; fields: FieldsOrUpdater<E, UpdateInput<E>> }): Promise<DatabaseResult<{ count: number }>>;
  /** `replace` on every match of `where`, in one transaction. */
  replaceMany(args: { where?: WhereClause<E, A>; fields: FieldsOrUpdater<E, ReplaceInput<E>> }): Promise<DatabaseResult<{ count: number }>>;
  /** Deletes every match of `where`, in one transaction. */
  deleteMany(args: { where?: WhereClause<E, A> }): Promise<DatabaseResult<{ count: number }>>;
  // `Q & StrictQuery<E, Q>`: a query inferred as `Q` gets no excess-property checks of its own.
  // Code forwarding a generic query (adapters' hooks) declares its parameter the same way.
  /** Runs an aggregate query once: one row, or one per group with `groupBy`. */
  query<const Q extends AggregateQueryDef<E, A>>(query: Q & StrictAggregateQuery<E, Q, A>): Promise<DatabaseResult<AggregateRow<E, Q>[]>>;
  /** Runs a query once. */
  query<const Q extends QueryDef<E, A> = {}>(query?: Q & StrictQuery<E, Q, A>): Promise<DatabaseResult<QueryResultDoc<E, Q, A>[]>>;
  /** The first row of an aggregate query, or undefined. */
  queryOne<const Q extends AggregateQueryDef<E, A>>(query: Q & StrictAggregateQuery<E, Q, A>): Promise<DatabaseResult<AggregateRow<E, Q> | undefined>>;
  /** The first match of a query, or undefined. */
  queryOne<const Q extends QueryDef<E, A> = {}>(query?: Q & StrictQuery<E, Q, A>): Promise<DatabaseResult<QueryResultDoc<E, Q, A> | undefined>>;
  /** Follows preloaded data (from `preload`): the first call carries it as is, with loading false; live data follows. */
  subscribe<T>(preloaded: PreloadData<T, "many">, callback: SubscribeCallback<readonly T[]>): Subscription<readonly T[]>;
  /** Follows an aggregate query; the rows are maintained incrementally. */
  subscribe<const Q extends AggregateQueryDef<E, A>>(
    query: Q & StrictAggregateQuery<E, Q, A>,
    callback: SubscribeCallback<readonly AggregateRow<E, Q>[]>,
  ): Subscription<readonly AggregateRow<E, Q>[]>;
  /** Follows a query: `callback` runs at once and again whenever the result changes. */
  subscribe<const Q extends QueryDef<E, A>>(
    query: Q & StrictQuery<E, Q, A>,
    callback: SubscribeCallback<readonly QueryResultDoc<E, Q, A>[]>,
  ): Subscription<readonly QueryResultDoc<E, Q, A>[]>;
  /** Follows preloaded data (from `preloadOne`): the first call carries it as is, with loading false; live data follows. */
  subscribeOne<T>(preloaded: PreloadData<T, "one">, callback: SubscribeCallback<T | undefined>): Subscription<T | undefined>;
  /** Follows the first row of an aggregate query. */
  subscribeOne<const Q extends AggregateQueryDef<E, A>>(
    query: Q & StrictAggregateQuery<E, Q, A>,
    callback: SubscribeCallback<AggregateRow<E, Q> | undefined>,
  ): Subscription<AggregateRow<E, Q> | undefined>;
  /** Follows the first match of a query. */
  subscribeOne<const Q extends QueryDef<E, A>>(
    query: Q & StrictQuery<E, Q, A>,
    callback: SubscribeCallback<QueryResultDoc<E, Q, A> | undefined>,
  ): Subscription<QueryResultDoc<E, Q, A> | undefined>;
  /** Continues a page preloaded by `preloadPaginated`: its first state is the preloaded page. */
  paginated<T>(preloaded: PreloadData<T, "paginated">): PaginatedController<T>;
  /** Pages through a query, `pageSize` documents at a time, live and keyset-based (see docs/pagination.md). */
  paginated<const Q extends PaginatedQueryDef<E, A>>(query: Q & StrictPaginatedQuery<E, Q, A>): PaginatedController<QueryResultDoc<E, Q, A>>;
  /** A query's result as plain, serialisable data for `subscribe(preloaded, …)` (see docs/preload.md). */
  preload<const Q extends QueryDef<E, A> = {}>(query?: Q & StrictQuery<E, Q, A>): Promise<DatabaseResult<PreloadData<QueryResultDoc<E, Q, A>, "many">>>;
  /** A query's first match as plain, serialisable data for `subscribeOne(preloaded, …)`. */
  preloadOne<const Q extends QueryDef<E, A> = {}>(query?: Q & StrictQuery<E, Q, A>): Promise<DatabaseResult<PreloadData<QueryResultDoc<E, Q, A>, "one">>>;
  /** The first page of `paginated(query)` as plain, serialisable data for `paginated(preloaded)`. */
  preloadPaginated<const Q extends PaginatedQueryDef<E, A>>(
    query: Q & StrictPaginatedQuery<E, Q, A>,
  ): Promise<DatabaseResult<PreloadData<QueryResultDoc<E, Q, A>, "paginated">>>;
}

/** A serialisable description of one write, made by `database.batch.<collection>.<op>(…)`. */
export type BatchOperation =
  | { readonly kind: "create"; readonly collection: string; readonly fields: Record<string, unknown> }
  | { readonly kind: "update" | "replace"; readonly collection: string; readonly id: string; readonly fields: Record<string, unknown> }
  | { readonly kind: "delete"; readonly collection: string; readonly id: string }
  | { readonly kind: "updateMany" | "replaceMany"; readonly collection: string; readonly where: Record<string, unknown>; readonly fields: Record<string, unknown> }
  | { readonly kind: "deleteMany"; readonly collection: string; readonly where: Record<string, unknown> };

/** Batch builders of one collection: the same writes as data. */
export interface BatchCollection<E extends EntityDef, A extends EntitiesDef = {}> {
  create(fields: CreateInput<E>): BatchOperation;
  update(args: { id: string; fields: UpdateInput<E> }): BatchOperation;
  replace(args: { id: string; fields: ReplaceInput<E> }): BatchOperation;
  delete(id: string): BatchOperation;
  updateMany(args: { where?: WhereClause<E, A>; fields: UpdateInput<E> }): BatchOperation;
  replaceMany(args: { where?: WhereClause<E, A>; fields: ReplaceInput<E> }): BatchOperation;
  deleteMany(args: { where?: WhereClause<E, A> }): BatchOperation;
}

/** `database.batch`: builders per collection and `execute`. */
export type BatchApi<TEntities extends EntitiesDef> = { readonly [K in keyof TEntities]: BatchCollection<TEntities[K], TEntities> } & {
  /**
   * Runs operations in order, as one notification to subscribers, and returns each one's
   * result. Not atomic: a failed operation does not undo the others.
   */
  execute(operations: readonly BatchOperation[]): Promise<DatabaseResult<DatabaseResult<unknown>[]>>;
};

/** `client.database`: one {@link CollectionApi} per entity, plus `batch`. */
export type Database<TEntities extends EntitiesDef> = { readonly [K in keyof TEntities]: CollectionApi<TEntities[K], TEntities> } & {
  readonly batch: BatchApi<TEntities>;
};
