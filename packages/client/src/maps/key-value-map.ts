import { computed, effect, untracked } from "@preact/signals-core";
import {
  compileMaterializer,
  type DatabaseResult,
  type LiveQueryRegistry,
  type Materializer,
  ok,
  type ResultDoc,
  runQuery,
  toUserValue,
  type TripleStore,
  type LocalWriter,
} from "@trellis/core";
import type { FollowedQuery, QuerySync } from "../sync/query-sync.js";
import type { SubscribeCallback, Subscription, SubscriptionState } from "../types.js";
import {
  checkKey,
  checkValue,
  isMapCollection,
  type MapCollection,
  mapCollection,
  VALUE_FIELD,
} from "./map-collection.js";
import type { KeyValueMap, MapEntry } from "./map-types.js";

/** What maps need from their client: the store and its live queries, the writer, and sync. */
export interface MapsContext {
  readonly store: TripleStore;
  readonly registry: LiveQueryRegistry;
  readonly writer: LocalWriter;
  readonly sync: QuerySync;
  /**
   * Runs a checked write the way the client runs database writes (with persistence: once stored
   * data is loaded, resolving once stored). Default: at once.
   */
  readonly commit?: (collection: string, write: () => DatabaseResult<void>) => Promise<DatabaseResult<void>>;
  /**
   * With persistence: keeps the collections `isKept` accepts whole in memory, read before storage
   * is ready, until the returned release is called (see `WorkingSet.keepWhole`).
   */
  readonly keepWhole?: (isKept: (collection: string) => boolean) => () => void;
}

/**
 * The key-value maps of a client: one handle per name, made on first use and kept until the
 * client closes. Each handle syncs its whole reserved collection from creation to `close()`, so
 * `get` and `entries` follow the server without a subscription. Those read memory synchronously,
 * so every map's collection is kept whole in memory, and read from storage before it is ready.
 *
 * @example
 * const maps = new MapsService({ store, registry, writer, sync: engine });
 * const prefs = maps.open("prefs");
 */
export class MapsService {
  private readonly handles = new Map<string, ReplicatedMap>();
  isClosed = false;
  private readonly releaseKept: (() => void) | undefined;

  constructor(private readonly context: MapsContext) {
    this.releaseKept = context.keepWhole?.(isMapCollection);
  }

  /** The handle of map `name`; throws a TypeError for a bad name. */
  open(name: unknown): KeyValueMap {
    let handle = this.handles.get(name as string);
    if (handle === undefined) {
      handle = new ReplicatedMap(name as string, mapCollection(name), this.context, this);
      this.handles.set(handle.name, handle);
    }
    return handle;
  }

  /** Stops every map's subscriptions and sync. */
  close(): void {
    this.isClosed = true;
    for (const handle of this.handles.values()) handle.close();
    this.handles.clear();
    this.releaseKept?.();
  }
}

/** One map: documents of its reserved collection, one per key, whose `value` field is the value. */
class ReplicatedMap implements KeyValueMap {
  private readonly synced: FollowedQuery;
  private readonly subscriptions = new Set<() => void>();
  private materialize: Materializer | undefined;
  private readonly label: string;

  constructor(
    readonly name: string,
    private readonly collection: MapCollection,
    private readonly context: MapsContext,
    private readonly service: { readonly isClosed: boolean },
  ) {
    this.label = `map("${name}")`;
    this.synced = context.sync.follow(collection.all);
  }

  get(key: string): unknown {
    this.guard("get");
    if (typeof key !== "string")
      throw new TypeError(`${this.label}.get: the key must be a string, got ${key === null ? "null" : typeof key}.`);
    const table = this.context.store.table(this.collection.spec.name);
    const row = table?.rowOf(key);
    const value = row === undefined ? undefined : table!.get(row, VALUE_FIELD);
    return value === null || value === undefined
      ? undefined
      : toUserValue(this.collection.spec.fields[VALUE_FIELD]!, value);
  }

  set(key: string, value: unknown): Promise<DatabaseResult<void>> {
    this.guard("set");
    return this.write("set", key, () => checkValue(this.label, key, value));
  }

  remove(key: string): Promise<DatabaseResult<void>> {
    this.guard("remove");
    // Not a tombstone: delete wins forever, which would swallow any later `set`. A `null` value
    // with a fresh HLC is an ordinary register write, so set and remove meet by LWW.
    return this.write("remove", key, () => ok(null));
  }

  entries(): Array<[key: string, value: unknown]> {
    this.guard("entries");
    const { store } = this.context;
    const table = store.table(this.collection.spec.name);
    if (table === undefined) return [];
    this.materialize ??= compileMaterializer(this.collection.entries, store);
    const materialize = this.materialize;
    return runQuery(store, this.collection.entries).map((row) => toEntry(materialize(table, row)));
  }

  subscribe(callback: SubscribeCallback<readonly MapEntry<unknown>[]>): Subscription<readonly MapEntry<unknown>[]> {
    this.guard("subscribe");
    if (typeof callback !== "function") throw new TypeError(`${this.label}.subscribe: pass a callback.`);
    const { registry } = this.context;
    // The engine's live query keeps the entries: its result changes only when they do.
    const view = registry.acquire(this.collection.entries);
    const live = view.result;
    const entries = computed(() => live.value.map(toEntry));
    const { isLoading, hasSynced } = this.synced;
    let state: SubscriptionState<readonly MapEntry<unknown>[]> = {
      data: undefined,
      error: undefined,
      loading: true,
      hasSynced: false,
    };
    let hasDeliveredLoading = false;
    const stop = effect(() => {
      if (isLoading.value) {
        if (!hasDeliveredLoading) untracked(() => deliver(callback, state));
        hasDeliveredLoading = true;
        return;
      }
      state = { data: entries.value, error: undefined, loading: false, hasSynced: hasSynced.value };
      untracked(() => deliver(callback, state));
    });
    let isActive = true;
    const unsubscribe = () => {
      if (!isActive) return;
      isActive = false;
      this.subscriptions.delete(unsubscribe);
      stop();
      registry.release(view);
    };
    this.subscriptions.add(unsubscribe);
    return { getCurrentState: () => state, unsubscribe };
  }

  close(): void {
    for (const unsubscribe of [...this.subscriptions]) unsubscribe();
    this.synced.release();
  }

  /**
   * Writes `key`'s value (`null`: removed) once the key and the value are checked. Both are
   * checked (and the value copied) now, even when the write itself waits for stored data.
   */
  private write(method: string, key: string, value: () => DatabaseResult<unknown>): Promise<DatabaseResult<void>> {
    const checkedKey = checkKey(this.label, method, key);
    if (checkedKey.error) return Promise.resolve(checkedKey);
    const checked = value();
    if (checked.error) return Promise.resolve(checked);
    const write = () => {
      this.context.writer.writeReserved(this.collection.spec, key, [[VALUE_FIELD, checked.data]]);
      return ok(undefined);
    };
    return this.context.commit === undefined
      ? Promise.resolve(write())
      : this.context.commit(this.collection.spec.name, write);
  }

  private guard(method: string): void {
    if (this.service.isClosed)
      throw new Error(`Trellis client: ${this.label}.${method} called after close(); create a new client.`);
  }
}

function toEntry(doc: ResultDoc): [key: string, value: unknown] {
  return [doc.id as string, doc[VALUE_FIELD]];
}

/** Runs a subscriber; its exceptions are reported, never thrown into the write that caused them. */
function deliver<T>(callback: SubscribeCallback<T>, state: SubscriptionState<T>): void {
  try {
    callback(state.data, state.error, state.loading, state.hasSynced);
  } catch (error) {
    console.error("Trellis: a map subscription callback threw", error);
  }
}
