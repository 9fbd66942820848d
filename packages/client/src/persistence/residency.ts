import type { TripleStore } from "@trellis/core";

/**
 * Which collections are in memory: read from storage whole, and maybe made partial since (the
 * store's table says so). A collection not in memory has nothing in memory at all; one in memory
 * and not partial holds every stored document, merged with everything applied since.
 *
 * @example
 * const residency = new Residency(store);
 * residency.added("todos"); // its read from storage finished
 * residency.isLoaded("todos"); // true until documents of it are unloaded
 */
export class Residency {
  private readonly collections = new Set<string>();
  /** Storage could not be opened: everything the client has is in memory. */
  private isEverythingLoaded = false;

  constructor(private readonly store: TripleStore) {}

  /** Whether all of a collection's stored documents are in memory (or there is no storage to read). */
  isLoaded(collection: string): boolean {
    return (
      this.isEverythingLoaded || (this.collections.has(collection) && this.store.table(collection)?.isPartial !== true)
    );
  }

  /** Whether a collection is in memory, whole or partial. */
  isInMemory(collection: string): boolean {
    return this.isEverythingLoaded || this.collections.has(collection);
  }

  /** A collection's stored documents were read into memory. */
  added(collection: string): void {
    this.collections.add(collection);
  }

  /** A collection left memory whole. */
  dropped(collection: string): void {
    this.collections.delete(collection);
  }

  /** Storage failed to open: every collection counts as loaded from now on. */
  loadEverything(): void {
    this.isEverythingLoaded = true;
  }

  /** The collections read into memory, in the order they were first read. */
  inMemory(): string[] {
    return [...this.collections];
  }

  /** Number of documents held in memory for the collections read into it. */
  residentDocuments(): number {
    let count = 0;
    for (const collection of this.collections) count += this.store.table(collection)?.residentCount ?? 0;
    return count;
  }
}
