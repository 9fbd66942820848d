import type { Clock, DatabaseError, DocumentRef, Triple, TripleStore } from "@trellis/core";
import { storeApplier } from "./remote-apply.js";
import type { SyncPersistence } from "./sync-persistence.js";

export interface RemoteChangesOptions extends Pick<
  SyncPersistence,
  "apply" | "forget" | "onRemoteApplied" | "onRemoteForgotten"
> {
  readonly store: TripleStore;
  readonly clock: Clock;
  /** Sees every remote triple applied: a refused write rolls back to the server's latest values. */
  readonly observe: (triples: readonly Triple[]) => void;
  /** Hears a server clock too far ahead to follow. */
  readonly report: (error: DatabaseError) => void;
}

/**
 * What the server sends about documents, taken in: triples are applied (through the working set
 * when there is one) and handed to persistence, and documents the server revoked are forgotten
 * from memory and storage.
 *
 * @example
 * const remote = new RemoteChanges({
 *   store,
 *   clock,
 *   observe: () => {}, // a rollback of refused writes watches these
 *   report: (error) => console.warn(error.message),
 * });
 * remote.apply(triples); // a `changes` message's triples
 * remote.forget([{ collection: "todos", id: "t1" }]); // and the documents it revoked
 */
export class RemoteChanges {
  constructor(private readonly options: RemoteChangesOptions) {}

  apply(triples: readonly Triple[]): void {
    const { options } = this;
    const apply = options.apply ?? storeApplier(options.store, options.clock);
    const clockError = apply(triples);
    options.observe(triples);
    if (clockError !== undefined) options.report(clockError);
    if (triples.length > 0) options.onRemoteApplied?.(triples);
  }

  /** Drops documents the server says the user may no longer read, from memory and storage. */
  forget(documents: readonly DocumentRef[] | undefined): void {
    if (documents === undefined || documents.length === 0) return;
    const { options } = this;
    const forget = options.forget ?? ((revoked: readonly DocumentRef[]) => void options.store.forget(revoked));
    forget(documents);
    options.onRemoteForgotten?.(documents);
  }
}
