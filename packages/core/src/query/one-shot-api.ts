import type { DatabaseResult } from "../errors.js";
import type {
  AutoFieldName,
  CreateInput,
  Doc,
  EntitiesDef,
  EntityDef,
  ReplaceInput,
  UpdateInput,
} from "../schema/types.js";
import type { CreateManyOptions } from "../write/local-writer.js";
import type {
  AggregateQueryDef,
  AggregateRow,
  PaginatedAggregateQueryDef,
  StrictAggregateQuery,
  StrictPaginatedAggregateQuery,
} from "./aggregate-types.js";
import type { PreloadData } from "./preload-data.js";
import type {
  PaginatedQueryDef,
  QueryDef,
  QueryResultDoc,
  StrictPaginatedQuery,
  StrictQuery,
  WhereClause,
} from "./query-types.js";

/**
 * New field values, or a function computing them from the current document. The function may not
 * return the read-only auto fields (as `{ ...previous }` would): writes refuse them.
 */
export type FieldsOrUpdater<E extends EntityDef, TInput> =
  TInput | ((previous: Doc<E>) => TInput & { readonly [K in AutoFieldName]?: never });

/**
 * Preloads of one collection, for pages rendered on a server that a browser client then follows
 * (see docs/preload.md): what the client's `database.<collection>` and the admin client share.
 */
export interface PreloadApi<E extends EntityDef, A extends EntitiesDef = {}> {
  /** An aggregate query's rows as plain, serialisable data for `subscribe(preloaded, …)`. */
  preload<const Q extends AggregateQueryDef<E, A>>(
    query: Q & StrictAggregateQuery<E, Q, A>,
  ): Promise<DatabaseResult<PreloadData<AggregateRow<E, Q>, "many">>>;
  /** A query's result as plain, serialisable data for `subscribe(preloaded, …)`. */
  preload<const Q extends QueryDef<E, A> = {}>(
    query?: Q & StrictQuery<E, Q, A>,
  ): Promise<DatabaseResult<PreloadData<QueryResultDoc<E, Q, A>, "many">>>;
  /** An aggregate query's first row as plain, serialisable data for `subscribeOne(preloaded, …)`. */
  preloadOne<const Q extends AggregateQueryDef<E, A>>(
    query: Q & StrictAggregateQuery<E, Q, A>,
  ): Promise<DatabaseResult<PreloadData<AggregateRow<E, Q>, "one">>>;
  /** A query's first match as plain, serialisable data for `subscribeOne(preloaded, …)`. */
  preloadOne<const Q extends QueryDef<E, A> = {}>(
    query?: Q & StrictQuery<E, Q, A>,
  ): Promise<DatabaseResult<PreloadData<QueryResultDoc<E, Q, A>, "one">>>;
  /** The first page of aggregated rows of `paginated(query)`, as plain data for `paginated(preloaded)`. */
  preloadPaginated<const Q extends PaginatedAggregateQueryDef<E, A>>(
    query: Q & StrictPaginatedAggregateQuery<E, Q, A>,
  ): Promise<DatabaseResult<PreloadData<AggregateRow<E, Q>, "paginated">>>;
  /** The first page of `paginated(query)` as plain, serialisable data for `paginated(preloaded)`. */
  preloadPaginated<const Q extends PaginatedQueryDef<E, A>>(
    query: Q & StrictPaginatedQuery<E, Q, A>,
  ): Promise<DatabaseResult<PreloadData<QueryResultDoc<E, Q, A>, "paginated">>>;
}

/**
 * The one-shot reads and writes of one collection, typed by the schema: what the client's
 * `database.<collection>` and the server's admin client have in common.
 */
export interface OneShotCollectionApi<E extends EntityDef, A extends EntitiesDef = {}> {
  /** Creates a document (with the given `id`, or a generated one); returns it whole, auto fields included. */
  create(fields: CreateInput<E>): Promise<DatabaseResult<Doc<E>>>;
  /**
   * Creates documents all or none, in one transaction (subscribers hear it once); returns them
   * whole, in order. An invalid document fails the call with a VALIDATION error whose
   * `details.index` names it, and nothing is written.
   */
  createMany(
    documents: readonly CreateInput<E>[],
    options?: CreateManyOptions & { readonly returnDocuments?: true },
  ): Promise<DatabaseResult<Doc<E>[]>>;
  /** With `{ returnDocuments: false }`: returns only how many were created. */
  createMany(
    documents: readonly CreateInput<E>[],
    options: CreateManyOptions & { readonly returnDocuments: false },
  ): Promise<DatabaseResult<{ count: number }>>;
  /** With `returnDocuments` known only at run time: the documents or their count. */
  createMany(
    documents: readonly CreateInput<E>[],
    options: CreateManyOptions,
  ): Promise<DatabaseResult<Doc<E>[] | { count: number }>>;
  /** Changes some fields; a function receives the current document and runs atomically. */
  update(args: { id: string; fields: FieldsOrUpdater<E, UpdateInput<E>> }): Promise<DatabaseResult<void>>;
  /** Sets every field: required ones must be given, the rest are removed. */
  replace(args: { id: string; fields: FieldsOrUpdater<E, ReplaceInput<E>> }): Promise<DatabaseResult<void>>;
  /** Deletes a document for good. */
  delete(id: string): Promise<DatabaseResult<void>>;
  /** `update` on every match of `where`, in one transaction. */
  updateMany(args: {
    where?: WhereClause<E, A>;
    fields: FieldsOrUpdater<E, UpdateInput<E>>;
  }): Promise<DatabaseResult<{ count: number }>>;
  /** `replace` on every match of `where`, in one transaction. */
  replaceMany(args: {
    where?: WhereClause<E, A>;
    fields: FieldsOrUpdater<E, ReplaceInput<E>>;
  }): Promise<DatabaseResult<{ count: number }>>;
  /** Deletes every match of `where`, in one transaction. */
  deleteMany(args: { where?: WhereClause<E, A> }): Promise<DatabaseResult<{ count: number }>>;
  // `Q & StrictQuery<E, Q>`: a query inferred as `Q` gets no excess-property checks of its own.
  // Code forwarding a generic query (adapters' hooks) declares its parameter the same way.
  /** Runs an aggregate query once: one row, or one per group with `groupBy`. */
  query<const Q extends AggregateQueryDef<E, A>>(
    query: Q & StrictAggregateQuery<E, Q, A>,
  ): Promise<DatabaseResult<AggregateRow<E, Q>[]>>;
  /** Runs a query once. */
  query<const Q extends QueryDef<E, A> = {}>(
    query?: Q & StrictQuery<E, Q, A>,
  ): Promise<DatabaseResult<QueryResultDoc<E, Q, A>[]>>;
  /** The first row of an aggregate query, or undefined. */
  queryOne<const Q extends AggregateQueryDef<E, A>>(
    query: Q & StrictAggregateQuery<E, Q, A>,
  ): Promise<DatabaseResult<AggregateRow<E, Q> | undefined>>;
  /** The first match of a query, or undefined. */
  queryOne<const Q extends QueryDef<E, A> = {}>(
    query?: Q & StrictQuery<E, Q, A>,
  ): Promise<DatabaseResult<QueryResultDoc<E, Q, A> | undefined>>;
}
