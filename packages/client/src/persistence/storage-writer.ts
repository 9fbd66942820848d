import {
  type Clock,
  type DatabaseResult,
  type DocumentRef,
  encodeHlc,
  ok,
  type Triple,
  type TripleStore,
} from "@trellis/core";
import type { OutboxEntry } from "../sync/outbox.js";
import type { ClientStorage, StoredDocument, StoredResult } from "./storage.js";

/** What the rest of the client tells a {@link StorageWriter}, and hears from it. */
export interface StorageWriterHooks {
  /** Whether memory holds a document; changes of one it does not are stored as deltas (default: all are held). */
  readonly isInMemory?: (collection: string, id: string) => boolean;
  /** The live query results to store with a commit that changes `changed` (every one when `isEveryQuery`). */
  readonly results?: (changed: ReadonlySet<string>, isEveryQuery: boolean) => StoredResult[];
  /** Hears each commit that succeeded, with the new versions of the collections it changed. */
  readonly onCommitted?: (versions: ReadonlyMap<string, number>) => void;
}

/** Everything marked since the last commit started. */
interface Pending {
  readonly documents: Map<string, readonly [collection: string, id: string]>;
  /** Triples of documents whose collection is not in memory, by document key. */
  readonly deltas: Map<string, Triple[]>;
  /** Documents to drop from storage (before storing the others), by document key. */
  readonly forgotten: Map<string, DocumentRef>;
  added: OutboxEntry[];
  readonly acknowledged: Set<string>;
  readonly cursors: Map<string, string>;
  /** Live query results changed: the commit stores them again. */
  hasResults: boolean;
  /** Settles with the commit that writes this generation. */
  readonly done: Promise<DatabaseResult<void>>;
  readonly settle: (result: DatabaseResult<void>) => void;
}

/**
 * Writes what changes in memory through to storage, in group commits: everything marked while
 * a commit runs goes into the next one, so a burst of writes costs a few transactions. A
 * document's state is read from the store when its commit starts, so it is always current; a
 * commit holding a cursor also holds every document changed before it moved, so stored cursors
 * never run ahead of stored data. A failed commit keeps its marks for the next one: nothing is
 * dropped (a write's promise still reports the failure).
 *
 * @example
 * const writer = new StorageWriter(storage, store, clock);
 * writer.start(); // once the stored state is in memory
 * writer.documentsChanged(triples);
 * const stored = await writer.durable(); // ok once those documents are in storage
 */
export class StorageWriter {
  private pending = newPending();
  private inFlight: Promise<DatabaseResult<void>> | undefined;
  /** The documents of the commit in flight: memory keeps them until storage has them. */
  private inFlightDocuments: Pending["documents"] = new Map();
  private isStarted = false;
  private isScheduled = false;
  /** A commit failed: the next one waits for a new mark instead of retrying in a loop. */
  private isHeld = false;

  constructor(
    private readonly storage: ClientStorage,
    private readonly store: TripleStore,
    private readonly clock: Clock,
    private readonly hooks: StorageWriterHooks = {},
  ) {}

  /** Commits may run from now on (after the stored state was loaded into memory). */
  start(): void {
    this.isStarted = true;
    this.schedule();
  }

  /**
   * The documents these triples belong to changed (a local write or remote data). Those of
   * collections in memory are stored as memory holds them when the commit starts; the triples
   * of others are stored as they are, merged into the stored documents.
   */
  documentsChanged(triples: readonly Triple[]): void {
    const { documents, deltas } = this.pending;
    for (const triple of triples) {
      const { collection, id } = triple;
      const key = `${collection}\u0000${id}`;
      if (this.hooks.isInMemory?.(collection, id) ?? true) {
        if (!documents.has(key)) documents.set(key, [collection, id]);
        continue;
      }
      const kept = deltas.get(key);
      if (kept === undefined) deltas.set(key, [triple]);
      else kept.push(triple);
    }
    this.schedule();
  }

  /**
   * These documents are gone from memory as if never written (their user may no longer read
   * them): storage drops them too. What arrives for them later is stored afresh.
   */
  documentsForgotten(documents: readonly DocumentRef[]): void {
    const { forgotten, deltas } = this.pending;
    for (const document of documents) {
      const key = `${document.collection}\u0000${document.id}`;
      forgotten.set(key, document);
      deltas.delete(key);
    }
    this.schedule();
  }

  /** Live query results changed (or new ones appeared): the next commit stores them. */
  resultsChanged(): void {
    this.pending.hasResults = true;
    this.schedule();
  }

  /**
   * Ids of a collection's documents whose changes storage has yet to write, marked or in the
   * commit in flight: memory must keep them until then (a read of storage would miss them).
   */
  unstoredIds(collection: string): Set<string> {
    const ids = new Set<string>();
    for (const documents of [this.pending.documents, this.inFlightDocuments]) {
      for (const [marked, id] of documents.values()) if (marked === collection) ids.add(id);
    }
    return ids;
  }

  outboxAdded(entry: OutboxEntry): void {
    this.pending.added.push(entry);
    this.schedule();
  }

  outboxRemoved(batchIds: readonly string[]): void {
    const pending = this.pending;
    for (const batchId of batchIds) {
      // Acknowledged before it was ever stored: it need not be stored at all.
      const index = pending.added.findIndex((entry) => entry.batchId === batchId);
      if (index >= 0) pending.added.splice(index, 1);
      else pending.acknowledged.add(batchId);
    }
    this.schedule();
  }

  cursorMoved(queryKey: string, cursor: string): void {
    this.pending.cursors.set(queryKey, cursor);
    this.schedule();
  }

  /** Settles once everything marked so far is stored (or its commit failed). */
  durable(): Promise<DatabaseResult<void>> {
    if (!isEmpty(this.pending)) return this.pending.done;
    return this.inFlight ?? Promise.resolve(ok(undefined));
  }

  /** Waits for the commits in progress and pending, then closes the storage. */
  async close(): Promise<void> {
    if (this.isStarted) {
      this.schedule();
      await this.durable();
    }
    this.isStarted = false;
    await this.storage.close();
  }

  private schedule(isRetry = false): void {
    if (!isRetry) this.isHeld = false;
    if (!this.isStarted || this.isHeld || this.isScheduled || this.inFlight !== undefined) return;
    this.isScheduled = true;
    // Writes of one tick share a commit.
    queueMicrotask(() => {
      this.isScheduled = false;
      this.commitPending();
    });
  }

  private commitPending(): void {
    if (this.inFlight !== undefined || isEmpty(this.pending)) return;
    const generation = this.pending;
    this.pending = newPending();
    this.inFlightDocuments = generation.documents;
    const documents: StoredDocument[] = [];
    for (const [collection, id] of generation.documents.values()) {
      const triples = this.store.documentTriples(collection, id);
      if (triples.length > 0) documents.push({ collection, id, triples });
    }
    const deltas = [...generation.deltas.values()].map((triples) => ({
      collection: triples[0]!.collection,
      id: triples[0]!.id,
      triples,
    }));
    const changed = new Set([...documents, ...deltas].map((document) => document.collection));
    const commit = this.storage
      .commit({
        forgotten: [...generation.forgotten.values()],
        documents,
        deltas,
        results: this.hooks.results?.(changed, generation.hasResults) ?? [],
        added: generation.added,
        acknowledged: [...generation.acknowledged],
        cursors: generation.cursors,
        clock: encodeHlc(this.clock.last()),
      })
      .then((result) => {
        this.inFlight = undefined;
        this.inFlightDocuments = new Map();
        if (result.error) {
          this.keepForRetry(generation);
          this.isHeld = true;
        } else {
          this.hooks.onCommitted?.(result.data.versions);
        }
        const settled: DatabaseResult<void> = result.error ? result : ok(undefined);
        generation.settle(settled);
        this.schedule(true);
        return settled;
      });
    this.inFlight = commit;
  }

  /** Puts a failed generation's marks back in front of what came since. */
  private keepForRetry(failed: Pending): void {
    const next = this.pending;
    for (const [key, value] of failed.documents) if (!next.documents.has(key)) next.documents.set(key, value);
    for (const [key, triples] of failed.deltas)
      if (!next.forgotten.has(key)) next.deltas.set(key, [...triples, ...(next.deltas.get(key) ?? [])]);
    // Drops run first in a commit, so one retried with what came since still comes before it.
    for (const [key, document] of failed.forgotten) next.forgotten.set(key, document);
    const acknowledged = new Set(next.acknowledged);
    next.added = [...failed.added.filter((entry) => !acknowledged.has(entry.batchId)), ...next.added];
    for (const batchId of failed.acknowledged) next.acknowledged.add(batchId);
    for (const [key, cursor] of failed.cursors) if (!next.cursors.has(key)) next.cursors.set(key, cursor);
    next.hasResults ||= failed.hasResults;
  }
}

function newPending(): Pending {
  let settle!: (result: DatabaseResult<void>) => void;
  const done = new Promise<DatabaseResult<void>>((resolve) => (settle = resolve));
  return {
    documents: new Map(),
    deltas: new Map(),
    forgotten: new Map(),
    added: [],
    acknowledged: new Set(),
    cursors: new Map(),
    hasResults: false,
    done,
    settle,
  };
}

function isEmpty(pending: Pending): boolean {
  return (
    pending.documents.size === 0 &&
    pending.deltas.size === 0 &&
    pending.forgotten.size === 0 &&
    pending.added.length === 0 &&
    pending.acknowledged.size === 0 &&
    pending.cursors.size === 0 &&
    !pending.hasResults
  );
}
