import type { DatabaseResult, Triple } from "@trellis/core";
import type { OutboxEntry } from "../sync/outbox.js";

/** One document as stored: its current triples (a deleted one: only its tombstone). */
export interface StoredDocument {
  readonly collection: string;
  readonly id: string;
  readonly triples: readonly Triple[];
}

/** What a client finds in its storage when it opens. */
export interface StoredState {
  readonly documents: readonly StoredDocument[];
  /** Writes the server has not acknowledged, oldest first. */
  readonly outbox: readonly OutboxEntry[];
  /** The latest clock reading stored (encoded HLC), so the clock never goes back. */
  readonly clock: string | undefined;
  /** Sync cursors by query key: queries synced before continue from them. */
  readonly cursors: ReadonlyMap<string, string>;
}

/** The sync part of what is stored. */
export type SyncState = Pick<StoredState, "outbox" | "cursors">;

/** What one storage transaction writes: it lands whole or not at all. */
export interface StorageCommit {
  /** Changed documents with their whole current state; the storage merges them into what it holds. */
  readonly documents: readonly StoredDocument[];
  /** New outbox entries, in write order. */
  readonly added: readonly OutboxEntry[];
  /** Batch ids the server acknowledged: marked synced, compacted later. */
  readonly acknowledged: readonly string[];
  /** Cursors that moved, by query key. */
  readonly cursors: ReadonlyMap<string, string>;
  /** The clock's latest reading (encoded HLC). */
  readonly clock: string;
}

/**
 * Where a client keeps its data between runs: documents (triples with their HLCs), the outbox
 * of pending writes, and metadata (clock, cursors). Every backend passes the shared suite in
 * `storage.test.ts`. Expected failures (quota, a blocked or upgraded database) come back as
 * STORAGE results, never as throws.
 *
 * @example
 * const storage = createMemoryStorage();
 * const state = await storage.open();
 * await storage.commit({ documents, added, acknowledged: [], cursors: new Map(), clock });
 */
export interface ClientStorage {
  /** `"memory"` or `"indexeddb"`. */
  readonly kind: string;
  /** Opens the storage and reads what it holds; drops outbox entries already synced. */
  open(): Promise<DatabaseResult<StoredState>>;
  /**
   * Reads the writes not acknowledged yet and the cursors, as stored now: a tab taking over
   * sync from another tab continues from there.
   */
  readSyncState(): Promise<DatabaseResult<SyncState>>;
  /** Writes one commit atomically, durably where the backend can. */
  commit(commit: StorageCommit): Promise<DatabaseResult<void>>;
  /** Releases the storage; the data stays. */
  close(): Promise<void>;
}
