import type { NormalizedQuery, TripleStore } from "@trellis/core";
import { orderedReadOf } from "./ordered-answers.js";
import type { Residency } from "./residency.js";
import type { ClientStorage, StoredDocument } from "./storage.js";

/** The performance mark an early answer leaves (`detail`: {@link EarlyAnswerMark}), for profiling. */
export const EARLY_ANSWER_MARK = "trellis:early-answer";

/** What an {@link EARLY_ANSWER_MARK} tells: which collection answered early, and from what. */
export interface EarlyAnswerMark {
  readonly collection: string;
  /** `"stored result"`: the query's result stored by an earlier run; `"order index"`: read in the query's order. */
  readonly from: "stored result" | "order index";
  readonly documents: number;
}

/**
 * Answers queries before their collection is read: the documents of a query's stored result, if
 * it is still current, or else those of its first page read through the order index (see
 * {@link orderedReadOf}), go into memory first, so that query answers from them while the whole
 * collection is still being read. Either holds every document of the query's visible result, so
 * the answer is the one the whole collection gives. A read of the collection waits for these
 * (see {@link EarlyAnswers.before}): IndexedDB serves requests in turn, so a large read first
 * would delay them.
 *
 * @example
 * const early = new EarlyAnswers({ store, storage, residency });
 * const answered = await early.answer(normalized); // true: it can answer now
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
  answer(query: NormalizedQuery): Promise<boolean> {
    const { residency } = this.options;
    const { collection } = query;
    if (residency.isInMemory(collection)) return Promise.resolve(residency.isLoaded(collection));
    const answering = this.read(query);
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

  private async read(query: NormalizedQuery): Promise<boolean> {
    const { store, residency } = this.options;
    const { collection } = query;
    const found = await this.find(query);
    if (found === undefined) return false;
    if (residency.isLoaded(collection)) return true;
    // Stored documents as they are: the full read later merges the same cells, changing nothing.
    store.transact(() => {
      for (const document of found.documents) for (const triple of document.triples) store.applyTriple(triple);
    });
    const detail: EarlyAnswerMark = { collection, from: found.from, documents: found.documents.length };
    performance.mark(EARLY_ANSWER_MARK, { detail });
    return true;
  }

  /** The documents that answer a query early, and where they were found; undefined if none do. */
  private async find(
    query: NormalizedQuery,
  ): Promise<{ readonly documents: readonly StoredDocument[]; readonly from: EarlyAnswerMark["from"] } | undefined> {
    const { storage } = this.options;
    const stored = await storage.readResult(JSON.stringify(query));
    if (stored.error) return undefined;
    if (stored.data !== undefined) return { documents: stored.data, from: "stored result" };
    const ordered = orderedReadOf(query);
    if (ordered === undefined) return undefined;
    const read = await storage.readOrdered(query.collection, ordered);
    return read.data === undefined ? undefined : { documents: read.data, from: "order index" };
  }
}
