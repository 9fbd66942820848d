import type { TripleStore } from "@trellis/core";
import type { CollectionPins } from "./collection-pins.js";
import type { Residency } from "./residency.js";

export interface EvictionOptions {
  readonly store: TripleStore;
  readonly residency: Residency;
  readonly pins: CollectionPins;
  /** Documents to keep in memory beyond what followed queries need, a whole number checked by `createClient` (default: no bound). */
  readonly cacheSize?: number | undefined;
  /** Whether a collection is being read whole: it stays until the read is done. */
  readonly isReading: (collection: string) => boolean;
  /** Ids of a collection's documents whose changes storage has yet to write (they stay in memory until then). */
  readonly unstoredIds: (collection: string) => ReadonlySet<string>;
  /**
   * The rows of a collection that live views hold (see `LiveQueryRegistry.heldRows`), or
   * undefined when one may read any row: without it, followed collections stay whole.
   */
  readonly heldRows?: ((collection: string) => ReadonlySet<number> | undefined) | undefined;
  /** Releases the oldest view kept after its subscribers left (see `WarmViews`); false when none is kept. */
  readonly releaseWarm?: (() => boolean) | undefined;
  /** A collection was dropped from memory whole. */
  readonly dropped: (collection: string) => void;
}

/**
 * Keeps memory within `cacheSize` documents. Once memory holds more, the least recently used
 * collections that nothing pins are dropped from memory (never from storage); then, from
 * followed collections, the documents no live view holds, which leaves such a collection
 * *partial*. What is dropped is read again when needed.
 *
 * @example
 * const eviction = new Eviction({
 *   store,
 *   residency,
 *   pins,
 *   cacheSize: 5_000,
 *   isReading: () => false,
 *   unstoredIds: () => new Set(),
 *   dropped: (collection) => residency.dropped(collection),
 * });
 * eviction.used("todos");
 * eviction.schedule(); // drops what the bound allows once the current task is done
 */
export class Eviction {
  private readonly cacheSize: number;
  private readonly lastUse = new Map<string, number>();
  private uses = 0;
  /** Resident documents when unloading last freed nothing: no need to look again until more come. */
  private fruitlessAt: number | undefined;
  private isScheduled = false;

  constructor(private readonly options: EvictionOptions) {
    this.cacheSize = options.cacheSize ?? Infinity;
  }

  /** An operation needs a collection: it becomes the most recently used. */
  used(collection: string): void {
    this.lastUse.set(collection, ++this.uses);
  }

  /**
   * Drops from memory what the bound allows, once the current task is done. After commits
   * (`isGrowth`), documents of followed collections are looked at again only once memory has
   * grown by a tenth of the bound since they last yielded nothing: a look scans their rows.
   */
  schedule(isGrowth = false): void {
    if (!isGrowth) this.fruitlessAt = undefined;
    if (this.cacheSize === Infinity || this.isScheduled) return;
    this.isScheduled = true;
    setTimeout(() => {
      this.isScheduled = false;
      this.evict();
    }, 0);
  }

  /**
   * Over the bound, drops least recently used collections nothing follows, then unloads the
   * documents of followed ones that no live view holds (in row order: roughly, oldest read first).
   */
  private evict(): void {
    const { store, residency, pins, isReading, unstoredIds } = this.options;
    let resident = residency.residentDocuments();
    if (resident <= this.cacheSize) return;
    const byAge = residency.inMemory().sort((a, b) => (this.lastUse.get(a) ?? 0) - (this.lastUse.get(b) ?? 0));
    for (const collection of byAge) {
      if (resident <= this.cacheSize) return;
      if (
        pins.isPinned(collection) ||
        isReading(collection) ||
        store.isWatched(collection) ||
        unstoredIds(collection).size > 0
      )
        continue;
      const size = store.table(collection)?.residentCount ?? 0;
      if (!store.dropTable(collection)) continue;
      this.options.dropped(collection);
      resident -= size;
    }
    if (
      resident <= this.cacheSize ||
      (this.fruitlessAt !== undefined && resident < this.fruitlessAt + Math.ceil(this.cacheSize / 10))
    )
      return;
    const before = resident;
    let isBlocked = false;
    for (const collection of byAge) {
      if (resident <= this.cacheSize) break;
      if (isReading(collection) || pins.isPinnedWhole(collection)) {
        isBlocked = true;
        continue;
      }
      const unloaded = this.unloadUnheld(collection, resident - this.cacheSize);
      resident -= unloaded.count;
      isBlocked ||= unloaded.isBlocked;
    }
    if (resident > this.cacheSize && this.options.releaseWarm?.() === true) {
      // What views kept after their subscribers left hold does not fit: one goes, then look again.
      this.schedule();
      return;
    }
    // Nothing to unload but what live views hold: scanning again is pointless until more comes.
    this.fruitlessAt = resident === before && !isBlocked ? resident : undefined;
  }

  /**
   * Unloads up to `count` documents of a collection that no live view holds: how many it did,
   * and whether others only wait to be stored.
   */
  private unloadUnheld(collection: string, count: number): { count: number; isBlocked: boolean } {
    const { store } = this.options;
    const table = store.table(collection);
    const held = this.options.heldRows?.(collection);
    if (table === undefined || held === undefined) return { count: 0, isBlocked: false };
    const unstored = this.options.unstoredIds(collection);
    const rows: number[] = [];
    for (let row = 0; row < table.ids.length && rows.length < count; row++) {
      const id = table.ids[row]!;
      if (table.anyRowOf(id) !== row || held.has(row) || unstored.has(id)) continue;
      rows.push(row);
    }
    const isUnloaded = rows.length > 0 && store.unload(collection, rows);
    return { count: isUnloaded ? rows.length : 0, isBlocked: unstored.size > 0 || (rows.length > 0 && !isUnloaded) };
  }
}
