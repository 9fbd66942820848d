import { createMemoryOutbox, type Outbox } from "../sync/outbox.js";
import type { StorageWriter } from "./storage-writer.js";

/** An outbox whose entries are written through to storage. */
export interface StoredOutbox extends Outbox {
  /** Hears the batch ids of entries that left (acknowledged or refused); returns an unsubscribe. */
  onRemoved(listener: (batchIds: readonly string[]) => void): () => void;
}

/**
 * The operation log: an in-memory outbox that tells the storage writer about every entry added and
 * removed, so storage holds exactly the writes the server has not acknowledged.
 *
 * @example
 * const outbox = createStoredOutbox(session.writer);
 * outbox.add({ batchId: "b1", triples }); // stored with the write's documents
 */
export function createStoredOutbox(writer: StorageWriter): StoredOutbox {
  const memory = createMemoryOutbox();
  const listeners = new Set<(batchIds: readonly string[]) => void>();
  return {
    get size() {
      return memory.size;
    },
    add(entry) {
      memory.add(entry);
      writer.outboxAdded(entry);
    },
    remove(batchIds) {
      memory.remove(batchIds);
      if (batchIds.length === 0) return;
      writer.outboxRemoved(batchIds);
      for (const listener of [...listeners]) listener(batchIds);
    },
    entries: () => memory.entries(),
    adopt: (entries) => memory.adopt(entries),
    onRemoved(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
