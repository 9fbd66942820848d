import { computed, effect, untracked, type ReadonlySignal } from "@preact/signals-core";
import {
  acquireLiveAggregate,
  compileMaterializer,
  type DatabaseResult,
  fail,
  isAggregateQuery,
  type LiveAggregate,
  type LiveQuery,
  type LiveQueryRegistry,
  type NormalizedAggregateQuery,
  normalizeAggregateQuery,
  type NormalizedQuery,
  normalizeQuery,
  ok,
  type ResultDoc,
  runAggregate,
  runQuery,
  sameResult,
  type Schema,
  type TripleStore,
} from "@trellis/core";
import type { SubscribeCallback, Subscription, SubscriptionState } from "./types.js";
import { createPreloadData, isPreloadData, type ParsedPreload, parsePreloadData, type PreloadData, type PreloadKind } from "./preload.js";

/**
 * One-shot and live queries of a client. One-shot queries run the engine against the store;
 * subscriptions are effects over the shared live query's result signal.
 */
export class QueryService {
  constructor(
    private readonly schema: Schema,
    private readonly store: TripleStore,
    private readonly registry: LiveQueryRegistry,
    /** The app whose data this client holds; preloaded data names it. */
    readonly appId: string = "default",
  ) {}

  query(collection: string, input: unknown): DatabaseResult<ResultDoc[]> {
    if (isAggregateQuery(input)) {
      const query = this.normalizeAggregate(collection, input);
      return query.error ? query : ok(runAggregate(this.store, query.data));
    }
    const query = this.normalize(collection, input);
    if (query.error) return query;
    const table = this.store.table(collection);
    if (table === undefined) return ok([]);
    const materialize = compileMaterializer(query.data, this.store);
    return ok(runQuery(this.store, query.data).map((row) => materialize(table, row)));
  }

  queryOne(collection: string, input: unknown): DatabaseResult<ResultDoc | undefined> {
    const one = typeof input === "object" && input !== null && !Array.isArray(input) ? { ...input, limit: 1 } : input;
    const result = this.query(collection, one);
    return result.error ? result : ok(result.data[0]);
  }

  /** Preloads a query's result (`many`) or first match (`one`) as plain, serialisable data. */
  preload(collection: string, input: unknown, kind: "many" | "one"): DatabaseResult<PreloadData<ResultDoc>> {
    const one = kind === "one" && typeof input === "object" && input !== null && !Array.isArray(input) ? { ...input, limit: 1 } : input;
    const query = this.normalize(collection, one);
    if (query.error) return query;
    const result = this.query(collection, one);
    return result.error ? result : ok(createPreloadData(kind, this.appId, query.data, result.data, null));
  }

  /** Checks and decodes preloaded input of `kind` for `collection`; undefined when `input` is not preloaded data at all. */
  parsePreloaded(collection: string, input: unknown, kind: PreloadKind): DatabaseResult<ParsedPreload> | undefined {
    if (!isPreloadData(input)) return undefined;
    return parsePreloadData(input, { appId: this.appId, collection, kind }, (query) => this.normalize(collection, query));
  }

  subscribe(collection: string, input: unknown, callback: SubscribeCallback<readonly ResultDoc[]>): Subscription<readonly ResultDoc[]> {
    return this.follow(collection, input, callback, (live) => live);
  }

  subscribeOne(collection: string, input: unknown, callback: SubscribeCallback<ResultDoc | undefined>): Subscription<ResultDoc | undefined> {
    const one = typeof input === "object" && input !== null && !Array.isArray(input) && !isPreloadData(input) ? { ...input, limit: 1 } : input;
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
    if (typeof callback !== "function") throw new TypeError(`${collection}.subscribe: the second argument must be a callback.`);
    const preloaded = this.parsePreloaded(collection, input, kind);
    const query = preloaded === undefined ? this.acquire(collection, input) : preloaded.error ? preloaded : ok(this.registry.acquire(preloaded.data.query));
    if (query.error) {
      const state: SubscriptionState<T> = { data: undefined, error: query.error, loading: false };
      deliver(callback, state);
      return { getCurrentState: () => state, unsubscribe: () => {} };
    }
    const live = query.data;
    const data = derive(live.result);
    let state: SubscriptionState<T> = { data: undefined, error: undefined, loading: true };
    // Preloaded input: the first call carries the preloaded data as is; the live result follows
    // only if it reads differently.
    const initial = preloaded?.data === undefined ? undefined : kind === "one" ? preloaded.data.docs[0] : preloaded.data.docs;
    if (preloaded?.data !== undefined) {
      state = { data: initial as T, error: undefined, loading: false };
      deliver(callback, state);
    }
    let isActive = true;
    let isFirstRun = true;
    const stop = effect(() => {
      const value = data.value;
      const isPreloaded = isFirstRun && preloaded?.data !== undefined && sameResult(initial, value);
      isFirstRun = false;
      if (isPreloaded) return;
      state = { data: value, error: undefined, loading: false };
      untracked(() => deliver(callback, state));
    });
    return {
      getCurrentState: () => state,
      unsubscribe: () => {
        if (!isActive) return;
        isActive = false;
        stop();
        this.registry.release(live);
      },
    };
  }

  /** The shared live view of a query: a live aggregate for aggregate queries, else a live query. */
  private acquire(collection: string, input: unknown): DatabaseResult<LiveQuery | LiveAggregate> {
    if (isAggregateQuery(input)) {
      const query = this.normalizeAggregate(collection, input);
      return query.error ? query : ok(acquireLiveAggregate(this.registry, this.store, query.data));
    }
    const query = this.normalize(collection, input);
    return query.error ? query : ok(this.registry.acquire(query.data));
  }

  private normalizeAggregate(collection: string, input: unknown): DatabaseResult<NormalizedAggregateQuery> {
    const spec = Object.hasOwn(this.schema.collections, collection) ? this.schema.collections[collection] : undefined;
    if (spec === undefined) return fail("VALIDATION", `Unknown collection "${collection}".`, { collection });
    return normalizeAggregateQuery(spec, input);
  }

  /** Checks a user query against the schema (see `normalizeQuery`). */
  normalize(collection: string, input: unknown): DatabaseResult<NormalizedQuery> {
    const spec = Object.hasOwn(this.schema.collections, collection) ? this.schema.collections[collection] : undefined;
    if (spec === undefined) return fail("VALIDATION", `Unknown collection "${collection}".`, { collection });
    return normalizeQuery(spec, input, this.schema.collections);
  }
}

/** Runs a subscriber; its exceptions are reported, never thrown into the write that caused them. */
function deliver<T>(callback: SubscribeCallback<T>, state: SubscriptionState<T>): void {
  try {
    callback(state.data, state.error, state.loading);
  } catch (error) {
    console.error("Trellis: a subscription callback threw", error);
  }
}
