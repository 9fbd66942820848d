import { signal } from "@preact/signals-core";
import {
  type Clock,
  type DatabaseResult,
  decodeHlc,
  type DocumentRef,
  type LiveQueryRegistry,
  type NormalizedQuery,
  ok,
  type Triple,
  type TripleStore,
} from "@trellis/core";
import { storedResults } from "./stored-results.js";
import type { OutboxEntry } from "../sync/outbox.js";
import { createStoredOutbox, type StoredOutbox } from "./stored-outbox.js";
import { StorageWriter } from "./storage-writer.js";
import type { ClientStorage, StorageIdentity, StoredState } from "./storage.js";
import type { WarmViews } from "./warm-views.js";
import { WorkingSet, type MemoryNeed } from "./working-set.js";

/** What a storage session works with besides its storage, store and clock. */
export interface StorageSessionOptions {
  /** Its live queries: their results are stored, and followed collections keep what they hold. */
  readonly registry?: LiveQueryRegistry | undefined;
  /** Documents to keep in memory beyond what live queries hold (default: no bound). */
  readonly cacheSize?: number | undefined;
  /** Recorded in the storage's metadata when it opens. */
  readonly identity?: StorageIdentity | undefined;
  /** Views kept after their subscribers left; released when what they hold does not fit `cacheSize`. */
  readonly warm?: WarmViews | undefined;
}

/** What the rest of the client gets back from storage once it opened. */
export interface RestoredState {
  readonly outbox: readonly OutboxEntry[];
  readonly cursors: ReadonlyMap<string, string>;
}

/**
 * A client's session with its storage: opens it, restores the clock, outbox and cursors, then
 * writes every later change through (see {@link StorageWriter}) until it closes. Documents come
 * into memory by collection, when first needed (see {@link WorkingSet}). Until storage opened,
 * writes and queries wait (see `gateQuerySync`).
 *
 * @example
 * const session = new StorageSession(storage, store, clock, { registry, cacheSize: 5_000 });
 * await session.open(({ cursors }) => engine.restored(cursors));
 */
export class StorageSession {
  readonly writer: StorageWriter;
  readonly workingSet: WorkingSet;
  readonly outbox: StoredOutbox;
  /** Becomes true once stored data is in memory (or opening failed and the client runs without it). */
  readonly isReady = signal(false);
  readonly ready: Promise<DatabaseResult<void>>;
  private readonly commitListeners = new Set<(versions: ReadonlyMap<string, number>) => void>();
  private openFailure: DatabaseResult<void> | undefined;
  private resolveReady!: (result: DatabaseResult<void>) => void;

  private readonly registry: LiveQueryRegistry | undefined;
  private readonly identity: StorageIdentity | undefined;

  constructor(
    readonly storage: ClientStorage,
    store: TripleStore,
    private readonly clock: Clock,
    options: StorageSessionOptions = {},
  ) {
    const { registry, cacheSize, identity, warm } = options;
    this.registry = registry;
    this.identity = identity;
    this.workingSet = new WorkingSet({
      store,
      clock,
      storage,
      cacheSize,
      unstoredIds: (collection) => this.writer.unstoredIds(collection),
      heldRows: registry && ((collection) => registry.heldRows(collection)),
      refresh: registry && ((collection) => registry.refresh(collection)),
      releaseWarm: warm && (() => warm.releaseOldest()),
    });
    const { workingSet } = this;
    this.writer = new StorageWriter(storage, store, clock, {
      isInMemory: (collection, id) => workingSet.holdsDocument(collection, id),
      ...(registry
        ? { results: (changed, isEveryQuery) => storedResults(registry, workingSet, changed, isEveryQuery) }
        : {}),
      onCommitted: (versions) => {
        workingSet.committed(versions);
        for (const listener of this.commitListeners) listener(versions);
      },
    });
    this.outbox = createStoredOutbox(this.writer);
    this.ready = new Promise((resolve) => (this.resolveReady = resolve));
  }

  /**
   * Opens the storage and restores it; `restore` hands the outbox and cursors to sync, and its
   * promise (sync's code loading) holds `ready` back, so no write or query runs before sync takes them.
   * `opening` is the storage's `open`, when the client started it while this code loaded.
   */
  async open(
    restore: (state: RestoredState) => Promise<void> | void,
    opening: Promise<DatabaseResult<StoredState>> = this.storage.open(this.identity),
  ): Promise<void> {
    const opened = await opening;
    if (opened.error) {
      // The client goes on in memory; every write reports that it was not stored.
      this.openFailure = opened;
      this.workingSet.loadNothing();
      console.warn(`Trellis storage: ${opened.error.message} Data stays in memory only.`);
    } else {
      const { outbox, clock, cursors } = opened.data;
      const stored = clock === undefined ? undefined : decodeHlc(clock).data;
      if (stored !== undefined) this.clock.restore(stored);
      this.outbox.adopt(outbox);
      const restoring = restore({ outbox, cursors });
      // Collections kept whole are read synchronously (maps' `get`, `entries`): in memory once ready.
      const collections = await this.storage.listCollections();
      const { workingSet } = this;
      await workingSet.load((collections.data ?? []).filter((collection) => workingSet.pins.isKeptWhole(collection)));
      await restoring;
      this.writer.start();
    }
    this.isReady.value = true;
    this.resolveReady(this.openFailure ?? ok(undefined));
  }

  /** Whether the query's live view was computed from its whole collection, so following it needs no read. */
  hasCompleteView(query: NormalizedQuery): boolean {
    return this.registry?.liveQuery(query)?.isComplete === true;
  }

  /** Hears each commit that stored something, with the new versions of the collections it changed. */
  onCommitted(listener: (versions: ReadonlyMap<string, number>) => void): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  /** What sync needs to store its outbox, cursors and remote data, and to wait for stored data. */
  syncOptions() {
    const { writer } = this;
    return {
      apply: this.workingSet.arrivals.apply,
      outbox: this.outbox,
      onRemoteApplied: (triples: readonly Triple[]) => writer.documentsChanged(triples),
      forget: this.workingSet.arrivals.forget,
      onRemoteForgotten: (documents: readonly DocumentRef[]) => writer.documentsForgotten(documents),
      onCursor: (queryKey: string, cursor: string) => writer.cursorMoved(queryKey, cursor),
      ready: this.ready,
    };
  }

  /**
   * Runs a write once storage opened (so its HLC follows the stored clock) and what it reads is
   * in memory, and resolves once it is stored: its result, or a STORAGE error if storage refused
   * it (the write stays in memory and in the outbox, and is stored with the next commit that
   * succeeds).
   */
  async write<T>(needs: Iterable<MemoryNeed>, body: () => DatabaseResult<T>): Promise<DatabaseResult<T>> {
    if (!this.isReady.peek()) await this.ready;
    const loading = this.workingSet.prepare(needs);
    if (loading !== undefined) await loading;
    const result = body();
    if (result.error) return result;
    const stored = await this.durable();
    return stored.error ? stored : result;
  }

  /** Settles once every change so far is stored: what a write's promise waits for. */
  durable(): Promise<DatabaseResult<void>> {
    return this.openFailure === undefined ? this.writer.durable() : Promise.resolve(this.openFailure);
  }

  async close(): Promise<void> {
    await this.ready;
    await this.writer.close();
  }
}
