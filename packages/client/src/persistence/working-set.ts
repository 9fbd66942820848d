import { type Clock, type DatabaseResult, ok, type Triple, type TripleStore } from "@trellis/core";
import { applyRemoteTriples, receiveClock, type RemoteApplier } from "../sync/remote-apply.js";
import type { ClientStorage } from "./storage.js";

/** Triples that arrived for a collection not in memory, kept until it loads. */
interface Arrival {
  readonly triples: readonly Triple[];
  readonly isComplete: boolean;
}

/** Documents read from storage at a time when a collection loads. */
const READ_PAGE_DOCUMENTS = 5_000;

/** Above this many kept triples a collection is loaded, so what arrives for it never piles up unbounded. */
const ARRIVALS_BEFORE_LOAD = 20_000;

export interface WorkingSetOptions {
  readonly store: TripleStore;
  readonly clock: Clock;
  readonly storage: ClientStorage;
  /** Documents to keep in memory beyond what followed queries need (default: no bound). */
  readonly cacheSize?: number | undefined;
  /** Recomputes the live queries of a collection after its stored documents went in unheard. */
  readonly refresh?: ((collection: string) => void) | undefined;
  /** Whether storage has yet to write changes of a collection held in memory (it stays until then). */
  readonly hasUnstored: (collection: string) => boolean;
}

/**
 * Which collections a client holds in memory (design 016). Stored collections are read when a
 * query or write first needs them, not when the client opens, and with a `cacheSize` the least
 * recently used ones that no followed query needs are dropped from memory (never from storage)
 * once memory holds more documents than that. A dropped collection is read again when needed.
 *
 * Triples from the server or other tabs for a collection not in memory are kept in arrival order
 * and applied after its stored documents when it loads; the leader stores them meanwhile as
 * deltas (see `StorageCommit.deltas`). So what a query sees is what it would see had the
 * collection never left memory.
 *
 * @example
 * const workingSet = new WorkingSet({ store, clock, storage, cacheSize: 5_000, hasUnstored });
 * await workingSet.load(["todos"]); // then queries and writes on todos run on complete data
 */
export class WorkingSet {
  private readonly loaded = new Set<string>();
  private readonly loading = new Map<string, Promise<DatabaseResult<void>>>();
  /** Early answers being read, by collection: its full read starts after them. */
  private readonly early = new Map<string, Promise<void>>();
  private readonly arrivals = new Map<string, { list: Arrival[]; triples: number }>();
  private readonly pins = new Map<string, number>();
  private readonly lastUse = new Map<string, number>();
  /**
   * The stored version each loaded collection's memory is known to hold (what was read, moved on
   * by this client's own commits); null once another tab's commit came in between.
   */
  private readonly versions = new Map<string, number | null>();
  private uses = 0;
  /** Storage could not be opened: everything the client has is in memory. */
  private isEverythingLoaded = false;
  private isEvictionScheduled = false;
  private readonly cacheSize: number;

  constructor(private readonly options: WorkingSetOptions) {
    const { cacheSize } = options;
    if (cacheSize !== undefined && !(Number.isInteger(cacheSize) && cacheSize >= 0)) {
      throw new TypeError(`createClient: cacheSize must be a whole number of documents, got ${String(cacheSize)}.`);
    }
    this.cacheSize = cacheSize ?? Infinity;
  }

  /** Whether a collection's stored documents are in memory (or there is no storage to read). */
  isLoaded(collection: string): boolean {
    return this.isEverythingLoaded || this.loaded.has(collection);
  }

  /** Storage failed to open: every collection counts as loaded from now on. */
  loadNothing(): void {
    this.isEverythingLoaded = true;
    this.options.store.transact(() => {
      for (const [collection] of this.arrivals) this.applyArrivals(collection);
    });
  }

  /**
   * Loads the collections not in memory; undefined when all are (no await needed). A failed
   * read is reported and the collection goes on with what memory holds, so nothing waits forever.
   */
  load(collections: Iterable<string>): Promise<void> | undefined {
    let reads: Promise<DatabaseResult<void>>[] | undefined;
    for (const collection of collections) {
      this.lastUse.set(collection, ++this.uses);
      if (!this.isLoaded(collection)) (reads ??= []).push(this.read(collection));
    }
    return reads && Promise.all(reads).then(() => undefined);
  }

  /** The stored version memory is known to hold for a loaded collection, or undefined. */
  storedVersion(collection: string): number | undefined {
    return this.loaded.has(collection) ? (this.versions.get(collection) ?? undefined) : undefined;
  }

  /** A commit of this client moved these collections to these versions. */
  committed(versions: ReadonlyMap<string, number>): void {
    for (const [collection, version] of versions) {
      const known = this.versions.get(collection);
      if (known === undefined) continue;
      // Anything but the next version means another tab committed in between, unseen here.
      this.versions.set(collection, known !== null && version === known + 1 ? version : null);
    }
    this.scheduleEviction();
  }

  /**
   * Another tab's commit moved these collections to these versions. Its changes reached this
   * tab before (the channel keeps a tab's messages in order), so a tab that knew the version
   * just before knows this one.
   */
  storedElsewhere(versions: Iterable<readonly [collection: string, version: number]>): void {
    for (const [collection, version] of versions) {
      if (this.loaded.has(collection) && this.versions.get(collection) === version - 1) this.versions.set(collection, version);
    }
  }

  /**
   * Before a collection is loaded, puts in memory the documents of a query's stored result if
   * it is still current, so that query answers before the whole collection is read. Resolves
   * with whether it did (or the collection is loaded anyway). A read of the collection waits
   * for it: IndexedDB serves requests in turn, so a large read first would delay it.
   */
  answerEarly(queryKey: string, collection: string): Promise<boolean> {
    if (this.isLoaded(collection)) return Promise.resolve(true);
    const answering = this.readEarly(queryKey, collection);
    const previous = this.early.get(collection);
    const settled = answering.then(() => undefined);
    this.early.set(collection, previous === undefined ? settled : Promise.all([previous, settled]).then(() => undefined));
    return answering;
  }

  private async readEarly(queryKey: string, collection: string): Promise<boolean> {
    const stored = await this.options.storage.readResult(queryKey);
    if (stored.error || stored.data === undefined) return false;
    if (this.isLoaded(collection)) return true;
    const { store } = this.options;
    // Stored documents as they are: the full read later merges the same cells, changing nothing.
    store.transact(() => {
      for (const document of stored.data!) for (const triple of document.triples) store.applyTriple(triple);
    });
    return true;
  }

  /** Keeps collections in memory until the returned release is called (a followed query's). */
  pin(collections: Iterable<string>): () => void {
    const pinned = [...collections];
    for (const collection of pinned) this.pins.set(collection, (this.pins.get(collection) ?? 0) + 1);
    let isPinned = true;
    return () => {
      if (!isPinned) return;
      isPinned = false;
      for (const collection of pinned) {
        const count = this.pins.get(collection)! - 1;
        if (count > 0) this.pins.set(collection, count);
        else this.pins.delete(collection);
      }
      this.scheduleEviction();
    };
  }

  /** The collections pinned by followed queries now. */
  pinnedCollections(): string[] {
    return [...this.pins.keys()];
  }

  /** Applies remote or shared triples: now for collections in memory, on load for the others. */
  readonly apply: RemoteApplier = (triples, isComplete = false) => {
    const { store, clock } = this.options;
    let later: Map<string, Triple[]> | undefined;
    const now: Triple[] = [];
    for (const triple of triples) {
      if (this.isLoaded(triple.collection)) now.push(triple);
      else {
        later ??= new Map();
        const list = later.get(triple.collection);
        if (list === undefined) later.set(triple.collection, [triple]);
        else list.push(triple);
      }
    }
    if (later === undefined) return applyRemoteTriples(store, clock, triples, isComplete);
    let clockError = now.length > 0 ? applyRemoteTriples(store, clock, now, isComplete) : undefined;
    for (const [collection, list] of later) {
      clockError ??= receiveClock(clock, list);
      let kept = this.arrivals.get(collection);
      if (kept === undefined) this.arrivals.set(collection, (kept = { list: [], triples: 0 }));
      kept.list.push({ triples: list, isComplete });
      kept.triples += list.length;
      if (kept.triples > ARRIVALS_BEFORE_LOAD) void this.read(collection);
    }
    return clockError;
  };

  /** Triples kept for collections not in memory: part of what a new tab gets from the leader. */
  keptTriples(): Triple[] {
    const triples: Triple[] = [];
    for (const { list } of this.arrivals.values()) for (const arrival of list) triples.push(...arrival.triples);
    return triples;
  }

  /** Drops from memory what the bound allows, once the current task is done. */
  scheduleEviction(): void {
    if (this.cacheSize === Infinity || this.isEvictionScheduled) return;
    this.isEvictionScheduled = true;
    setTimeout(() => {
      this.isEvictionScheduled = false;
      this.evict();
    }, 0);
  }

  /** Number of documents held in memory for loaded collections. */
  residentDocuments(): number {
    let count = 0;
    for (const collection of this.loaded) count += this.options.store.table(collection)?.ids.length ?? 0;
    return count;
  }

  private evict(): void {
    const { store, hasUnstored } = this.options;
    let resident = this.residentDocuments();
    if (resident <= this.cacheSize) return;
    const candidates = [...this.loaded]
      .filter((collection) => !this.pins.has(collection) && !this.loading.has(collection) && !store.isWatched(collection) && !hasUnstored(collection))
      .sort((a, b) => (this.lastUse.get(a) ?? 0) - (this.lastUse.get(b) ?? 0));
    for (const collection of candidates) {
      if (resident <= this.cacheSize) return;
      const size = store.table(collection)?.ids.length ?? 0;
      if (!store.dropTable(collection)) continue;
      this.loaded.delete(collection);
      this.versions.delete(collection);
      resident -= size;
    }
  }

  private read(collection: string): Promise<DatabaseResult<void>> {
    let reading = this.loading.get(collection);
    if (reading !== undefined) return reading;
    const early = this.early.get(collection) ?? Promise.resolve();
    this.early.delete(collection);
    reading = early.then(() => this.readPages(collection)).then((read) => {
      this.loading.delete(collection);
      if (read.error) console.warn(`Trellis storage: ${read.error.message} The collection "${collection}" goes on with what memory holds.`);
      this.options.refresh?.(collection);
      this.options.store.transact(() => this.applyArrivals(collection));
      this.loaded.add(collection);
      this.versions.set(collection, read.data ?? null);
      this.scheduleEviction();
      return read.error ? read : ok(undefined);
    });
    this.loading.set(collection, reading);
    return reading;
  }

  /**
   * Reads a collection into memory page by page, each page one store transaction, so a large
   * collection neither holds all its stored documents at once nor blocks the page while it is
   * applied. Resolves with the version of the first page: memory holds at least what storage
   * held then (later pages may be newer, which only makes the client's next commit see that
   * another tab committed). What arrives meanwhile waits with the other arrivals.
   */
  private async readPages(collection: string): Promise<DatabaseResult<number>> {
    const { store, storage } = this.options;
    let after: string | undefined;
    let version: number | undefined;
    for (;;) {
      const page = await storage.readCollection(collection, { after, limit: READ_PAGE_DOCUMENTS });
      if (page.error) return page;
      version ??= page.data.version;
      const { documents } = page.data;
      // Unheard: live queries of the collection are refreshed once, when it is all in.
      store.transactUnheard(collection, () => {
        for (const document of documents) for (const triple of document.triples) store.applyTriple(triple);
      });
      if (documents.length < READ_PAGE_DOCUMENTS) return ok(version);
      after = documents[documents.length - 1]!.id;
    }
  }

  private applyArrivals(collection: string): void {
    const kept = this.arrivals.get(collection);
    if (kept === undefined) return;
    this.arrivals.delete(collection);
    const { store, clock } = this.options;
    for (const arrival of kept.list) applyRemoteTriples(store, clock, arrival.triples, arrival.isComplete);
  }
}
