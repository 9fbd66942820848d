import { computed, effect, untracked, type ReadonlySignal } from "@preact/signals-core";
import {
  compileMaterializer,
  type DatabaseResult,
  fail,
  type LiveQueryRegistry,
  type NormalizedQuery,
  normalizeQuery,
  ok,
  type ResultDoc,
  runQuery,
  type Schema,
  type TripleStore,
} from "@trellis/core";
import type { SubscribeCallback, Subscription, SubscriptionState } from "./types.js";

/**
 * One-shot and live queries of a client. One-shot queries run the engine against the store;
 * subscriptions are effects over the shared live query's result signal.
 */
export class QueryService {
  constructor(
    private readonly schema: Schema,
    private readonly store: TripleStore,
    private readonly registry: LiveQueryRegistry,
  ) {}

  query(collection: string, input: unknown): DatabaseResult<ResultDoc[]> {
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

  subscribe(collection: string, input: unknown, callback: SubscribeCallback<readonly ResultDoc[]>): Subscription<readonly ResultDoc[]> {
    return this.follow(collection, input, callback, (live) => live);
  }

  subscribeOne(collection: string, input: unknown, callback: SubscribeCallback<ResultDoc | undefined>): Subscription<ResultDoc | undefined> {
    const one = typeof input === "object" && input !== null && !Array.isArray(input) ? { ...input, limit: 1 } : input;
    // A computed over the live result: the callback runs only when the first document changes.
    return this.follow(collection, one, callback, (live) => computed(() => live.value[0]));
  }

  private follow<T>(
    collection: string,
    input: unknown,
    callback: SubscribeCallback<T>,
    derive: (result: ReadonlySignal<readonly ResultDoc[]>) => ReadonlySignal<T>,
  ): Subscription<T> {
    if (typeof callback !== "function") throw new TypeError(`${collection}.subscribe: the second argument must be a callback.`);
    const query = this.normalize(collection, input);
    if (query.error) {
      const state: SubscriptionState<T> = { data: undefined, error: query.error, loading: false };
      deliver(callback, state);
      return { getCurrentState: () => state, unsubscribe: () => {} };
    }
    const live = this.registry.acquire(query.data);
    const data = derive(live.result);
    let state: SubscriptionState<T> = { data: undefined, error: undefined, loading: true };
    let isActive = true;
    const stop = effect(() => {
      state = { data: data.value, error: undefined, loading: false };
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

  private normalize(collection: string, input: unknown): DatabaseResult<NormalizedQuery> {
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
