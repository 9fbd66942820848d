import { type DatabaseResult, ok, type TripleStore } from "@trellis/core";
import type { ClientStorage } from "./storage.js";

/** Documents read from storage at a time when a collection loads. */
const READ_PAGE_DOCUMENTS = 5_000;

export interface CollectionReaderOptions {
  readonly store: TripleStore;
  readonly storage: ClientStorage;
  /** What a collection's read waits for before it starts (the early answers asked for it). */
  readonly before: (collection: string) => Promise<void>;
  /** A collection's read ended: at `version`, the stored version of its first page, or null when it failed. */
  readonly done: (collection: string, version: number | null) => void;
}

/**
 * Reads collections whole from storage into memory, one read per collection at a time. A failed
 * read is reported and the collection goes on with what memory holds, so nothing waits forever.
 *
 * @example
 * const reader = new CollectionReader({
 *   store,
 *   storage,
 *   before: async () => {},
 *   done: (collection, version) => console.log(`${collection} read, at stored version ${version}`),
 * });
 * await reader.read("todos"); // every stored todo is in memory
 */
export class CollectionReader {
  private readonly reading = new Map<string, Promise<DatabaseResult<void>>>();

  constructor(private readonly options: CollectionReaderOptions) {}

  /** Whether a collection is being read. */
  isReading(collection: string): boolean {
    return this.reading.has(collection);
  }

  /** The read of a collection in progress, if any. */
  readingOf(collection: string): Promise<DatabaseResult<void>> | undefined {
    return this.reading.get(collection);
  }

  /** Reads a collection whole, unless a read of it is in progress already: then that one. */
  read(collection: string): Promise<DatabaseResult<void>> {
    let reading = this.reading.get(collection);
    if (reading !== undefined) return reading;
    const { store, before, done } = this.options;
    reading = before(collection)
      .then(() => this.readPages(collection))
      .then((read) => {
        this.reading.delete(collection);
        if (read.error)
          console.warn(
            `Trellis storage: ${read.error.message} The collection "${collection}" goes on with what memory holds.`,
          );
        const table = store.table(collection);
        if (table !== undefined && !read.error) table.isPartial = false;
        done(collection, read.data ?? null);
        return read.error ? read : ok(undefined);
      });
    this.reading.set(collection, reading);
    return reading;
  }

  /**
   * Reads a collection into memory page by page, each page one store transaction, so a large
   * collection neither holds all its stored documents at once nor blocks the page while it is
   * applied. Resolves with the version of the first page: memory holds at least what storage
   * held then (later pages may be newer, which only makes the client's next commit see that
   * another tab committed). What arrives meanwhile waits with the other arrivals.
   */
  private async readPages(collection: string): Promise<DatabaseResult<number>> {
    const { store, storage } = this.options;
    let after: string | undefined;
    let version: number | undefined;
    for (;;) {
      const page = await storage.readCollection(collection, { after, limit: READ_PAGE_DOCUMENTS });
      if (page.error) return page;
      version ??= page.data.version;
      const { documents } = page.data;
      // Unheard: live queries of the collection are refreshed once, when it is all in.
      store.transactUnheard(collection, () => {
        for (const document of documents) for (const triple of document.triples) store.applyTriple(triple);
      });
      if (documents.length < READ_PAGE_DOCUMENTS) return ok(version);
      after = documents[documents.length - 1]!.id;
    }
  }
}
