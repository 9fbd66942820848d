import {
  type Clock,
  CREATED_AT_FIELD,
  type DatabaseError,
  decodeHlc,
  DELETED_FIELD,
  type Triple,
  type TripleStore,
} from "@trellis/core";

/**
 * Applies triples from the server in one transaction (every subscriber runs at most once), with
 * the merge rules of local writes and one guard (design 009): a triple of a document this client
 * does not hold is ignored unless the same batch carries the document's `createdAt` (as every
 * full document does), so a stray delta never makes a partial document that a local query could
 * show. Tombstones always apply. Each applied triple's clock reading is folded into `clock`.
 *
 * Returns the first clock error (a reading too far ahead of this clock): such triples still
 * apply, as the server accepted them and every replica must hold them, but do not move the clock.
 *
 * @example
 * const clockError = applyRemoteTriples(store, clock, triples); // as a `changes` message brought them
 * if (clockError) console.warn(clockError.message);
 */
export function applyRemoteTriples(
  store: TripleStore,
  clock: Clock,
  triples: readonly Triple[],
  /** Apply triples of documents not held too (another tab's data: the rest of the document is stored). */
  isComplete = false,
): DatabaseError | undefined {
  const arriving = new Set<string>();
  for (const triple of triples) {
    if (triple.field === CREATED_AT_FIELD && triple.element === undefined) arriving.add(documentKey(triple));
  }
  let clockError: DatabaseError | undefined;
  store.transact(() => {
    for (const triple of triples) {
      const isHeld = holds(store, triple.collection, triple.id);
      if (!isComplete && !isHeld && triple.field !== DELETED_FIELD && !arriving.has(documentKey(triple))) continue;
      const hlc = decodeHlc(triple.hlc);
      if (hlc.error) {
        clockError ??= hlc.error;
        continue;
      }
      const received = clock.receive(hlc.data);
      if (received.error) clockError ??= received.error;
      store.applyTriple(triple);
    }
  });
  return clockError;
}

/** Whether the store has a document, live or deleted (not one it never had, or forgot). */
function holds(store: TripleStore, collection: string, id: string): boolean {
  const table = store.table(collection);
  const row = table?.anyRowOf(id);
  return row !== undefined && (table!.isLive(row) || table!.isDeleted(row));
}

function documentKey(triple: Triple): string {
  return `${triple.collection}\u0000${triple.id}`;
}

/**
 * How a client applies triples that come from elsewhere (the server, another tab): the store
 * directly, or a working set that keeps those of collections not in memory for later.
 * Returns the first clock error, as {@link applyRemoteTriples} does.
 */
export type RemoteApplier = (triples: readonly Triple[], isComplete?: boolean) => DatabaseError | undefined;

/** Applies straight to the store: every collection is in memory. */
export function storeApplier(store: TripleStore, clock: Clock): RemoteApplier {
  return (triples, isComplete) => applyRemoteTriples(store, clock, triples, isComplete);
}

/** Folds the triples' clock readings into `clock` without applying them; the first error. */
export function receiveClock(clock: Clock, triples: readonly Triple[]): DatabaseError | undefined {
  let clockError: DatabaseError | undefined;
  for (const triple of triples) {
    const hlc = decodeHlc(triple.hlc);
    const received = hlc.error ?? clock.receive(hlc.data).error;
    if (received !== undefined) clockError ??= received;
  }
  return clockError;
}
