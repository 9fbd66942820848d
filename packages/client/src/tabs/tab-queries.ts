import { batch, computed, effect, type ReadonlySignal, type Signal, signal } from "@preact/signals-core";
import type { NormalizedQuery } from "@trellis/core";
import type { SyncEngine } from "../sync/sync-engine.js";
import type { FollowedQuery } from "../sync/query-sync.js";
import type { TabChannel } from "./tab-messages.js";

/** One use of a synced query in this tab. */
interface TabQuery {
  readonly key: string;
  readonly query: NormalizedQuery;
  readonly cursor: string | null;
  /** The engine's own use while this tab leads; undefined while the leader syncs it. */
  readonly inner: Signal<FollowedQuery | undefined>;
}

/**
 * The synced queries of one tab, wherever they are synced: by this tab's engine while it leads,
 * else by the leader on its behalf (`follow` / `release` / `answered` messages). When the tab
 * takes leadership every use moves to its engine; when it loses leadership every use moves back
 * to the leader, and what was synced stays answered.
 *
 * @example
 * import { computed } from "@preact/signals-core";
 * const queries = new TabQueries({
 *   engine,
 *   channel,
 *   isLeading: election.isLeader,
 *   isLeaderOffline: computed(() => engine.connection.state === "offline"),
 * });
 * const synced = queries.follow(normalized, null); // by this tab's engine or the leader's
 */
export class TabQueries {
  /** Live uses, by query key. */
  private readonly uses = new Map<string, Set<TabQuery>>();
  /** Queries the leader answered (or that this tab synced), by key. */
  private readonly answers = new Map<string, Signal<boolean>>();

  constructor(
    private readonly options: {
      readonly engine: SyncEngine;
      readonly channel: TabChannel;
      readonly isLeading: ReadonlySignal<boolean>;
      /** The leader is offline: local data answers every query. */
      readonly isLeaderOffline: ReadonlySignal<boolean>;
    },
  ) {}

  follow(query: NormalizedQuery, cursor: string | null): FollowedQuery {
    const { engine, channel, isLeading, isLeaderOffline } = this.options;
    const key = JSON.stringify(query);
    const use: TabQuery = {
      key,
      query,
      cursor,
      inner: signal(isLeading.peek() ? engine.follow(query, cursor) : undefined),
    };
    let uses = this.uses.get(key);
    if (uses === undefined) {
      this.uses.set(key, (uses = new Set()));
      if (!isLeading.peek()) channel.post({ type: "follow", key, query, cursor });
    }
    uses.add(use);
    const answered = this.answerOf(key, cursor !== null || engine.hasCursor(key));
    let hasSettled = false;
    let isReleased = false;
    const isAnswered = () => {
      const inner = use.inner.value;
      return inner === undefined ? answered.value || isLeaderOffline.value : !inner.isLoading.value;
    };
    return {
      isLoading: computed(() => {
        // Latched, as for the engine's own queries: data once shown never goes back to loading.
        if (!hasSettled) hasSettled = isAnswered();
        return !hasSettled;
      }),
      hasSynced: computed(() => use.inner.value?.hasSynced.value ?? answered.value),
      answered: () =>
        new Promise<void>((resolve) => {
          const stop = effect(() => {
            if (!isAnswered()) return;
            resolve();
            queueMicrotask(() => stop());
          });
        }).then(() => use.inner.peek()?.answered()),
      release: () => {
        if (isReleased) return;
        isReleased = true;
        use.inner.peek()?.release();
        uses.delete(use);
        if (uses.size > 0 || this.uses.get(key) !== uses) return;
        this.uses.delete(key);
        if (!isLeading.peek()) channel.post({ type: "release", key });
      },
    };
  }

  /** The leader answered the query with this key. */
  answer(key: string): void {
    this.answerOf(key, true);
  }

  /** This tab leads: its engine syncs every use from now on. */
  lead(): void {
    const { engine } = this.options;
    batch(() => {
      for (const uses of this.uses.values())
        for (const use of uses) use.inner.value ??= engine.follow(use.query, use.cursor);
    });
  }

  /** This tab no longer leads: every use goes back to the leader (see {@link announce}). */
  stepDown(): void {
    batch(() => {
      for (const uses of this.uses.values()) {
        for (const use of uses) {
          const inner = use.inner.peek();
          if (inner === undefined) continue;
          // What this tab synced stays synced: its data is here and the next leader continues it.
          if (inner.hasSynced.peek()) this.answerOf(use.key, true);
          inner.release();
          use.inner.value = undefined;
        }
      }
    });
  }

  /** Tells a leader that knows nothing of this tab every query it follows. */
  announce(): void {
    for (const [key, uses] of this.uses) {
      const [first] = uses;
      if (first !== undefined)
        this.options.channel.post({ type: "follow", key, query: first.query, cursor: first.cursor });
    }
  }

  private answerOf(key: string, isAnswered: boolean): Signal<boolean> {
    let answer = this.answers.get(key);
    if (answer === undefined) this.answers.set(key, (answer = signal(isAnswered)));
    else if (isAnswered) answer.value = true;
    return answer;
  }
}
