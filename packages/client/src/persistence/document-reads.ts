import type { Clock, DatabaseResult, Triple, TripleStore } from "@trellis/core";
import { type Arrival, applyArrival, documentKey } from "./remote-arrivals.js";
import type { Residency } from "./residency.js";
import type { ClientStorage, StoredDocument } from "./storage.js";

/** Documents whose `field` holds one of `values`, found through the storage's field index. */
export interface FieldMatch {
  readonly field: string;
  readonly values: readonly unknown[];
}

/** Documents of a partial collection being read by id, with what arrived for them meanwhile. */
interface PendingRead {
  readonly arrivals: Arrival[];
  readonly done: Promise<void>;
}

export interface DocumentReadsOptions {
  readonly store: TripleStore;
  readonly clock: Clock;
  readonly storage: ClientStorage;
  readonly residency: Residency;
  /** Reads a collection whole: what a read by field value falls back to. */
  readonly readWhole: (collection: string) => Promise<unknown>;
  /** Routes again what arrived for documents whose collection left memory while they were read. */
  readonly reroute: (arrival: Arrival) => void;
  /** Documents came into memory: the memory bound may be exceeded. */
  readonly grew: () => void;
}

/**
 * Reads documents of partial collections into memory: by id (for writes by id, queries naming ids
 * and what arrives for a document not in memory) and by field value (for a query routed by
 * that field). A document's read applies the stored document and then what arrived for it
 * meanwhile, in arrival order, in one transaction.
 *
 * @example
 * const reads = new DocumentReads({
 *   store,
 *   clock,
 *   storage,
 *   residency,
 *   readWhole: async (collection) => workingSet.load([collection]),
 *   reroute: (arrival) => workingSet.arrivals.apply(arrival.triples, arrival.isComplete),
 *   grew: () => {},
 * });
 * await reads.byIds("todos", ["t1", "t2"]); // both are in memory, as stored and changed since
 */
export class DocumentReads {
  /** By `collection \0 id`. */
  private readonly reading = new Map<string, PendingRead>();

  constructor(private readonly options: DocumentReadsOptions) {}

  /** Whether a document is being read by id. */
  isReading(collection: string, id: string): boolean {
    return this.reading.has(documentKey(collection, id));
  }

  /** Keeps what arrived for a document being read by id, to apply after it. */
  keep(collection: string, id: string, arrival: Arrival): void {
    this.reading.get(documentKey(collection, id))!.arrivals.push(arrival);
  }

  /** Every triple kept for documents being read. */
  keptTriples(): Triple[] {
    const triples: Triple[] = [];
    for (const { arrivals } of this.reading.values()) for (const arrival of arrivals) triples.push(...arrival.triples);
    return triples;
  }

  /**
   * Reads documents of a partial collection by id (those not in memory and not being read), then
   * applies them and what arrived for them meanwhile; undefined when there is nothing to wait for.
   */
  byIds(collection: string, ids: Iterable<string>): Promise<void> | undefined {
    const table = this.options.store.table(collection);
    const waits: Promise<void>[] = [];
    const unread = new Set<string>();
    for (const id of ids) {
      const reading = this.reading.get(documentKey(collection, id));
      if (reading !== undefined) waits.push(reading.done);
      else if (table?.anyRowOf(id) === undefined) unread.add(id);
    }
    if (unread.size > 0) {
      const missing = [...unread];
      const done = this.options.storage
        .readDocuments(collection, missing)
        .then((read) => this.settle(collection, missing, read));
      for (const id of missing) this.reading.set(documentKey(collection, id), { arrivals: [], done });
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
  async matching(collection: string, { field, values }: FieldMatch): Promise<void> {
    const { store, storage } = this.options;
    const read = await storage.readMatching(collection, field, values);
    if (read.error)
      console.warn(`Trellis storage: ${read.error.message} The collection "${collection}" is read whole instead.`);
    const documents = read.data;
    // No answer, or the collection was dropped meanwhile: only a whole read gives the caller what it needs.
    if (documents === undefined || !this.options.residency.isInMemory(collection)) {
      await this.options.readWhole(collection);
      return;
    }
    const pending: Promise<void>[] = [];
    store.transact(() => {
      for (const document of documents) {
        const reading = this.reading.get(documentKey(collection, document.id));
        // Being read by id: applied with what arrived for it. In memory: memory holds at least this.
        if (reading !== undefined) pending.push(reading.done);
        else if (store.table(collection)?.anyRowOf(document.id) === undefined)
          for (const triple of document.triples) store.applyTriple(triple);
      }
    });
    this.options.grew();
    await Promise.all(pending);
  }

  private settle(collection: string, ids: readonly string[], read: DatabaseResult<StoredDocument[]>): void {
    const { store, clock } = this.options;
    const arrivals: Arrival[] = [];
    for (const id of ids) {
      const key = documentKey(collection, id);
      arrivals.push(...this.reading.get(key)!.arrivals);
      this.reading.delete(key);
    }
    if (read.error)
      console.warn(`Trellis storage: ${read.error.message} Documents of "${collection}" go on with what memory holds.`);
    if (!this.options.residency.isInMemory(collection)) {
      // Dropped whole meanwhile: what arrived waits for the collection's next read.
      for (const arrival of arrivals) this.options.reroute(arrival);
      return;
    }
    store.transact(() => {
      for (const document of read.data ?? []) for (const triple of document.triples) store.applyTriple(triple);
      // A change shared as whole assumed storage had the rest of its document; where it has not
      // (deleted and dropped, or never stored here), it applies only with its own createdAt.
      const stored = new Set((read.data ?? []).map((document) => document.id));
      for (const arrival of arrivals) {
        const id = arrival.triples[0]?.id;
        applyArrival(
          store,
          clock,
          arrival.isComplete && id !== undefined && !stored.has(id) ? { ...arrival, isComplete: false } : arrival,
        );
      }
    });
    this.options.grew();
  }
}
