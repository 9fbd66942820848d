import type { Clock } from "@trellis/core";
import { CollectionPins } from "./collection-pins.js";
import { CollectionReader } from "./collection-reader.js";
import { DocumentReads, type FieldMatch } from "./document-reads.js";
import { EarlyAnswers } from "./early-answers.js";
import { Eviction, type EvictionOptions } from "./eviction.js";
import { RemoteArrivals } from "./remote-arrivals.js";
import { Residency } from "./residency.js";
import type { ClientStorage } from "./storage.js";
import { StoredVersions } from "./stored-versions.js";

/**
 * What an operation needs in memory: a collection whole, or with `ids` only those documents of
 * it (none for a create). A collection not in memory at all is read whole either way.
 */
export interface MemoryNeed {
  readonly collection: string;
  readonly ids?: readonly string[] | undefined;
  /** Or: the documents whose `field` holds one of `values`, found through the storage's field index. */
  readonly matching?: FieldMatch | undefined;
}

/** What the parts need: the store, clock and storage, and what {@link Eviction} needs of the client. */
export interface WorkingSetOptions extends Pick<
  EvictionOptions,
  "store" | "cacheSize" | "unstoredIds" | "heldRows" | "releaseWarm"
> {
  readonly clock: Clock;
  readonly storage: ClientStorage;
  /** Recomputes the live queries of a collection after its stored documents went in unheard. */
  readonly refresh?: ((collection: string) => void) | undefined;
}

/**
 * Which collections and documents a client holds in memory (designs 016 and 017): stored
 * collections are read when a query or write first needs them, not when the client opens, and
 * with a `cacheSize` what nothing needs leaves memory again. This class wires the parts that do
 * it: {@link Residency} (what is in memory), {@link CollectionReader} (whole reads, in pages),
 * {@link DocumentReads} (reads by id and by field value), {@link EarlyAnswers} (stored results
 * before a collection is read), {@link RemoteArrivals} (what the server and other tabs send for
 * what is not in memory), {@link CollectionPins} and {@link Eviction} (what stays and what goes),
 * and {@link StoredVersions} (the stored versions memory is known to hold, across tabs). Callers
 * use the parts it exposes (`workingSet.pins.pin(…)`) directly.
 *
 * What a query sees is what it would see had every collection stayed in memory.
 *
 * @example
 * const workingSet = new WorkingSet({
 *   store,
 *   clock,
 *   storage,
 *   cacheSize: 5_000,
 *   unstoredIds: (collection) => session.writer.unstoredIds(collection),
 * });
 * await workingSet.load(["todos"]); // then queries and writes on todos run on complete data
 */
export class WorkingSet {
  /** What is in memory. */
  readonly residency: Residency;
  /** The stored versions memory is known to hold. */
  readonly versions = new StoredVersions();
  /** What stays in memory. */
  readonly pins: CollectionPins;
  /** Stored results read before their collection. */
  readonly earlyAnswers: EarlyAnswers;
  /** Where what the server and other tabs send goes: its `apply` and `forget` are sync's. */
  readonly arrivals: RemoteArrivals;
  private readonly reader: CollectionReader;
  private readonly reads: DocumentReads;
  private readonly eviction: Eviction;

  constructor(private readonly options: WorkingSetOptions) {
    const { store } = options;
    const residency = (this.residency = new Residency(store));
    // What the parts share; each takes what it needs.
    const parts = { ...options, residency };
    this.pins = new CollectionPins(() => this.eviction.schedule());
    this.earlyAnswers = new EarlyAnswers(parts);
    this.reader = new CollectionReader({
      ...parts,
      before: (collection) => this.earlyAnswers.before(collection),
      done: (collection, version) => this.collectionRead(collection, version),
    });
    this.reads = new DocumentReads({
      ...parts,
      readWhole: (collection) => this.reader.read(collection),
      reroute: (arrival) => this.arrivals.reroute(arrival),
      grew: () => this.eviction.schedule(),
    });
    this.arrivals = new RemoteArrivals({
      ...parts,
      reads: this.reads,
      readWhole: (collection) => void this.reader.read(collection),
    });
    this.eviction = new Eviction({
      ...parts,
      pins: this.pins,
      isReading: (collection) => this.reader.isReading(collection),
      dropped: (collection) => {
        residency.dropped(collection);
        this.versions.dropped(collection);
      },
    });
  }

  /**
   * Whether memory holds a document's stored state, so its changes are stored from memory;
   * otherwise (its collection is not in memory, or it is not among a partial one's documents)
   * they are stored as deltas.
   */
  holdsDocument(collection: string, id: string): boolean {
    if (!this.residency.isInMemory(collection)) return false;
    const table = this.options.store.table(collection);
    return table?.isPartial !== true || (table.anyRowOf(id) !== undefined && !this.reads.isReading(collection, id));
  }

  /** Storage failed to open: every collection counts as loaded from now on. */
  loadNothing(): void {
    this.residency.loadEverything();
    this.options.store.transact(() => this.arrivals.applyAllKept());
  }

  /**
   * Loads the collections not whole in memory; undefined when all are (no await needed). A failed
   * read is reported and the collection goes on with what memory holds, so nothing waits forever.
   */
  load(collections: Iterable<string>): Promise<void> | undefined {
    return this.prepare([...collections].map((collection) => ({ collection })));
  }

  /**
   * Loads what an operation reads: whole collections, and documents of partial ones by id or by
   * field value; undefined when memory holds all of it already.
   */
  prepare(needs: Iterable<MemoryNeed>): Promise<void> | undefined {
    const { residency, reader, reads } = this;
    let waits: Promise<unknown>[] | undefined;
    for (const { collection, ids, matching } of needs) {
      this.eviction.used(collection);
      const reading = reader.readingOf(collection);
      if (reading !== undefined) (waits ??= []).push(reading);
      else if ((ids === undefined && matching === undefined) || !residency.isInMemory(collection)) {
        if (!residency.isLoaded(collection)) (waits ??= []).push(reader.read(collection));
      } else if (!residency.isLoaded(collection)) {
        const read = ids === undefined ? reads.matching(collection, matching!) : reads.byIds(collection, ids);
        if (read !== undefined) (waits ??= []).push(read);
      }
    }
    return waits && Promise.all(waits).then(() => undefined);
  }

  /** A commit of this client moved these collections to these versions. */
  committed(versions: ReadonlyMap<string, number>): void {
    this.versions.committed(versions);
    this.eviction.schedule(true);
  }

  /** A collection's read from storage ended: what arrived for it meanwhile goes in after it. */
  private collectionRead(collection: string, version: number | null): void {
    const { store, refresh } = this.options;
    refresh?.(collection);
    store.transact(() => this.arrivals.applyKept(collection));
    this.residency.added(collection);
    this.versions.read(collection, version);
    this.eviction.schedule();
  }
}
