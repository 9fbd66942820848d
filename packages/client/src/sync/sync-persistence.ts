import type { DocumentRef, Triple } from "@trellis/core";
import type { Outbox } from "./outbox.js";
import type { RemoteApplier } from "./remote-apply.js";

/**
 * What sync and persistence hand each other: persistence gives sync its stored outbox, the
 * appliers that keep the working set right and the moment stored data is loaded; sync tells it
 * what to store (remote documents, revocations, cursor moves). Every member is optional: without
 * storage sync keeps its outbox in memory and applies straight to the store.
 */
export interface SyncPersistence {
  /** The outbox, restored from storage (default: one in memory). */
  readonly outbox?: Outbox;
  /** Settles once stored data is loaded: connecting waits for it, so the restored outbox and cursors are used. */
  readonly ready?: Promise<unknown> | undefined;
  /** Applies remote triples (default: straight to the store); a working set defers unloaded collections. */
  readonly apply?: RemoteApplier | undefined;
  /** Forgets documents the user may no longer read, in memory (default: straight from the store). */
  readonly forget?: ((documents: readonly DocumentRef[]) => void) | undefined;
  /** Hears the triples of every remote batch applied (persistence stores their documents). */
  readonly onRemoteApplied?: ((triples: readonly Triple[]) => void) | undefined;
  /** Hears every list of documents the server revoked, once forgotten (persistence drops them). */
  readonly onRemoteForgotten?: ((documents: readonly DocumentRef[]) => void) | undefined;
  /** Hears every cursor move of a followed query (persistence stores them). */
  readonly onCursor?: ((queryKey: string, cursor: string) => void) | undefined;
}
