import type { Clock, DocumentRef, Triple, TripleStore } from "@trellis/core";
import { applyRemoteTriples, receiveClock, type RemoteApplier } from "../sync/remote-apply.js";
import type { DocumentReads } from "./document-reads.js";
import type { Residency } from "./residency.js";

/** Triples that arrived (from the server or other tabs) for documents not in memory, kept until they are read. */
export interface Arrival {
  readonly triples: readonly Triple[];
  readonly isComplete: boolean;
  /** Documents to forget after the triples (their user may no longer read them). */
  readonly forgotten?: readonly DocumentRef[];
}

/** Above this many kept triples a collection is loaded, so what arrives for it never piles up unbounded. */
const ARRIVALS_BEFORE_LOAD = 20_000;

export interface RemoteArrivalsOptions {
  readonly store: TripleStore;
  readonly clock: Clock;
  readonly residency: Residency;
  readonly reads: DocumentReads;
  /** Starts reading a collection whole: too much waits for it. */
  readonly readWhole: (collection: string) => void;
}

/**
 * Where triples from the server or other tabs go: into memory now for documents it holds; for a
 * partial collection's other documents, once they are read by id; for collections not in memory,
 * kept in arrival order and applied after their stored documents when they are read (the leader
 * stores them meanwhile as deltas: see `StorageCommit.deltas`). The clock sees every triple at
 * once, so a local write after them orders after them.
 *
 * @example
 * import { DocumentReads } from "./document-reads.js";
 * const reads = new DocumentReads({
 *   store,
 *   clock,
 *   storage,
 *   residency,
 *   readWhole: async (collection) => workingSet.load([collection]),
 *   reroute: (arrival) => arrivals.reroute(arrival), // its collection left memory meanwhile
 *   grew: () => {},
 * });
 * const readWhole = (collection: string) => void workingSet.load([collection]);
 * const arrivals = new RemoteArrivals({ store, clock, residency, reads, readWhole });
 * arrivals.apply(triples); // what memory cannot take yet waits
 */
export class RemoteArrivals {
  /**
   * What arrived for collections not in memory, in arrival order, with its number of triples: it
   * applies after their stored documents when they are read.
   */
  private readonly kept = new Map<string, { list: Arrival[]; triples: number }>();

  constructor(private readonly options: RemoteArrivalsOptions) {}

  /**
   * Applies remote or shared triples: now for documents in memory; for a partial collection's
   * other documents once they are read by id; for collections not in memory, on load.
   */
  readonly apply: RemoteApplier = (triples, isComplete = false) => {
    const { store, clock, residency, reads } = this.options;
    let later: Map<string, Triple[]> | undefined;
    let fetched: Map<string, Triple[]> | undefined;
    const now: Triple[] = [];
    for (const triple of triples) {
      const { collection } = triple;
      if (residency.isLoaded(collection)) now.push(triple);
      else if (residency.isInMemory(collection)) {
        if (!reads.isReading(collection, triple.id) && store.table(collection)?.anyRowOf(triple.id) !== undefined)
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
      for (const [collection, ids] of idsByCollection) void reads.byIds(collection, ids);
      for (const list of fetched.values()) {
        const { collection, id } = list[0]!;
        reads.keep(collection, id, { triples: list, isComplete });
      }
    }
    for (const [collection, list] of later ?? []) {
      clockError ??= receiveClock(clock, list);
      if (this.keep(collection, { triples: list, isComplete })) this.options.readWhole(collection);
    }
    return clockError;
  };

  /**
   * Forgets documents its user may no longer read: now for those memory holds or may hold; for
   * the others once their collection or document is read, after what arrived before (a read
   * that started before storage dropped them may bring them back).
   */
  readonly forget = (documents: readonly DocumentRef[]): void => {
    const { residency, reads } = this.options;
    const now: DocumentRef[] = [];
    for (const document of documents) {
      const { collection, id } = document;
      const later: Arrival = { triples: [], isComplete: false, forgotten: [document] };
      const isReading = reads.isReading(collection, id);
      if (residency.isLoaded(collection) || (residency.isInMemory(collection) && !isReading)) now.push(document);
      else if (isReading) reads.keep(collection, id, later);
      else this.keep(collection, later);
    }
    if (now.length > 0) this.options.store.forget(now);
  };

  /** Routes an arrival again: its documents' collection left memory while they were being read. */
  reroute(arrival: Arrival): void {
    if (arrival.triples.length > 0) this.apply(arrival.triples, arrival.isComplete);
    if (arrival.forgotten !== undefined) this.forget(arrival.forgotten);
  }

  /** Applies what was kept for a collection, now that its stored documents are in memory. */
  applyKept(collection: string): void {
    const { store, clock } = this.options;
    const kept = this.kept.get(collection);
    this.kept.delete(collection);
    for (const arrival of kept?.list ?? []) applyArrival(store, clock, arrival);
  }

  /** Applies everything kept: storage failed to open, so memory is all there is. */
  applyAllKept(): void {
    for (const collection of [...this.kept.keys()]) this.applyKept(collection);
  }

  /** Triples kept for documents not in memory: part of what a new tab gets from the leader. */
  keptTriples(): Triple[] {
    const triples: Triple[] = [];
    for (const { list } of this.kept.values()) for (const arrival of list) triples.push(...arrival.triples);
    return [...triples, ...this.options.reads.keptTriples()];
  }

  /** Keeps an arrival for a collection not in memory; true once it has more kept than it should wait with. */
  private keep(collection: string, arrival: Arrival): boolean {
    let kept = this.kept.get(collection);
    if (kept === undefined) this.kept.set(collection, (kept = { list: [], triples: 0 }));
    kept.list.push(arrival);
    kept.triples += arrival.triples.length;
    return kept.triples > ARRIVALS_BEFORE_LOAD;
  }
}

/**
 * Applies what arrived, now that memory holds its documents as stored.
 *
 * @example
 * const arrival = { triples, isComplete: false }; // kept while todos was not in memory
 * store.transact(() => applyArrival(store, clock, arrival));
 */
export function applyArrival(store: TripleStore, clock: Clock, arrival: Arrival): void {
  if (arrival.triples.length > 0) applyRemoteTriples(store, clock, arrival.triples, arrival.isComplete);
  if (arrival.forgotten !== undefined) store.forget(arrival.forgotten);
}

function addTo<T>(lists: Map<string, T[]>, key: string, item: T): void {
  const list = lists.get(key);
  if (list === undefined) lists.set(key, [item]);
  else list.push(item);
}

/** The key of a document in maps by document: `collection \0 id`. */
export function documentKey(collection: string, id: string): string {
  return `${collection}\u0000${id}`;
}
