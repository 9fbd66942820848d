import { computed, type ReadonlySignal, signal } from "@preact/signals-core";
import type { NormalizedQuery } from "@trellis/core";
import type { QuerySync } from "../sync/query-sync.js";
import type { SyncedQuery } from "../sync/synced-queries.js";

/**
 * Holds queries back until stored data is in memory: until then a subscription is loading and
 * a one-shot query waits, so nobody sees the empty store of a client still opening its
 * database. Queries followed before that start syncing once it is ready, so they find the
 * cursors stored by earlier runs.
 *
 * @example
 * const sync = gateQuerySync(engine, isReady, ready);
 */
export function gateQuerySync(inner: QuerySync, isReady: ReadonlySignal<boolean>, ready: Promise<unknown>): QuerySync {
  return {
    hasServer: inner.hasServer,
    follow(query: NormalizedQuery, cursor?: string | null): SyncedQuery {
      if (isReady.peek()) return inner.follow(query, cursor);
      const followed = signal<SyncedQuery | undefined>(undefined);
      let isReleased = false;
      void ready.then(() => {
        if (!isReleased) followed.value = inner.follow(query, cursor);
      });
      return {
        isLoading: computed(() => followed.value?.isLoading.value ?? true),
        answered: async () => {
          await ready;
          await followed.peek()?.answered();
        },
        release: () => {
          if (isReleased) return;
          isReleased = true;
          followed.peek()?.release();
        },
      };
    },
    async settle(query) {
      if (!isReady.peek()) await ready;
      return inner.settle(query);
    },
    async load(query) {
      if (!isReady.peek()) await ready;
      return inner.load(query);
    },
    applyRemote: (triples) => inner.applyRemote(triples),
  };
}
