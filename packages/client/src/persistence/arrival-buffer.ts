import type { Clock, DocumentRef, Triple, TripleStore } from "@trellis/core";
import { applyRemoteTriples } from "../sync/remote-apply.js";

/** Triples that arrived (from the server or other tabs) for documents not in memory, kept until they are read. */
export interface Arrival {
  readonly triples: readonly Triple[];
  readonly isComplete: boolean;
  /** Documents to forget after the triples (their user may no longer read them). */
  readonly forgotten?: readonly DocumentRef[];
}

/** Above this many kept triples a collection is loaded, so what arrives for it never piles up unbounded. */
const ARRIVALS_BEFORE_LOAD = 20_000;

/**
 * What arrived for collections not in memory, in arrival order, to apply after their stored
 * documents when they are read. So what a query sees is what it would see had the collection
 * never left memory.
 *
 * @example
 * const buffer = new ArrivalBuffer();
 * const isTooMuch = buffer.keep("todos", { triples, isComplete: false }); // true: read todos whole now
 * // Once the stored todos are in memory, what arrived meanwhile goes on top, in order:
 * store.transact(() => {
 *   for (const arrival of buffer.take("todos") ?? []) applyArrival(store, clock, arrival);
 * });
 */
export class ArrivalBuffer {
  private readonly byCollection = new Map<string, { list: Arrival[]; triples: number }>();

  /** Keeps an arrival for a collection; true once the collection has more kept than it should wait with. */
  keep(collection: string, arrival: Arrival): boolean {
    let kept = this.byCollection.get(collection);
    if (kept === undefined) this.byCollection.set(collection, (kept = { list: [], triples: 0 }));
    kept.list.push(arrival);
    kept.triples += arrival.triples.length;
    return kept.triples > ARRIVALS_BEFORE_LOAD;
  }

  /** Takes what was kept for a collection, oldest first. */
  take(collection: string): Arrival[] | undefined {
    const kept = this.byCollection.get(collection);
    if (kept === undefined) return undefined;
    this.byCollection.delete(collection);
    return kept.list;
  }

  /** The collections with something kept. */
  collections(): string[] {
    return [...this.byCollection.keys()];
  }

  /** Every kept triple. */
  triples(): Triple[] {
    const triples: Triple[] = [];
    for (const { list } of this.byCollection.values()) for (const arrival of list) triples.push(...arrival.triples);
    return triples;
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
