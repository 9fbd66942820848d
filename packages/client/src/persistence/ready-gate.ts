import { computed, type ReadonlySignal, signal } from "@preact/signals-core";
import { collectionsOf, type NormalizedQuery } from "@trellis/core";
import type { QuerySync } from "../sync/query-sync.js";
import type { SyncedQuery } from "../sync/synced-queries.js";
import { canAnswerEarly } from "./stored-results.js";
import type { WorkingSet } from "./working-set.js";

/** What the gate waits for: storage opened, and the collections a query reads in memory. */
export interface QueryGate {
  readonly isReady: ReadonlySignal<boolean>;
  readonly ready: Promise<unknown>;
  readonly workingSet: WorkingSet;
  /** Told when a followed query's data is in, so its result is stored for the next run. */
  readonly persister: { resultsChanged(): void };
  /** Whether the query's live view holds its matches computed from the whole collection (see `LiveQuery.isComplete`). */
  hasCompleteView?(query: NormalizedQuery): boolean;
}

/**
 * Holds queries back until their data is in memory: storage opened, and the collections the
 * query reads loaded from it. Until then a subscription is loading and a one-shot query waits,
 * so nobody sees a collection still being read. Queries followed before that start syncing once
 * their data is in, so they find the cursors stored by earlier runs. A followed query keeps its
 * collections in memory until released.
 *
 * @example
 * const sync = gateQuerySync(engine, persistence);
 */
export function gateQuerySync(inner: QuerySync, gate: QueryGate): QuerySync {
  const { isReady, ready, workingSet, persister } = gate;
  /**
   * Undefined when the query can run now; else settles once it can. A live query already
   * complete over a partial collection needs nothing more of it (its matches are in memory).
   */
  const prepare = (query: NormalizedQuery, isFollowed = false): Promise<unknown> | undefined => {
    const needed = () =>
      [...collectionsOf(query)].filter(
        (collection) => !(isFollowed && collection === query.collection && workingSet.isInMemory(collection) && gate.hasCompleteView?.(query) === true),
      );
    if (!isReady.peek()) return ready.then(() => workingSet.load(needed()));
    return workingSet.load(needed());
  };
  const pinnedWhile = async <T>(query: NormalizedQuery, body: () => Promise<T>): Promise<T> => {
    const unpin = workingSet.pin(collectionsOf(query), true);
    try {
      await prepare(query);
      return await body();
    } finally {
      unpin();
    }
  };
  return {
    hasServer: inner.hasServer,
    follow(query: NormalizedQuery, cursor?: string | null): SyncedQuery {
      const unpin = workingSet.pin(collectionsOf(query));
      /** The query's stored result is in memory: it answers before its collection is read. */
      const isAnsweredEarly = signal(false);
      let isReleased = false;
      // Asked first, so the collection's full read (in `prepare`) queues behind it.
      if (canAnswerEarly(query) && !workingSet.isLoaded(query.collection)) {
        const answerEarly = () => workingSet.answerEarly(JSON.stringify(query), query.collection);
        void (isReady.peek() ? answerEarly() : ready.then(answerEarly)).then((answered) => {
          if (answered && !isReleased) isAnsweredEarly.value = true;
        });
      }
      const preparing = prepare(query, true);
      if (preparing === undefined) {
        persister.resultsChanged();
        return pinned(inner.follow(query, cursor), unpin);
      }
      const followed = signal<SyncedQuery | undefined>(undefined);
      void preparing.then(() => {
        if (isReleased) return;
        followed.value = inner.follow(query, cursor);
        persister.resultsChanged();
      });
      return {
        isLoading: computed(() => !isAnsweredEarly.value && (followed.value?.isLoading.value ?? true)),
        answered: async () => {
          await preparing;
          await followed.peek()?.answered();
        },
        release: () => {
          if (isReleased) return;
          isReleased = true;
          followed.peek()?.release();
          unpin();
        },
      };
    },
    // Pinned while the server is asked: the caller reads the collections right after (eviction
    // runs on a timer, so not before that continuation).
    settle: (query) => pinnedWhile(query, () => inner.settle(query)),
    load: (query) => pinnedWhile(query, () => inner.load(query)),
    applyRemote: (triples) => inner.applyRemote(triples),
  };
}

function pinned(synced: SyncedQuery, unpin: () => void): SyncedQuery {
  return {
    isLoading: synced.isLoading,
    answered: () => synced.answered(),
    release: () => {
      synced.release();
      unpin();
    },
  };
}
