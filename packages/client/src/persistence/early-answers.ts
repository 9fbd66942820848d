import type { TripleStore } from "@trellis/core";
import type { Residency } from "./residency.js";
import type { ClientStorage } from "./storage.js";

/**
 * Answers queries before their collection is read: the documents of a query's stored result, if
 * it is still current, go into memory first, so that query answers from them while the whole
 * collection is still being read. A read of the collection waits for these (see
 * {@link EarlyAnswers.before}): IndexedDB serves requests in turn, so a large read first would
 * delay them.
 *
 * @example
 * const early = new EarlyAnswers({ store, storage, residency });
 * const answered = await early.answer(JSON.stringify(normalized), normalized.collection); // true: it can answer now
 */
export class EarlyAnswers {
  /** Early answers being read, by collection. */
  private readonly reading = new Map<string, Promise<void>>();

  constructor(
    private readonly options: {
      readonly store: TripleStore;
      readonly storage: ClientStorage;
      readonly residency: Residency;
    },
  ) {}

  /**
   * Before a collection is in memory, puts in it the documents of a query's stored result if it
   * is still current. Resolves with whether it did (or the collection is loaded anyway).
   */
  answer(queryKey: string, collection: string): Promise<boolean> {
    const { residency } = this.options;
    if (residency.isInMemory(collection)) return Promise.resolve(residency.isLoaded(collection));
    const answering = this.read(queryKey, collection);
    const previous = this.reading.get(collection);
    const settled = answering.then(() => undefined);
    this.reading.set(
      collection,
      previous === undefined ? settled : Promise.all([previous, settled]).then(() => undefined),
    );
    return answering;
  }

  /** Settles once the early answers asked for so far for a collection are in; its full read starts after. */
  before(collection: string): Promise<void> {
    const reading = this.reading.get(collection) ?? Promise.resolve();
    this.reading.delete(collection);
    return reading;
  }

  private async read(queryKey: string, collection: string): Promise<boolean> {
    const { store, storage, residency } = this.options;
    const stored = await storage.readResult(queryKey);
    if (stored.error || stored.data === undefined) return false;
    if (residency.isLoaded(collection)) return true;
    // Stored documents as they are: the full read later merges the same cells, changing nothing.
    store.transact(() => {
      for (const document of stored.data!) for (const triple of document.triples) store.applyTriple(triple);
    });
    return true;
  }
}
