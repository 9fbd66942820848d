import { computed, type ReadonlySignal, signal } from "@preact/signals-core";
import { collectionsOf, isFieldCondition, linkedCollectionsOf, type NormalizedQuery, routeOf } from "@trellis/core";
import type { FollowedQuery, QuerySync } from "../sync/query-sync.js";
import { canReadMatching } from "./storage.js";
import { canAnswerEarly } from "./stored-results.js";
import type { Residency } from "./residency.js";
import type { MemoryNeed, WorkingSet } from "./working-set.js";

/** What the gate waits for: storage opened, and the collections a query reads in memory. */
export interface QueryGate {
  readonly isReady: ReadonlySignal<boolean>;
  readonly ready: Promise<unknown>;
  readonly workingSet: WorkingSet;
  /** Told when a followed query's data is in, so its result is stored for the next run. */
  readonly writer: { resultsChanged(): void };
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
 * const sync = gateQuerySync(engine, session);
 * const followed = sync.follow(normalized); // loading until its collection is in memory
 */
export function gateQuerySync(inner: QuerySync, gate: QueryGate): QuerySync {
  const { isReady, ready, workingSet, writer } = gate;
  const { pins } = workingSet;
  /** Undefined when the query can run now; else settles once it can (see {@link needsOf}). */
  const prepare = (query: NormalizedQuery, isFollowed = false): Promise<unknown> | undefined => {
    const needs = () => needsOf(query, workingSet.residency, isFollowed && gate.hasCompleteView?.(query) === true);
    if (!isReady.peek()) return ready.then(() => workingSet.prepare(needs()));
    return workingSet.prepare(needs());
  };
  const pinnedWhile = async <T>(query: NormalizedQuery, body: () => Promise<T>): Promise<T> => {
    const unpin = pins.pin(collectionsOf(query), true);
    try {
      await prepare(query);
      return await body();
    } finally {
      unpin();
    }
  };
  return {
    hasServer: inner.hasServer,
    follow(query: NormalizedQuery, cursor?: string | null): FollowedQuery {
      const unpin = pins.pin(collectionsOf(query));
      /** The query's stored result is in memory: it answers before its collection is read. */
      const isAnsweredEarly = signal(false);
      let isReleased = false;
      // Asked first, so the collection's full read (in `prepare`) queues behind it.
      if (canAnswerEarly(query) && !workingSet.residency.isLoaded(query.collection)) {
        const answerEarly = () => workingSet.earlyAnswers.answer(query);
        void (isReady.peek() ? answerEarly() : ready.then(answerEarly)).then((answered) => {
          if (answered && !isReleased) isAnsweredEarly.value = true;
        });
      }
      const preparing = prepare(query, true);
      if (preparing === undefined) {
        writer.resultsChanged();
        return pinned(inner.follow(query, cursor), unpin);
      }
      const followed = signal<FollowedQuery | undefined>(undefined);
      void preparing.then(() => {
        if (isReleased) return;
        followed.value = inner.follow(query, cursor);
        writer.resultsChanged();
      });
      return {
        isLoading: computed(() => !isAnsweredEarly.value && (followed.value?.isLoading.value ?? true)),
        hasSynced: computed(() => followed.value?.hasSynced.value ?? false),
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

/**
 * What a query needs in memory. Of its own collection when partial: nothing if its live view is
 * complete (its matches are in memory); its documents if it names ids; the documents holding its
 * equality route's values (the storage's field index finds every match); otherwise, and when a
 * relation or relational filter reads that collection too, all of it. Other collections: whole.
 */
function needsOf(query: NormalizedQuery, residency: Residency, hasCompleteView: boolean): MemoryNeed[] {
  return [...collectionsOf(query)].flatMap((collection) => {
    if (collection !== query.collection || !residency.isInMemory(collection) || residency.isLoaded(collection))
      return [{ collection }];
    if (hasCompleteView) return [];
    if (linkedCollectionsOf(query).has(collection)) return [{ collection }];
    const ids = idsOf(query);
    if (ids !== undefined) return [{ collection, ids }];
    const route = routeOf(query.where, query.specs);
    if (route !== undefined && canReadMatching(route.field, route.keys))
      return [{ collection, matching: { field: route.field, values: route.keys } }];
    return [{ collection }];
  });
}

/** The ids a query's `where` limits it to (an `id` equals or in), or undefined. */
function idsOf(query: NormalizedQuery): string[] | undefined {
  for (const condition of query.where) {
    if (!isFieldCondition(condition)) continue;
    const { field, op, operand } = condition;
    if (field !== "id") continue;
    if (op === "equals") return [String(operand)];
    if (op === "in") return (operand as unknown[]).map(String);
  }
  return undefined;
}

function pinned(synced: FollowedQuery, unpin: () => void): FollowedQuery {
  return {
    isLoading: synced.isLoading,
    hasSynced: synced.hasSynced,
    answered: () => synced.answered(),
    release: () => {
      synced.release();
      unpin();
    },
  };
}
