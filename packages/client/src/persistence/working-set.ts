import { type Clock, type DatabaseResult, type DocumentRef, ok, type Triple, type TripleStore } from "@trellis/core";
import { applyRemoteTriples, receiveClock, type RemoteApplier } from "../sync/remote-apply.js";
import type { ClientStorage, StoredDocument } from "./storage.js";
import { MAP_COLLECTION_PREFIX } from "../maps/map-collection.js";

/** Triples that arrived for a collection not in memory, kept until it loads. */
interface Arrival {
  readonly triples: readonly Triple[];
  readonly isComplete: boolean;
  /** Documents to forget after the triples (their user may no longer read them). */
  readonly forgotten?: readonly DocumentRef[];
}

/** Documents of a partial collection being read by id, with what arrived for them meanwhile. */
interface Fetch {
  readonly arrivals: Arrival[];
  readonly done: Promise<void>;
}

/**
 * What an operation needs in memory: a collection whole, or with `ids` only those documents of
 * it (none for a create). A collection not in memory at all is read whole either way.
 */
export interface MemoryNeed {
  readonly collection: string;
  readonly ids?: readonly string[] | undefined;
  /** Or: the documents whose `field` holds one of `values`, found through the storage's field index. */
  readonly matching?: { readonly field: string; readonly values: readonly unknown[] } | undefined;
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
  /** Ids of a collection's documents whose changes storage has yet to write (they stay in memory until then). */
  readonly unstoredIds: (collection: string) => ReadonlySet<string>;
  /**
   * The rows of a collection that live views hold (see `LiveQueryRegistry.heldRows`), or
   * undefined when one may read any row: without it, followed collections stay whole.
   */
  readonly heldRows?: ((collection: string) => ReadonlySet<number> | undefined) | undefined;
  /** Releases the oldest view kept after its subscribers left (see `WarmViews`); false when none is kept. */
  readonly releaseWarm?: (() => boolean) | undefined;
}

/**
 * Which collections a client holds in memory (designs 016 and 017). Stored collections are read
 * when a query or write first needs them, not when the client opens. With a `cacheSize`, once
 * memory holds more documents than that, the least recently used collections that no followed
 * query needs are dropped from memory (never from storage); then, from followed collections,
 * the documents no live view holds, which leaves such a collection *partial*. A dropped
 * collection is read again when needed; a partial one is read whole again by a query that is
 * not live yet, and by id for a write or for what arrives for a document not in memory.
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
  /** Collections a one-shot read needs whole: never made partial meanwhile. */
  private readonly wholePins = new Map<string, number>();
  /** Documents of partial collections being read by id, by `collection \0 id`. */
  private readonly fetching = new Map<string, Fetch>();
  /** Resident documents when unloading last freed nothing: no need to look again until more come. */
  private fruitlessAt: number | undefined;
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

  /** Whether all of a collection's stored documents are in memory (or there is no storage to read). */
  isLoaded(collection: string): boolean {
    return (
      this.isEverythingLoaded ||
      (this.loaded.has(collection) && this.options.store.table(collection)?.isPartial !== true)
    );
  }

  /** Whether a collection is in memory, whole or partial. */
  isInMemory(collection: string): boolean {
    return this.isEverythingLoaded || this.loaded.has(collection);
  }

  /**
   * Whether memory holds a document's stored state, so its changes are stored from memory;
   * otherwise (its collection is not in memory, or it is not among a partial one's documents)
   * they are stored as deltas.
   */
  holdsDocument(collection: string, id: string): boolean {
    if (!this.isInMemory(collection)) return false;
    const table = this.options.store.table(collection);
    return (
      table?.isPartial !== true || (table.anyRowOf(id) !== undefined && !this.fetching.has(documentKey(collection, id)))
    );
  }

  /** Storage failed to open: every collection counts as loaded from now on. */
  loadNothing(): void {
    this.isEverythingLoaded = true;
    this.options.store.transact(() => {
      for (const [collection] of this.arrivals) this.applyArrivals(collection);
    });
  }

  /**
   * Loads the collections not whole in memory; undefined when all are (no await needed). A failed
   * read is reported and the collection goes on with what memory holds, so nothing waits forever.
   */
  load(collections: Iterable<string>): Promise<void> | undefined {
    return this.prepare([...collections].map((collection) => ({ collection })));
  }

  /**
   * Loads what an operation reads: whole collections, and documents of partial ones by id; undefined
   * when memory holds all of it already.
   */
  prepare(needs: Iterable<MemoryNeed>): Promise<void> | undefined {
    let reads: Promise<unknown>[] | undefined;
    for (const { collection, ids, matching } of needs) {
      this.lastUse.set(collection, ++this.uses);
      const loading = this.loading.get(collection);
      if (loading !== undefined) (reads ??= []).push(loading);
      else if ((ids === undefined && matching === undefined) || !this.isInMemory(collection)) {
        if (!this.isLoaded(collection)) (reads ??= []).push(this.read(collection));
      } else if (!this.isLoaded(collection)) {
        const fetching =
          ids === undefined ? this.fetchMatching(collection, matching!) : this.fetchDocuments(collection, ids);
        if (fetching !== undefined) (reads ??= []).push(fetching);
      }
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
    this.scheduleEviction(true);
  }

  /**
   * Another tab's commit moved these collections to these versions. Its changes reached this
   * tab before (the channel keeps a tab's messages in order), so a tab that knew the version
   * just before knows this one.
   */
  storedElsewhere(versions: Iterable<readonly [collection: string, version: number]>): void {
    for (const [collection, version] of versions) {
      if (this.loaded.has(collection) && this.versions.get(collection) === version - 1)
        this.versions.set(collection, version);
    }
  }

  /**
   * Before a collection is loaded, puts in memory the documents of a query's stored result if
   * it is still current, so that query answers before the whole collection is read. Resolves
   * with whether it did (or the collection is loaded anyway). A read of the collection waits
   * for it: IndexedDB serves requests in turn, so a large read first would delay it.
   */
  answerEarly(queryKey: string, collection: string): Promise<boolean> {
    if (this.isInMemory(collection)) return Promise.resolve(this.isLoaded(collection));
    const answering = this.readEarly(queryKey, collection);
    const previous = this.early.get(collection);
    const settled = answering.then(() => undefined);
    this.early.set(
      collection,
      previous === undefined ? settled : Promise.all([previous, settled]).then(() => undefined),
    );
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

  /**
   * Keeps collections in memory until the returned release is called: a followed query's, whose
   * live view names the documents it holds, or (`isWhole`) a one-shot read's, which reads them
   * whole.
   */
  pin(collections: Iterable<string>, isWhole = false): () => void {
    const pinned = [...collections];
    for (const collection of pinned) {
      hold(this.pins, collection);
      if (isWhole) hold(this.wholePins, collection);
    }
    let isPinned = true;
    return () => {
      if (!isPinned) return;
      isPinned = false;
      for (const collection of pinned) {
        release(this.pins, collection);
        if (isWhole) release(this.wholePins, collection);
      }
      this.scheduleEviction();
    };
  }

  /** The collections pinned by followed queries now. */
  pinnedCollections(): string[] {
    return [...this.pins.keys()];
  }

  /**
   * Applies remote or shared triples: now for documents in memory; for a partial collection's
   * other documents once they are read by id; for collections not in memory, on load.
   */
  readonly apply: RemoteApplier = (triples, isComplete = false) => {
    const { store, clock } = this.options;
    let later: Map<string, Triple[]> | undefined;
    let fetched: Map<string, Triple[]> | undefined;
    const now: Triple[] = [];
    for (const triple of triples) {
      const { collection } = triple;
      if (this.isLoaded(collection)) now.push(triple);
      else if (this.isInMemory(collection)) {
        if (
          !this.fetching.has(documentKey(collection, triple.id)) &&
          store.table(collection)?.anyRowOf(triple.id) !== undefined
        )
          now.push(triple);
        else addTo((fetched ??= new Map()), documentKey(collection, triple.id), triple);
      } else addTo((later ??= new Map()), collection, triple);
    }
    if (later === undefined && fetched === undefined) return applyRemoteTriples(store, clock, triples, isComplete);
    let clockError = now.length > 0 ? applyRemoteTriples(store, clock, now, isComplete) : undefined;
    if (fetched !== undefined) {
      // One read per collection, however many of its documents the frame touches.
      const idsByCollection = new Map<string, string[]>();
      for (const list of fetched.values()) {
        clockError ??= receiveClock(clock, list);
        addTo(idsByCollection, list[0]!.collection, list[0]!.id);
      }
      for (const [collection, ids] of idsByCollection) void this.fetchDocuments(collection, ids);
      for (const list of fetched.values()) {
        const { collection, id } = list[0]!;
        this.fetching.get(documentKey(collection, id))!.arrivals.push({ triples: list, isComplete });
      }
    }
    for (const [collection, list] of later ?? []) {
      clockError ??= receiveClock(clock, list);
      let kept = this.arrivals.get(collection);
      if (kept === undefined) this.arrivals.set(collection, (kept = { list: [], triples: 0 }));
      kept.list.push({ triples: list, isComplete });
      kept.triples += list.length;
      if (kept.triples > ARRIVALS_BEFORE_LOAD) void this.read(collection);
    }
    return clockError;
  };

  /**
   * Forgets documents its user may no longer read: now for those memory holds or may hold; for
   * the others once their collection or document is read, after what arrived before (a read
   * that started before storage dropped them may bring them back).
   */
  readonly forget = (documents: readonly DocumentRef[]): void => {
    const now: DocumentRef[] = [];
    for (const document of documents) {
      const { collection, id } = document;
      const later: Arrival = { triples: [], isComplete: false, forgotten: [document] };
      const fetch = this.fetching.get(documentKey(collection, id));
      if (this.isLoaded(collection) || (this.isInMemory(collection) && fetch === undefined)) now.push(document);
      else if (fetch !== undefined) fetch.arrivals.push(later);
      else {
        let kept = this.arrivals.get(collection);
        if (kept === undefined) this.arrivals.set(collection, (kept = { list: [], triples: 0 }));
        kept.list.push(later);
      }
    }
    if (now.length > 0) this.options.store.forget(now);
  };

  /** Triples kept for documents not in memory: part of what a new tab gets from the leader. */
  keptTriples(): Triple[] {
    const triples: Triple[] = [];
    for (const { list } of this.arrivals.values()) for (const arrival of list) triples.push(...arrival.triples);
    for (const { arrivals } of this.fetching.values()) for (const arrival of arrivals) triples.push(...arrival.triples);
    return triples;
  }

  /**
   * Drops from memory what the bound allows, once the current task is done. After commits
   * (`isGrowth`), documents of followed collections are looked at again only once memory has
   * grown by a tenth of the bound since they last yielded nothing: a look scans their rows.
   */
  scheduleEviction(isGrowth = false): void {
    if (!isGrowth) this.fruitlessAt = undefined;
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
    for (const collection of this.loaded) count += this.options.store.table(collection)?.residentCount ?? 0;
    return count;
  }

  /**
   * Over the bound, drops least recently used collections nothing follows, then unloads the
   * documents of followed ones that no live view holds (in row order: roughly, oldest read first).
   */
  private evict(): void {
    const { store, unstoredIds } = this.options;
    let resident = this.residentDocuments();
    if (resident <= this.cacheSize) return;
    const byAge = [...this.loaded].sort((a, b) => (this.lastUse.get(a) ?? 0) - (this.lastUse.get(b) ?? 0));
    for (const collection of byAge) {
      if (resident <= this.cacheSize) return;
      if (
        this.pins.has(collection) ||
        this.loading.has(collection) ||
        store.isWatched(collection) ||
        unstoredIds(collection).size > 0
      )
        continue;
      const size = store.table(collection)?.residentCount ?? 0;
      if (!store.dropTable(collection)) continue;
      this.loaded.delete(collection);
      this.versions.delete(collection);
      resident -= size;
    }
    if (
      resident <= this.cacheSize ||
      (this.fruitlessAt !== undefined && resident < this.fruitlessAt + Math.ceil(this.cacheSize / 10))
    )
      return;
    const before = resident;
    let isBlocked = false;
    for (const collection of byAge) {
      if (resident <= this.cacheSize) break;
      if (
        this.loading.has(collection) ||
        this.wholePins.has(collection) ||
        collection.startsWith(MAP_COLLECTION_PREFIX)
      ) {
        isBlocked = true;
        continue;
      }
      const unloaded = this.unloadUnheld(collection, resident - this.cacheSize);
      resident -= unloaded.count;
      isBlocked ||= unloaded.isBlocked;
    }
    if (resident > this.cacheSize && this.options.releaseWarm?.() === true) {
      // What views kept after their subscribers left hold does not fit: one goes, then look again.
      this.scheduleEviction();
      return;
    }
    // Nothing to unload but what live views hold: scanning again is pointless until more comes.
    this.fruitlessAt = resident === before && !isBlocked ? resident : undefined;
  }

  /**
   * Unloads up to `count` documents of a collection that no live view holds: how many it did,
   * and whether others only wait to be stored.
   */
  private unloadUnheld(collection: string, count: number): { count: number; isBlocked: boolean } {
    const { store } = this.options;
    const table = store.table(collection);
    const held = this.options.heldRows?.(collection);
    if (table === undefined || held === undefined) return { count: 0, isBlocked: false };
    const unstored = this.options.unstoredIds(collection);
    const rows: number[] = [];
    for (let row = 0; row < table.ids.length && rows.length < count; row++) {
      const id = table.ids[row]!;
      if (table.anyRowOf(id) !== row || held.has(row) || unstored.has(id)) continue;
      rows.push(row);
    }
    const isUnloaded = rows.length > 0 && store.unload(collection, rows);
    return { count: isUnloaded ? rows.length : 0, isBlocked: unstored.size > 0 || (rows.length > 0 && !isUnloaded) };
  }

  /**
   * Reads documents of a partial collection by id (those not in memory and not being read), then
   * applies them and what arrived for them meanwhile, in arrival order, in one transaction.
   */
  private fetchDocuments(collection: string, ids: Iterable<string>): Promise<void> | undefined {
    const table = this.options.store.table(collection);
    const waits: Promise<void>[] = [];
    const unread = new Set<string>();
    for (const id of ids) {
      const fetching = this.fetching.get(documentKey(collection, id));
      if (fetching !== undefined) waits.push(fetching.done);
      else if (table?.anyRowOf(id) === undefined) unread.add(id);
    }
    if (unread.size > 0) {
      const missing = [...unread];
      const done = this.options.storage
        .readDocuments(collection, missing)
        .then((read) => this.settleFetch(collection, missing, read));
      for (const id of missing) this.fetching.set(documentKey(collection, id), { arrivals: [], done });
      waits.push(done);
    }
    return waits.length === 0 ? undefined : Promise.all(waits).then(() => undefined);
  }

  /**
   * Puts in memory the stored documents of a partial collection whose `field` holds one of
   * `values` (the storage's field index), and waits for those being read by id with what arrived
   * for them. Memory then holds every document a query routed by that field can match. Without
   * an answer (a failed read, an index still being built) it reads the collection whole.
   */
  private async fetchMatching(
    collection: string,
    { field, values }: NonNullable<MemoryNeed["matching"]>,
  ): Promise<void> {
    const { store, storage } = this.options;
    const read = await storage.readMatching(collection, field, values);
    if (read.error)
      console.warn(`Trellis storage: ${read.error.message} The collection "${collection}" is read whole instead.`);
    const documents = read.data;
    // No answer, or the collection was dropped meanwhile: only a whole read gives the caller what it needs.
    if (documents === undefined || !this.isInMemory(collection)) {
      await this.read(collection);
      return;
    }
    const pending: Promise<void>[] = [];
    store.transact(() => {
      for (const document of documents) {
        const fetching = this.fetching.get(documentKey(collection, document.id));
        // Being read by id: applied with what arrived for it. In memory: memory holds at least this.
        if (fetching !== undefined) pending.push(fetching.done);
        else if (store.table(collection)?.anyRowOf(document.id) === undefined)
          for (const triple of document.triples) store.applyTriple(triple);
      }
    });
    this.scheduleEviction();
    await Promise.all(pending);
  }

  private settleFetch(collection: string, ids: readonly string[], read: DatabaseResult<StoredDocument[]>): void {
    const { store } = this.options;
    const arrivals: Arrival[] = [];
    for (const id of ids) {
      const key = documentKey(collection, id);
      arrivals.push(...this.fetching.get(key)!.arrivals);
      this.fetching.delete(key);
    }
    if (read.error)
      console.warn(`Trellis storage: ${read.error.message} Documents of "${collection}" go on with what memory holds.`);
    if (!this.isInMemory(collection)) {
      // Dropped whole meanwhile: what arrived waits for the collection's next read.
      for (const arrival of arrivals) {
        if (arrival.triples.length > 0) this.apply(arrival.triples, arrival.isComplete);
        if (arrival.forgotten !== undefined) this.forget(arrival.forgotten);
      }
      return;
    }
    store.transact(() => {
      for (const document of read.data ?? []) for (const triple of document.triples) store.applyTriple(triple);
      // A change shared as whole assumed storage had the rest of its document; where it has not
      // (deleted and dropped, or never stored here), it applies only with its own createdAt.
      const stored = new Set((read.data ?? []).map((document) => document.id));
      for (const arrival of arrivals) {
        const id = arrival.triples[0]?.id;
        this.applyArrival(
          arrival.isComplete && id !== undefined && !stored.has(id) ? { ...arrival, isComplete: false } : arrival,
        );
      }
    });
    this.scheduleEviction();
  }

  private read(collection: string): Promise<DatabaseResult<void>> {
    let reading = this.loading.get(collection);
    if (reading !== undefined) return reading;
    const early = this.early.get(collection) ?? Promise.resolve();
    this.early.delete(collection);
    reading = early
      .then(() => this.readPages(collection))
      .then((read) => {
        this.loading.delete(collection);
        if (read.error)
          console.warn(
            `Trellis storage: ${read.error.message} The collection "${collection}" goes on with what memory holds.`,
          );
        const table = this.options.store.table(collection);
        if (table !== undefined && !read.error) table.isPartial = false;
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
    for (const arrival of kept.list) this.applyArrival(arrival);
  }

  private applyArrival(arrival: Arrival): void {
    const { store, clock } = this.options;
    if (arrival.triples.length > 0) applyRemoteTriples(store, clock, arrival.triples, arrival.isComplete);
    if (arrival.forgotten !== undefined) store.forget(arrival.forgotten);
  }
}

function documentKey(collection: string, id: string): string {
  return `${collection}\u0000${id}`;
}

function addTo<T>(lists: Map<string, T[]>, key: string, item: T): void {
  const list = lists.get(key);
  if (list === undefined) lists.set(key, [item]);
  else list.push(item);
}

function hold(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

function release(counts: Map<string, number>, key: string): void {
  const count = counts.get(key)! - 1;
  if (count > 0) counts.set(key, count);
  else counts.delete(key);
}
