import { createMemoryOutbox, type Outbox, type OutboxEntry } from "../sync/outbox.js";
import type { Persister } from "./persister.js";

/** An outbox whose entries are written through to storage. */
export interface PersistentOutbox extends Outbox {
  /** Puts back entries an earlier run stored (they are stored already). */
  restore(entries: readonly OutboxEntry[]): void;
}

/**
 * The operation log: an in-memory outbox that tells the persister about every entry added and
 * removed, so storage holds exactly the writes the server has not acknowledged.
 *
 * @example
 * const outbox = createPersistentOutbox(persister);
 * outbox.add({ batchId, triples }); // stored with the write's documents
 */
export function createPersistentOutbox(persister: Persister): PersistentOutbox {
  const memory = createMemoryOutbox();
  return {
    get size() {
      return memory.size;
    },
    add(entry) {
      memory.add(entry);
      persister.outboxAdded(entry);
    },
    remove(batchIds) {
      memory.remove(batchIds);
      if (batchIds.length > 0) persister.outboxRemoved(batchIds);
    },
    entries: () => memory.entries(),
    restore(entries) {
      for (const entry of entries) memory.add(entry);
    },
  };
}
