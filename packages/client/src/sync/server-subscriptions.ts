import { computed, effect, type ReadonlySignal, type Signal, signal } from "@preact/signals-core";
import { collectionsOf, type NormalizedQuery, type SubscribeMessage, type UnsubscribeMessage } from "@trellis/core";
import type { SyncProgress } from "./client-connection.js";
import type { FollowedQuery } from "./query-sync.js";

interface Entry {
  readonly key: string;
  readonly queryId: string;
  readonly query: NormalizedQuery;
  /** Live uses. At 0 the entry leaves at the next flush (unless followed again before). */
  count: number;
  cursor: string | null;
  /** `subscribe` went out on the current connection. */
  isSent: boolean;
  /** Its snapshot arrived on the current connection: `changes` move its cursor from now on. */
  isSynced: boolean;
  /** Its snapshot (or a refusal) arrived on the current connection. */
  isAnswered: boolean;
  /** Its snapshot (or a refusal) arrived at some point while followed. */
  readonly hasAnswer: Signal<boolean>;
  /** Parts of its snapshot received on the current connection, while the rest is coming. */
  progress: SyncProgress | undefined;
}

export interface ServerSubscriptionsOptions {
  readonly send: (message: SubscribeMessage | UnsubscribeMessage) => boolean;
  readonly isOffline: ReadonlySignal<boolean>;
  /** Hears every cursor move of a synced query (persistence stores them). */
  readonly onCursor?: ((queryKey: string, cursor: string) => void) | undefined;
  /** What the client holds of a query it resumes (see `heldIds`), sent along with the cursor. */
  readonly heldIds?: ((query: NormalizedQuery) => readonly string[] | undefined) | undefined;
}

const NOT_LOADING: ReadonlySignal<boolean> = signal(false);
const SYNCED_BEFORE: ReadonlySignal<boolean> = signal(true);
/** Cursors of released queries kept (the oldest go first): page turns alone make new queries. */
const MAX_REMEMBERED_CURSORS = 1_000;

/**
 * The server subscriptions of the queries this client follows. Uses of one normalized query
 * share one subscription (`subscribe` once, `unsubscribe` when the last use is released) and
 * keep its cursor, which is remembered after the release so syncing the query again continues
 * from it. Subscription changes go out on a microtask, so a query followed and released in one
 * tick costs nothing.
 *
 * @example
 * import { effect, signal } from "@preact/signals-core";
 * const subscriptions = new ServerSubscriptions({
 *   send: (message) => (socket.send(JSON.stringify(message)), true),
 *   isOffline: signal(false),
 * });
 * const synced = subscriptions.follow(normalized); // `subscribe` goes out on a microtask
 * effect(() => {
 *   if (!synced.isLoading.value) render();
 * });
 * synced.release();
 */
export class ServerSubscriptions {
  private readonly entries = new Map<string, Entry>();
  private readonly byId = new Map<string, Entry>();
  /** Cursors of released queries, by key. */
  private readonly cursors = new Map<string, string>();
  private readonly dirty = new Set<Entry>();
  private isFlushScheduled = false;
  private isConnected = false;
  private counter = 0;
  private readonly outstandingSignal = signal(0);
  /** Followed queries whose snapshot has not arrived on the current connection. */
  readonly outstanding: ReadonlySignal<number> = this.outstandingSignal;
  private readonly progressSignal = signal<SyncProgress | undefined>(undefined);
  /** How far the snapshots arriving in parts have come, summed; undefined when none is. */
  readonly progress: ReadonlySignal<SyncProgress | undefined> = this.progressSignal;

  constructor(private readonly options: ServerSubscriptionsOptions) {}

  /** Starts a use of `query`; `cursor` (from preloaded data) is used when the client has none of its own. */
  follow(query: NormalizedQuery, cursor: string | null = null): FollowedQuery {
    const key = JSON.stringify(query);
    let entry = this.entries.get(key);
    if (entry === undefined) {
      entry = {
        key,
        queryId: `q${(++this.counter).toString(36)}`,
        query,
        count: 0,
        // A cursor of our own is the older one: continuing from it misses nothing.
        cursor: this.cursors.get(key) ?? cursor,
        isSent: false,
        isSynced: false,
        isAnswered: false,
        hasAnswer: signal(false),
        progress: undefined,
      };
      this.cursors.delete(key);
      this.entries.set(key, entry);
      this.byId.set(entry.queryId, entry);
    } else if (entry.cursor === null && !entry.isSent) {
      entry.cursor = cursor;
    }
    if (entry.count++ === 0) {
      if (!entry.isAnswered) this.outstandingSignal.value++;
      this.markDirty(entry);
    }
    return this.handle(entry);
  }

  /**
   * Whether local data already answers `query`: a followed query the server has answered is it,
   * or has the same filter and relations and no limit or page bounds (the server sends whole
   * documents, so fields and order do not matter).
   */
  covers(query: NormalizedQuery): boolean {
    const exact = this.entries.get(JSON.stringify(query));
    if (exact !== undefined && exact.count > 0 && exact.hasAnswer.peek()) return true;
    const scope = scopeOf(query);
    for (const entry of this.entries.values()) {
      const { limit, after, before } = entry.query;
      if (
        entry.count === 0 ||
        !entry.hasAnswer.peek() ||
        limit !== undefined ||
        after !== undefined ||
        before !== undefined
      )
        continue;
      if (
        scopeOf(entry.query) === scope ||
        (query.relations === undefined && scopeOf({ ...entry.query, relations: undefined }) === scope)
      )
        return true;
    }
    return false;
  }

  /** The collections of every query synced (also one released but not yet unsubscribed). */
  followedCollections(): Set<string> {
    const collections = new Set<string>();
    for (const entry of this.entries.values())
      for (const collection of collectionsOf(entry.query)) collections.add(collection);
    return collections;
  }

  /**
   * Forgets the remembered cursors of queries that read any of these collections (their stored
   * documents were pruned): syncing such a query again loads it whole.
   */
  forgetCursors(collections: ReadonlySet<string>): void {
    for (const key of [...this.cursors.keys()]) if (readsAnyOf(key, collections)) this.cursors.delete(key);
  }

  /** Cursors stored by an earlier run: queries synced then continue from them, not loading. */
  restoreCursors(cursors: ReadonlyMap<string, string>): void {
    for (const [key, cursor] of cursors) if (!this.entries.has(key)) this.remember(key, cursor);
  }

  /** Whether the query with this key was synced before (it has a cursor): local data answers it. */
  hasCursor(key: string): boolean {
    return (this.entries.get(key)?.cursor ?? this.cursors.get(key)) != null;
  }

  /** A connection was welcomed: every followed query is subscribed again, from its cursor. */
  connected(): void {
    this.isConnected = true;
    this.forget();
    for (const entry of this.entries.values()) this.dirty.add(entry);
    this.flush();
  }

  /** The connection was lost. */
  disconnected(): void {
    this.isConnected = false;
    this.forget();
  }

  /** A snapshot arrived: its query is synced from `cursor` on. */
  snapshot(queryId: string, cursor: string): void {
    const entry = this.byId.get(queryId);
    if (entry === undefined) return;
    entry.cursor = cursor;
    entry.isSynced = true;
    this.options.onCursor?.(entry.key, cursor);
    this.answer(entry);
  }

  /** A part of a query's snapshot arrived: `documents` of its `total` so far. */
  snapshotPart(queryId: string, documents: number, total: number): void {
    const entry = this.byId.get(queryId);
    if (entry === undefined) return;
    entry.progress = { documents, total };
    this.updateProgress();
  }

  /** Changes arrived: every synced query has seen everything up to `cursor`. */
  changes(cursor: string): void {
    const { onCursor } = this.options;
    for (const entry of this.entries.values()) {
      if (!entry.isSynced) continue;
      entry.cursor = cursor;
      onCursor?.(entry.key, cursor);
    }
  }

  /** The server refused a query: stop waiting for it (local data answers it). */
  refuse(queryId: string): void {
    const entry = this.byId.get(queryId);
    if (entry !== undefined) this.answer(entry);
  }

  private handle(entry: Entry): FollowedQuery {
    const { isOffline } = this.options;
    let isReleased = false;
    let hasSettled = entry.cursor !== null;
    return {
      isLoading: hasSettled
        ? NOT_LOADING
        : computed(() => {
            // Latched: a subscription that has shown data never goes back to loading.
            if (hasSettled) return false;
            hasSettled = entry.hasAnswer.value || isOffline.value;
            return !hasSettled;
          }),
      hasSynced: entry.cursor !== null ? SYNCED_BEFORE : entry.hasAnswer,
      answered: () => when(() => entry.hasAnswer.value || isOffline.value),
      release: () => {
        if (isReleased) return;
        isReleased = true;
        if (--entry.count > 0) return;
        if (!entry.isAnswered) this.outstandingSignal.value--;
        this.markDirty(entry);
      },
    };
  }

  private answer(entry: Entry): void {
    if (entry.progress !== undefined) {
      entry.progress = undefined;
      this.updateProgress();
    }
    if (!entry.isAnswered) {
      entry.isAnswered = true;
      if (entry.count > 0) this.outstandingSignal.value--;
    }
    entry.hasAnswer.value = true;
  }

  /** Nothing was sent on the coming connection yet. */
  private forget(): void {
    let outstanding = 0;
    for (const entry of this.entries.values()) {
      entry.isSent = false;
      entry.isSynced = false;
      entry.isAnswered = false;
      entry.progress = undefined;
      if (entry.count > 0) outstanding++;
    }
    this.outstandingSignal.value = outstanding;
    this.updateProgress();
  }

  private updateProgress(): void {
    let documents = 0;
    let total = 0;
    for (const entry of this.entries.values()) {
      if (entry.progress === undefined || entry.count === 0) continue;
      documents += entry.progress.documents;
      total += entry.progress.total;
    }
    const current = this.progressSignal.peek();
    if (total === 0) {
      if (current !== undefined) this.progressSignal.value = undefined;
    } else if (current?.documents !== documents || current.total !== total) {
      this.progressSignal.value = { documents, total };
    }
  }

  private remember(key: string, cursor: string): void {
    this.cursors.set(key, cursor);
    if (this.cursors.size > MAX_REMEMBERED_CURSORS) this.cursors.delete(this.cursors.keys().next().value!);
  }

  private markDirty(entry: Entry): void {
    this.dirty.add(entry);
    if (this.isFlushScheduled) return;
    this.isFlushScheduled = true;
    queueMicrotask(() => this.flush());
  }

  /** Sends what changed: `subscribe` for new queries, `unsubscribe` for released ones. */
  private flush(): void {
    this.isFlushScheduled = false;
    const dirty = [...this.dirty];
    this.dirty.clear();
    for (const entry of dirty) {
      if (entry.count === 0) {
        if (this.entries.get(entry.key) !== entry) continue;
        this.entries.delete(entry.key);
        this.byId.delete(entry.queryId);
        if (entry.progress !== undefined) this.updateProgress();
        if (entry.cursor !== null) this.remember(entry.key, entry.cursor);
        if (entry.isSent && this.isConnected) this.options.send({ type: "unsubscribe", queryId: entry.queryId });
      } else if (!entry.isSent && this.isConnected) {
        const held = entry.cursor === null ? undefined : this.options.heldIds?.(entry.query);
        entry.isSent = this.options.send({
          type: "subscribe",
          queryId: entry.queryId,
          query: entry.query,
          cursor: entry.cursor,
          ...(held === undefined ? {} : { held }),
        });
      }
    }
  }
}

/** What documents a query needs apart from its bounds: its collection, filter and relations. */
function scopeOf(query: NormalizedQuery): string {
  return JSON.stringify([query.collection, query.where, query.relations ?? null]);
}

/** Resolves once `condition` (read from signals) holds. */
function when(condition: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const stop = effect(() => {
      if (!condition()) return;
      resolve();
      // `stop` is not assigned yet during the first run: dispose once this run is over.
      queueMicrotask(() => stop());
    });
  });
}

/**
 * Whether the query behind a query key (its JSON) reads any of these collections. A key that does
 * not parse counts as reading them: forgetting a cursor only costs loading its query whole.
 */
export function readsAnyOf(queryKey: string, collections: ReadonlySet<string>): boolean {
  try {
    for (const collection of collectionsOf(JSON.parse(queryKey) as NormalizedQuery))
      if (collections.has(collection)) return true;
    return false;
  } catch {
    return true;
  }
}
