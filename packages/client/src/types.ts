import type {
  AggregateQueryDef,
  AggregateRow,
  BatchApi,
  DatabaseResult,
  EntitiesDef,
  EntityDef,
  OneShotCollectionApi,
  PaginatedAggregateQueryDef,
  PreloadApi,
  QueryDef,
  QueryResultDoc,
  StrictAggregateQuery,
  StrictPaginatedAggregateQuery,
  StrictQuery,
} from "@trellis/core";
import type { PaginatedController, PaginatedQueryDef, StrictPaginatedQuery } from "./paginated-types.js";
import type { PreloadData } from "./preload.js";

/** The state a subscription last delivered. */
export interface SubscriptionState<T> {
  readonly data: T | undefined;
  readonly error: DatabaseResult<never>["error"] | undefined;
  /** True only while the first result is unknown (never for a local-only client). */
  readonly loading: boolean;
  /**
   * Whether the server has answered this query: now, in an earlier session (the client keeps
   * its cursor), or through preloaded data. False while the result is local data only: a
   * local-only client, or one that has not reached its server yet (offline, or a wrong
   * `serverUrl`). Once true it stays true.
   */
  readonly hasSynced: boolean;
}

/** Called at once with the current result, then each time the result (or `hasSynced`) changes. */
export type SubscribeCallback<T> = (
  data: T | undefined,
  error: SubscriptionState<T>["error"],
  loading: boolean,
  hasSynced: boolean,
) => void;

/** A live subscription. */
export interface Subscription<T> {
  getCurrentState(): SubscriptionState<T>;
  unsubscribe(): void;
}

/**
 * The typed API of one collection: `client.database.users`. Its one-shot reads and writes are
 * {@link OneShotCollectionApi}'s; the rest follows queries live and preloads them.
 *
 * @example
 * const { data: user } = await client.database.users.create({ name: "Ada", isAdult: true });
 * await client.database.users.update({ id: user!.id, fields: (prev) => ({ age: (prev.age ?? 0) + 1 }) });
 */
export interface CollectionApi<E extends EntityDef, A extends EntitiesDef = {}>
  extends OneShotCollectionApi<E, A>, PreloadApi<E, A> {
  /** Follows preloaded data (from `preload`): the first call carries it as is, with loading false; live data follows. */
  subscribe<T>(
    preloaded: PreloadData<T, "many">,
    callback: SubscribeCallback<readonly T[]>,
  ): Subscription<readonly T[]>;
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
  subscribeOne<T>(
    preloaded: PreloadData<T, "one">,
    callback: SubscribeCallback<T | undefined>,
  ): Subscription<T | undefined>;
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
  /**
   * Pages through the aggregated rows of an aggregate query (groups in `orderBy` order),
   * `pageSize` rows at a time, live and keyset-based (see docs/pagination.md).
   */
  paginated<const Q extends PaginatedAggregateQueryDef<E, A>>(
    query: Q & StrictPaginatedAggregateQuery<E, Q, A>,
  ): PaginatedController<AggregateRow<E, Q>>;
  /** Pages through a query, `pageSize` documents at a time, live and keyset-based (see docs/pagination.md). */
  paginated<const Q extends PaginatedQueryDef<E, A>>(
    query: Q & StrictPaginatedQuery<E, Q, A>,
  ): PaginatedController<QueryResultDoc<E, Q, A>>;
}

/** `client.database`: one {@link CollectionApi} per entity, plus `batch`. */
export type Database<TEntities extends EntitiesDef> = {
  readonly [K in keyof TEntities]: CollectionApi<TEntities[K], TEntities>;
} & {
  readonly batch: BatchApi<TEntities>;
};
