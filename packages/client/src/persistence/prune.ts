import { type DatabaseResult, ok } from "@trellis/core";
import { readsAnyOf } from "../sync/server-subscriptions.js";
import type { ClientStorage } from "./storage.js";

/** What `client.storage.prune()` dropped from storage. */
export interface PruneResult {
  /** Stored documents deleted. */
  readonly documents: number;
  /** The collections pruned: stored, and followed by no query of any tab. */
  readonly collections: readonly string[];
}

/** What pruning needs from sync: which collections queries follow, and its cursors. */
export interface PrunedSync {
  followedCollections(): Set<string>;
  forgetCursors(collections: ReadonlySet<string>): void;
}

/**
 * Drops from storage the synced documents nobody uses (design 016): those of every stored
 * collection that no synced query reads — followed here or, in the leader tab, by any tab —
 * except documents pending writes touch. The cursors of queries reading those collections go
 * too, in memory first and in the same transaction on disk, so no query ever continues from a
 * cursor whose documents are gone: syncing it again loads it whole from the server. Memory is
 * untouched; a collection held there stays correct and is stored again as it changes.
 *
 * @example
 * const { data: pruned } = await pruneStorage(storage, engine); // { documents: 1204, collections: ["logs"] }
 */
export async function pruneStorage(storage: ClientStorage, sync: PrunedSync): Promise<DatabaseResult<PruneResult>> {
  const listed = await storage.listCollections();
  if (listed.error) return listed;
  // From here to the storage call nothing awaits: a query followed meanwhile starts without a cursor.
  const followed = sync.followedCollections();
  const collections = listed.data.filter((collection) => !followed.has(collection));
  if (collections.length === 0) return ok({ documents: 0, collections });
  const pruned = new Set(collections);
  sync.forgetCursors(pruned);
  const deleted = await storage.prune(collections, (queryKey) => readsAnyOf(queryKey, pruned));
  return deleted.error ? deleted : ok({ documents: deleted.data, collections });
}
