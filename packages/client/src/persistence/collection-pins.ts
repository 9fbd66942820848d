/**
 * The collections kept in memory: a followed query's until it is released (its live view names
 * the documents it holds, so the collection may become partial), a one-shot read's while it
 * runs, which keeps them whole (it reads every document), and those a part of the client keeps
 * whole for as long as it runs (see {@link CollectionPins.keepWhole}).
 *
 * @example
 * const pins = new CollectionPins(() => {}); // a working set schedules its eviction here
 * const unpin = pins.pin(["todos"]);
 * pins.isPinned("todos"); // true until unpin()
 */
export class CollectionPins {
  private readonly pins = new Map<string, number>();
  /** Collections a one-shot read needs whole: never made partial meanwhile. */
  private readonly wholePins = new Map<string, number>();
  private readonly keptWhole = new Set<(collection: string) => boolean>();

  /** `released` runs after each release: what was pinned may leave memory now. */
  constructor(private readonly released: () => void) {}

  /** Pins collections (`isWhole`: whole) until the returned release is called; releasing twice does nothing. */
  pin(collections: Iterable<string>, isWhole = false): () => void {
    const pinned = [...collections];
    for (const collection of pinned) {
      hold(this.pins, collection);
      if (isWhole) hold(this.wholePins, collection);
    }
    let isPinned = true;
    return () => {
      if (!isPinned) return;
      isPinned = false;
      for (const collection of pinned) {
        release(this.pins, collection);
        if (isWhole) release(this.wholePins, collection);
      }
      this.released();
    };
  }

  /**
   * Keeps the collections `isKept` accepts whole until the returned release is called: those
   * stored are read before storage is ready (see {@link CollectionPins.isKeptWhole}), and none is
   * ever made partial. For parts that read their collections synchronously, such as maps.
   */
  keepWhole(isKept: (collection: string) => boolean): () => void {
    // A function of its own: two parts keeping with the same function each hold their own.
    const kept = (collection: string) => isKept(collection);
    this.keptWhole.add(kept);
    return () => void this.keptWhole.delete(kept);
  }

  /** Whether a part of the client keeps a collection whole (see {@link CollectionPins.keepWhole}). */
  isKeptWhole(collection: string): boolean {
    for (const isKept of this.keptWhole) if (isKept(collection)) return true;
    return false;
  }

  /** Whether a collection must stay in memory. */
  isPinned(collection: string): boolean {
    return this.pins.has(collection);
  }

  /** Whether a collection must stay whole in memory: none of its documents may be unloaded. */
  isPinnedWhole(collection: string): boolean {
    return this.wholePins.has(collection) || this.isKeptWhole(collection);
  }

  /** The collections pinned now. */
  pinned(): string[] {
    return [...this.pins.keys()];
  }
}

function hold(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

function release(counts: Map<string, number>, key: string): void {
  const count = counts.get(key)! - 1;
  if (count > 0) counts.set(key, count);
  else counts.delete(key);
}
