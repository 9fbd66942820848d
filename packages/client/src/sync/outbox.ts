import type { Triple } from "@trellis/core";

/** The triples one local write call wrote, in order: what one `push` carries. */
export interface OutboxEntry {
  /** 1-64 characters of [A-Za-z0-9_-]; names the batch on the wire. */
  readonly batchId: string;
  readonly triples: readonly Triple[];
}

/**
 * Local writes the server has not acknowledged yet, oldest first. Entries are only ever
 * appended, and leave when the server acknowledged (or refused) them. Deliberately small, so a
 * persisted outbox (IndexedDB) can implement it with write-through storage.
 *
 * @example
 * const outbox = createMemoryOutbox();
 * outbox.add({ batchId: "b1", triples });
 * outbox.remove(["b1"]);
 */
export interface Outbox {
  /** Number of entries. */
  readonly size: number;
  /** Appends an entry. */
  add(entry: OutboxEntry): void;
  /** Appends entries stored elsewhere already (another tab's, or an earlier run's): a persistent outbox does not store them again. */
  adopt(entries: readonly OutboxEntry[]): void;
  /** Removes the named entries; unknown ids are ignored. */
  remove(batchIds: readonly string[]): void;
  /** Every entry, oldest first. */
  entries(): readonly OutboxEntry[];
}

/**
 * An outbox held in memory: lost when the page or process goes away.
 *
 * @example
 * const outbox = createMemoryOutbox();
 */
export function createMemoryOutbox(): Outbox {
  let entries: OutboxEntry[] = [];
  return {
    get size() {
      return entries.length;
    },
    add(entry) {
      entries.push(entry);
    },
    adopt(adopted) {
      entries.push(...adopted);
    },
    remove(batchIds) {
      if (batchIds.length === 0) return;
      const gone = new Set(batchIds);
      entries = entries.filter((entry) => !gone.has(entry.batchId));
    },
    entries: () => entries,
  };
}
