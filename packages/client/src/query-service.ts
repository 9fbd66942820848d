import { computed, effect, untracked, type ReadonlySignal } from "@preact/signals-core";
import {
  acquireLiveAggregate,
  compileMaterializer,
  createClock,
  DatabaseError,
  type DatabaseResult,
  fail,
  firstPageQuery,
  isAggregateQuery,
  isNormalizedAggregate,
  type LiveAggregate,
  type LiveQuery,
  type LiveQueryRegistry,
  type NormalizedAggregateQuery,
  normalizeAggregateQuery,
  type NormalizedQuery,
  normalizeQuery,
  ok,
  QueryCostError,
  type ResultDoc,
  runAggregate,
  runQuery,
  sameResult,
  type Schema,
  type Triple,
  TripleStore,
} from "@trellis/core";
import { type FollowedQuery, LOCAL_SYNC, type QuerySync, syncedAggregateQuery } from "./sync/query-sync.js";
import type { WarmViews } from "./persistence/warm-views.js";
import type { SyncPayload } from "./sync/http.js";
import { applyRemoteTriples } from "./sync/remote-apply.js";
import type { SubscribeCallback, Subscription, SubscriptionState } from "./types.js";
import {
  type AnyNormalizedQuery,
  isPreloadData,
  type ParsedPreload,
  parsePreloadData,
  type PreloadKind,
} from "./preload.js";

/** A live view and the sync of the query behind it: released together. */
export interface Followed {
  readonly view: LiveQuery | LiveAggregate;
  readonly synced: FollowedQuery;
}

/**
 * One-shot and live queries of a client. One-shot queries run the engine against the store;
 * subscriptions are effects over the shared live query's result signal. With a server, every
 * query followed is synced too, and a result is loading until the server first answered it.
 */
export class QueryService {
  constructor(
    private readonly schema: Schema,
    private readonly store: TripleStore,
    private readonly registry: LiveQueryRegistry,
    /** The app whose data this client holds; preloaded data names it. */
    readonly appId: string = "default",
    readonly sync: QuerySync = LOCAL_SYNC,
    /** Where a view goes when its last subscriber leaves, instead of being released at once. */
    private readonly warm?: WarmViews,
  ) {}

  /**
   * Runs a query once, on local data. With a server, a query not synced already is first synced
   * until the server answered it (or the client is offline): see docs/sync.md (What is synced, and loading).
   */
  async query(collection: string, input: unknown): Promise<DatabaseResult<ResultDoc[]>> {
    const target = this.syncTarget(collection, input);
    if (target.error) return target;
    await this.sync.settle(target.data);
    return this.run(collection, input);
  }

  async queryOne(collection: string, input: unknown): Promise<DatabaseResult<ResultDoc | undefined>> {
    const result = await this.query(collection, firstOf(input));
    return result.error ? result : ok(result.data[0]);
  }

  /** Runs a query on local data, now: its documents, or an aggregate query's rows. */
  run(collection: string, input: unknown): DatabaseResult<ResultDoc[]> {
    if (isAggregateQuery(input)) {
      const query = this.normalizeAggregate(collection, input);
      return query.error ? query : ok(runAggregate(this.store, query.data));
    }
    const query = this.normalize(collection, input);
    return query.error ? query : runOn(this.store, query.data);
  }

  /** Every row of an aggregate query on local data, now. */
  aggregateRows(query: NormalizedAggregateQuery): ResultDoc[] {
    return runAggregate(this.store, query);
  }

  /**
   * The documents preloaded data of `query` carries. With the server's answer, what the answer
   * alone holds: a client given only its triples reads just that, so anything more this client
   * holds (its writes not on the server yet, copies the server changed or deleted since) would
   * show first and then vanish. Without a server, local data.
   */
  preloadedResult(query: NormalizedQuery, answer: SyncPayload | null): DatabaseResult<ResultDoc[]> {
    return runOn(answer === null ? this.store : storeOf(answer.triples), query);
  }
  parsePreloaded(collection: string, input: unknown, kind: PreloadKind): DatabaseResult<ParsedPreload> | undefined {
    if (!isPreloadData(input)) return undefined;
    const expected = { appId: this.appId, collection, kind, hasServer: this.sync.hasServer };
    const parsed = parsePreloadData(input, expected, (query) => this.normalizeAny(collection, query));
    if (parsed.data !== undefined) this.sync.applyRemote(parsed.data.triples);
    return parsed;
  }

  subscribe(
    collection: string,
    input: unknown,
    callback: SubscribeCallback<readonly ResultDoc[]>,
  ): Subscription<readonly ResultDoc[]> {
    return this.follow(collection, input, callback, (live) => live);
  }

  subscribeOne(
    collection: string,
    input: unknown,
    callback: SubscribeCallback<ResultDoc | undefined>,
  ): Subscription<ResultDoc | undefined> {
    const one = isPreloadData(input) ? input : firstOf(input);
    // A computed over the live result: the callback runs only when the first document changes.
    return this.follow(collection, one, callback, (live) => computed(() => live.value[0]), "one");
  }

  private follow<T>(
    collection: string,
    input: unknown,
    callback: SubscribeCallback<T>,
    derive: (result: ReadonlySignal<readonly ResultDoc[]>) => ReadonlySignal<T>,
    kind: "many" | "one" = "many",
  ): Subscription<T> {
    if (typeof callback !== "function")
      throw new TypeError(`${collection}.subscribe: the second argument must be a callback.`);
    const preloaded = this.parsePreloaded(collection, input, kind);
    const followed: DatabaseResult<Followed> =
      preloaded === undefined
        ? this.acquire(collection, input)
        : preloaded.error
          ? preloaded
          : this.followQuery(preloaded.data.query, preloaded.data.cursor);
    if (followed.error) {
      const state: SubscriptionState<T> = { data: undefined, error: followed.error, loading: false, hasSynced: false };
      deliver(callback, state);
      return { getCurrentState: () => state, unsubscribe: () => {} };
    }
    const { view, synced } = followed.data;
    this.warm?.reused(view);
    const data = derive(view.result);
    let state: SubscriptionState<T> = { data: undefined, error: undefined, loading: true, hasSynced: false };
    // Preloaded input: the first call carries the preloaded data as is; the live result follows
    // only if it reads differently.
    const initial =
      preloaded?.data === undefined ? undefined : kind === "one" ? preloaded.data.docs[0] : preloaded.data.docs;
    let hasDelivered = false;
    if (preloaded?.data !== undefined) {
      state = { data: initial as T, error: undefined, loading: false, hasSynced: true };
      deliver(callback, state);
      hasDelivered = true;
    }
    // Preloaded aggregate rows stand until the server has answered: the documents behind
    // them did not come along, so local data is not the whole of them before that.
    const waitsForServer =
      preloaded?.data !== undefined && isNormalizedAggregate(preloaded.data.query) && this.sync.hasServer;
    let isActive = true;
    let isFirstResult = true;
    const stop = effect(() => {
      if (synced.isLoading.value || (waitsForServer && !synced.hasSynced.value)) {
        // The callback runs at once, loading, until the server has answered.
        if (!hasDelivered) untracked(() => deliver(callback, state));
        hasDelivered = true;
        return;
      }
      const value = data.value;
      // Preloaded data is the server's answer, whatever this client has synced itself.
      const hasSynced = preloaded?.data !== undefined || synced.hasSynced.value;
      // A result that became too costly keeps its last data and reports why it stopped following.
      const failure = "failure" in view ? view.failure.value : undefined;
      const isPreloaded =
        isFirstResult && preloaded?.data !== undefined && failure === undefined && sameResult(initial, value);
      isFirstResult = false;
      if (isPreloaded) return;
      const error =
        failure === undefined ? undefined : new DatabaseError(failure.code, failure.message, { ...failure.details });
      // Only the flag turned (the server's answer changed nothing here): same data, one more call.
      state = { data: value, error, loading: false, hasSynced };
      untracked(() => deliver(callback, state));
    });
    return {
      getCurrentState: () => state,
      unsubscribe: () => {
        if (!isActive) return;
        isActive = false;
        stop();
        if (this.warm === undefined) this.registry.release(view);
        else this.warm.keep(view);
        synced.release();
      },
    };
  }

  /** The shared live view of a query (a live aggregate for aggregate queries), synced. */
  private acquire(collection: string, input: unknown): DatabaseResult<Followed> {
    const query = this.normalizeAny(collection, input);
    return query.error ? query : this.followQuery(query.data);
  }

  /**
   * The shared live view of a normalized query, synced (from `cursor`, given by preloaded data;
   * an aggregate's documents are synced from the start).
   */
  followQuery(query: AnyNormalizedQuery, cursor: string | null = null): DatabaseResult<Followed> {
    if (isNormalizedAggregate(query)) {
      return ok({
        view: acquireLiveAggregate(this.registry, this.store, query),
        synced: this.sync.follow(syncedAggregateQuery(query)),
      });
    }
    return costly(() => ok({ view: this.registry.acquire(query), synced: this.sync.follow(query, cursor) }));
  }

  /** What to sync for a query: itself, or the documents an aggregate aggregates. */
  private syncTarget(collection: string, input: unknown): DatabaseResult<NormalizedQuery> {
    const query = this.normalizeAny(collection, input);
    return query.error ? query : ok(this.syncedQuery(query.data));
  }

  /** `{ ...query, pageSize }` to the normalized first-page query (`limit: pageSize`). */
  normalizePaginated(
    collection: string,
    input: unknown,
  ): DatabaseResult<{ query: AnyNormalizedQuery; pageSize: number }> {
    const first = firstPageQuery(`${collection}.paginated`, input);
    if (first.error) return first;
    const normalized = this.normalizeAny(collection, first.data.query);
    return normalized.error ? normalized : ok({ query: normalized.data, pageSize: first.data.pageSize });
  }

  /** What to sync for a normalized query: itself, or the documents an aggregate aggregates. */
  syncedQuery(query: AnyNormalizedQuery): NormalizedQuery {
    return isNormalizedAggregate(query) ? syncedAggregateQuery(query) : query;
  }

  /** Checks a user document or aggregate query against the schema. */
  normalizeAny(collection: string, input: unknown): DatabaseResult<AnyNormalizedQuery> {
    return isAggregateQuery(input) ? this.normalizeAggregate(collection, input) : this.normalize(collection, input);
  }

  private normalizeAggregate(collection: string, input: unknown): DatabaseResult<NormalizedAggregateQuery> {
    const spec = Object.hasOwn(this.schema.collections, collection) ? this.schema.collections[collection] : undefined;
    if (spec === undefined) return fail("VALIDATION", `Unknown collection "${collection}".`, { collection });
    return normalizeAggregateQuery(spec, input, this.schema.collections);
  }

  /** Checks a user query against the schema (see `normalizeQuery`). */
  normalize(collection: string, input: unknown): DatabaseResult<NormalizedQuery> {
    const spec = Object.hasOwn(this.schema.collections, collection) ? this.schema.collections[collection] : undefined;
    if (spec === undefined) return fail("VALIDATION", `Unknown collection "${collection}".`, { collection });
    return normalizeQuery(spec, input, this.schema.collections);
  }
}

/** A query for its first match (`limit: 1`); anything else is left for the normalizer to refuse. */
function firstOf(input: unknown): unknown {
  return typeof input === "object" && input !== null && !Array.isArray(input) ? { ...input, limit: 1 } : input;
}

/** Runs a subscriber; its exceptions are reported, never thrown into the write that caused them. */
function deliver<T>(callback: SubscribeCallback<T>, state: SubscriptionState<T>): void {
  try {
    callback(state.data, state.error, state.loading, state.hasSynced);
  } catch (error) {
    console.error("Trellis: a subscription callback threw", error);
  }
}

/** Runs a query on a store: its documents, materialized. */
function runOn(store: TripleStore, query: NormalizedQuery): DatabaseResult<ResultDoc[]> {
  const table = store.table(query.collection);
  if (table === undefined) return ok([]);
  // One pass for the whole result: its documents share related documents and one cost limit.
  const materialize = compileMaterializer(query, store).pass();
  return costly(() => ok(runQuery(store, query).map((row) => materialize(table, row))));
}

/** A store of these triples alone, applied as a client applies the server's. */
function storeOf(triples: readonly Triple[]): TripleStore {
  const store = new TripleStore();
  applyRemoteTriples(store, createClock({ node: "preload" }), triples);
  return store;
}

/** Runs `compute`, answering a query over the cost limit as its VALIDATION error (an expected failure). */
function costly<T>(compute: () => DatabaseResult<T>): DatabaseResult<T> {
  try {
    return compute();
  } catch (error) {
    if (error instanceof QueryCostError) return fail(error.code, error.message, { ...error.details });
    throw error;
  }
}
