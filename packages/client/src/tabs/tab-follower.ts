import { type ReadonlySignal, signal } from "@preact/signals-core";
import { DatabaseError, type DatabaseResult, fail, ok } from "@trellis/core";
import type { PruneResult } from "../persistence/prune.js";
import type { ConnectionState, SyncProgress } from "../sync/client-connection.js";
import type { OutboxEntry } from "../sync/outbox.js";
import type { SyncEngine } from "../sync/sync-engine.js";
import type { TabChannel, TabMessage } from "./tab-messages.js";

export interface TabFollowerOptions {
  readonly engine: SyncEngine;
  readonly channel: TabChannel;
  /** Tells the leader every query this tab follows (see `TabQueries.announce`). */
  readonly announceQueries: () => void;
  /** The leader says the server answered the query with this key. */
  readonly onAnswered: (key: string) => void;
  /** Settles once this tab's writes so far are stored: a follower sends a write on only then. */
  readonly durable: () => Promise<DatabaseResult<void>>;
  readonly isLeading: ReadonlySignal<boolean>;
  readonly isClosed: () => boolean;
  /** Whether this tab wants the connection (see `connect()`, `disconnect()`). */
  readonly wantsConnection: () => boolean;
  /** This tab's outbox changed: its count of writes not acknowledged is counted again. */
  readonly countOwn: () => void;
}

/** The leader's connection, as its `state` messages say. */
interface LeaderStatus {
  readonly state: ConnectionState;
  readonly pending: number;
  readonly error: DatabaseError | undefined;
  readonly progress: SyncProgress | undefined;
}

/** How long a follower waits for the leader to answer a prune request. */
const PRUNE_ANSWER_MS = 10_000;

/** What a follower shows until the leader says otherwise. */
function unknownLeader(): LeaderStatus {
  return { state: "connecting", pending: 0, error: undefined, progress: undefined };
}

/**
 * What a tab does while another tab leads: hands its writes over once stored (`push`) and drops
 * them once acknowledged (`acked`), hears which of its queries the server answered
 * (`answered`), shows the leader's connection state (`state`), introduces itself to each new
 * leader (`leader`), and asks the leader to prune storage (`prune` / `pruned`).
 *
 * @example
 * const follower = new TabFollower({
 *   engine,
 *   channel,
 *   durable: () => session.durable(),
 *   isLeading: election.isLeader,
 *   isClosed: () => false,
 *   wantsConnection: () => true,
 *   countOwn: () => {},
 *   announceQueries: () => {},
 *   onAnswered: (key) => console.log(`the leader synced ${key}`),
 * });
 * channel.listen((message) => follower.hear(message));
 */
export class TabFollower {
  private readonly status = signal<LeaderStatus>(unknownLeader());
  /** The leader's connection; `connecting` while no leader spoke since this tab followed. */
  readonly leader: ReadonlySignal<LeaderStatus> = this.status;
  /** The tab that last announced itself leader: state messages of any other are stale. */
  private leaderId: string | undefined;
  /** Prune requests sent to the leader, by id. */
  private readonly pruning = new Map<string, (result: DatabaseResult<PruneResult>) => void>();
  private pruneRequests = 0;

  constructor(private readonly options: TabFollowerOptions) {}

  /** A write of this tab, for the leader once stored (unless this tab leads by then). */
  handOver(entry: OutboxEntry): void {
    const { durable, isLeading, isClosed, channel } = this.options;
    void durable().then((stored) => {
      if (stored.error === undefined && !isLeading.peek() && !isClosed())
        channel.post({ type: "push", entries: [entry] });
    });
  }

  /** This tab stopped leading: whatever the last leader said no longer holds. */
  reset(): void {
    this.leaderId = undefined;
    this.status.value = unknownLeader();
  }

  /** Tells a leader that knows nothing of this tab its queries and unacknowledged writes. */
  introduce(): void {
    const { engine, channel } = this.options;
    this.options.announceQueries();
    channel.post({ type: "push", entries: engine.pendingEntries() });
    if (!this.options.wantsConnection()) channel.post({ type: "connect", wanted: false });
  }

  /** The leader's message. */
  hear(message: TabMessage): void {
    switch (message.type) {
      case "state":
        if (this.leaderId !== undefined && message.from !== this.leaderId) return;
        this.status.value = {
          state: message.state,
          pending: message.pending,
          error:
            message.error === null ? undefined : new DatabaseError(message.error.code as never, message.error.message),
          progress: message.progress ?? undefined,
        };
        return;
      case "answered":
        this.options.onAnswered(message.key);
        return;
      case "acked":
        this.options.engine.dropEntries(message.batchIds);
        this.options.countOwn();
        return;
      case "leader":
        this.leaderId = message.from;
        return this.introduce();
    }
  }

  /** Asks the leader to prune storage; a leader that does not answer in time makes it a STORAGE error. */
  requestPrune(): Promise<DatabaseResult<PruneResult>> {
    const { channel } = this.options;
    const id = `${channel.tabId}:${++this.pruneRequests}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pruning.delete(id);
        resolve(
          fail(
            "STORAGE",
            `No tab of this app answered the prune request within ${PRUNE_ANSWER_MS / 1000} s; nothing was pruned.`,
            { reason: "no-leader" },
          ),
        );
      }, PRUNE_ANSWER_MS);
      this.pruning.set(id, (result) => {
        clearTimeout(timer);
        resolve(result);
      });
      channel.post({ type: "prune", id });
    });
  }

  /**
   * The leader pruned storage (every tab hears it, leading or not): cursors of the queries that
   * read what was pruned are forgotten, and a request of this tab gets its answer.
   */
  pruned(message: Extract<TabMessage, { type: "pruned" }>): void {
    this.options.engine.forgetCursors(new Set(message.collections));
    const settle =
      message.to === this.options.channel.tabId && message.id !== null ? this.pruning.get(message.id) : undefined;
    if (settle === undefined) return;
    this.pruning.delete(message.id!);
    const { collections, documents } = message;
    settle(
      message.error === null
        ? ok({ collections, documents })
        : fail(message.error.code as never, message.error.message),
    );
  }
}
