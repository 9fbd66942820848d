import type { Clock, DatabaseResult, Triple, TripleStore } from "@trellis/core";
import type { QuerySync } from "../sync/query-sync.js";
import type { RemoteApplier } from "../sync/remote-apply.js";
import { gateQuerySync } from "./ready-gate.js";
import { type RestoredState, StorageSession, type StorageSessionOptions } from "./storage-session.js";
import type { ClientStorage, StoredState } from "./storage.js";
import type { MemoryNeed } from "./working-set.js";

/**
 * What the client asks of its persistence once its code loaded — or of memory standing in for
 * it when that code could not be loaded (see `assemblePersistence`).
 */
export interface LoadedPersistence {
  /** The session sync stores and restores through; undefined in memory. */
  readonly session: StorageSession | undefined;
  /** Settles once stored data is in memory, or with the STORAGE error that keeps the client in memory. */
  readonly ready: Promise<DatabaseResult<void>>;
  /** Runs a write once what it reads is in memory; resolves once it is stored (see {@link StorageSession.write}). */
  write<T>(needs: Iterable<MemoryNeed>, body: () => DatabaseResult<T>): Promise<DatabaseResult<T>>;
  /** Holds queries back until their data is in memory (see `gateQuerySync`). */
  gate(sync: QuerySync): QuerySync;
  /** Keeps the collections `isKept` accepts whole in memory until the returned release is called. */
  keepWhole(isKept: (collection: string) => boolean): () => void;
  /** Applies remote data (preloaded) to what memory holds, keeping the rest until read. */
  readonly apply: RemoteApplier;
  /** A local write call, to be stored. */
  documentsChanged(triples: readonly Triple[]): void;
  /** Restores what `opening` (the storage's `open`, started by the client) found; `restore` hands it to sync. */
  open(
    restore: (state: RestoredState) => Promise<void> | void,
    opening: Promise<DatabaseResult<StoredState>>,
  ): Promise<void>;
  /** Stores what is pending, then closes the storage. */
  close(): Promise<void>;
}

/**
 * Wires a client's persistence on `storage`: the session that restores it and keeps memory and
 * storage in step, and the gate that holds queries back until their data is in memory. Loaded
 * on its own, in parallel with the storage backend and sync (see docs/design/029-bundle-size.md).
 *
 * @example
 * import { LOCAL_SYNC } from "../sync/query-sync.js";
 * const persistence = wirePersistence(storage, { registry, cacheSize: 5_000 }, { store, clock });
 * const followed = persistence.gate(LOCAL_SYNC).follow(normalized); // loading until its collection is in memory
 * void persistence.open(({ cursors }) => engine.restored(cursors), storage.open()); // opened while this code loaded
 */
export function wirePersistence(
  storage: ClientStorage,
  options: StorageSessionOptions,
  parts: { readonly store: TripleStore; readonly clock: Clock },
): LoadedPersistence {
  const session = new StorageSession(storage, parts.store, parts.clock, options);
  const { workingSet, writer } = session;
  return {
    session,
    ready: session.ready,
    write: (needs, body) => session.write(needs, body),
    gate: (sync) => gateQuerySync(sync, session),
    keepWhole: (isKept) => workingSet.pins.keepWhole(isKept),
    apply: workingSet.arrivals.apply,
    documentsChanged: (triples) => writer.documentsChanged(triples),
    open: (restore, opening) => session.open(restore, opening),
    close: () => session.close(),
  };
}
