import { effect } from "@preact/signals-core";
import type { DatabaseResult, NormalizedQuery } from "@trellis/core";
import type { PruneResult } from "../persistence/prune.js";
import type { ConnectionStatus } from "../sync/client-connection.js";
import type { FollowedQuery } from "../sync/query-sync.js";
import type { SyncEngine } from "../sync/sync-engine.js";
import type { TabChannel, TabMessage } from "./tab-messages.js";

export interface TabLeaderOptions {
  readonly engine: SyncEngine;
  readonly channel: TabChannel;
  /** Prunes storage with this tab's engine: what the leader runs for `client.storage.prune()`. */
  readonly prune: () => Promise<DatabaseResult<PruneResult>>;
  /** A follower asked to connect (`true`) or to go offline on purpose (`false`). */
  readonly onConnectWanted: (wanted: boolean) => void;
  readonly isClosed: () => boolean;
}

/** Batch ids acknowledged lately that the leader remembers. */
const MAX_REMEMBERED_ACKS = 10_000;

/**
 * What the leader tab does for the other tabs of its app: syncs their queries with its engine
 * (`follow` / `release` / `bye`, `answered` once the server answered), pushes their writes
 * (`push`, `acked` once acknowledged), shows them its connection state (`state`), connects or
 * disconnects for them (`connect`), and prunes storage when they ask (`prune` / `pruned`).
 *
 * @example
 * const leader = new TabLeader({
 *   engine,
 *   channel,
 *   prune: async () => ok({ documents: 0, collections: [] }), // `pruneStorage(storage, engine)`
 *   onConnectWanted: (wanted) => (wanted ? engine.connect() : engine.disconnect()),
 *   isClosed: () => false,
 * });
 * leader.start();
 * channel.listen((message) => leader.hear(message));
 */
export class TabLeader {
  /** The followers' queries it syncs, by tab id then key. */
  private readonly served = new Map<string, Map<string, FollowedQuery>>();
  /** Batch ids acknowledged lately, so a follower handing one over again is told, not pushed again. */
  private readonly acknowledged = new Set<string>();
  /** Stops posting this tab's connection state. */
  private stopPostingState: (() => void) | undefined;

  constructor(private readonly options: TabLeaderOptions) {}

  /** This tab leads from now on: it pushes, shows its state and tells the followers. */
  start(): void {
    const { engine, channel } = this.options;
    engine.setPushing(true);
    this.stopPostingState = effect(() => this.postState(engine.connection.getCurrentState()));
    channel.post({ type: "leader" });
  }

  /**
   * Leadership went to another tab (or this page is frozen): the socket closes and what was
   * synced for the followers is released.
   */
  stop(): void {
    const { engine } = this.options;
    this.stopPosting();
    engine.setPushing(false);
    engine.disconnect();
    for (const from of [...this.served.keys()]) this.unserve(from);
  }

  stopPosting(): void {
    this.stopPostingState?.();
    this.stopPostingState = undefined;
  }

  /** Writes left this tab's outbox, acknowledged: the tabs that handed them over drop them too. */
  acknowledge(batchIds: readonly string[]): void {
    for (const batchId of batchIds) this.acknowledged.add(batchId);
    // Bounded: a follower hands a write over again within moments of its acknowledgement, if at all.
    for (const batchId of this.acknowledged) {
      if (this.acknowledged.size <= MAX_REMEMBERED_ACKS) break;
      this.acknowledged.delete(batchId);
    }
    this.options.channel.post({ type: "acked", batchIds });
  }

  /** A follower's message. */
  hear(message: TabMessage): void {
    const { engine, channel } = this.options;
    switch (message.type) {
      case "follow":
        return this.serve(message.from, message.key, message.query, message.cursor);
      case "release":
        return this.unserve(message.from, message.key);
      case "bye":
        return this.unserve(message.from);
      case "push": {
        const done = message.entries
          .filter((entry) => this.acknowledged.has(entry.batchId))
          .map((entry) => entry.batchId);
        if (done.length > 0) channel.post({ type: "acked", batchIds: done });
        engine.adopt(message.entries.filter((entry) => !this.acknowledged.has(entry.batchId)));
        // Also a tab's introduction: it learns the connection's state.
        return this.postState(engine.connection.getCurrentState());
      }
      case "connect":
        return this.options.onConnectWanted(message.wanted);
      case "prune":
        void this.prune(message.from, message.id);
        return;
    }
  }

  /** Prunes storage and tells every tab what went; `to` and `id` name the request, if a follower asked. */
  async prune(to: string | null, id: string | null): Promise<DatabaseResult<PruneResult>> {
    const result = await this.options.prune();
    const error = result.error === undefined ? null : { code: result.error.code, message: result.error.message };
    this.options.channel.post({
      type: "pruned",
      to,
      id,
      collections: result.data?.collections ?? [],
      documents: result.data?.documents ?? 0,
      error,
    });
    return result;
  }

  private postState({ state, pending, lastError, progress }: ConnectionStatus): void {
    const error = lastError === undefined ? null : { code: lastError.code, message: lastError.message };
    this.options.channel.post({ type: "state", state, pending, error, progress: progress ?? null });
  }

  private serve(from: string, key: string, query: NormalizedQuery, cursor: string | null): void {
    let queries = this.served.get(from);
    if (queries === undefined) this.served.set(from, (queries = new Map()));
    if (queries.has(key)) return;
    const followed = this.options.engine.follow(query, cursor);
    queries.set(key, followed);
    void followed.answered().then(() => {
      if (queries.get(key) === followed && !this.options.isClosed())
        this.options.channel.post({ type: "answered", key });
    });
  }

  private unserve(from: string, key?: string): void {
    const queries = this.served.get(from);
    if (queries === undefined) return;
    for (const [served, followed] of queries) {
      if (key !== undefined && served !== key) continue;
      followed.release();
      queries.delete(served);
    }
    if (queries.size === 0) this.served.delete(from);
  }
}
