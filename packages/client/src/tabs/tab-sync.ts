import { batch, computed, effect, signal } from "@preact/signals-core";
import type { ClientMessage, DatabaseResult, NormalizedQuery, Triple } from "@trellis/core";
import type { StoredOutbox } from "../persistence/stored-outbox.js";
import type { PruneResult } from "../persistence/prune.js";
import type { ClientStorage } from "../persistence/storage.js";
import type { RoomTransport } from "../rooms/room-wire.js";
import { type ClientConnection, type ConnectionState, createClientConnection } from "../sync/client-connection.js";
import type { SyncPayload } from "../sync/http.js";
import type { FollowedQuery, QuerySync } from "../sync/query-sync.js";
import type { RoomLink, SyncEngine } from "../sync/sync-engine.js";
import type { TransportState } from "../sync/transport.js";
import type { LeaderElection } from "./leader-election.js";
import { TabFollower } from "./tab-follower.js";
import { TabLeader } from "./tab-leader.js";
import type { TabChannel, TabMessage } from "./tab-messages.js";
import { TabQueries } from "./tab-queries.js";

export interface TabSyncOptions {
  readonly engine: SyncEngine;
  readonly outbox: StoredOutbox;
  readonly channel: TabChannel;
  readonly election: LeaderElection;
  readonly storage: ClientStorage;
  /** Settles once this tab's writes so far are stored: a follower sends a write on only then. */
  readonly durable: () => Promise<DatabaseResult<void>>;
  /** Settles once stored data is loaded (cursors restored, so the restored ones decide loading). */
  readonly ready: Promise<unknown>;
  /** Prunes storage with this tab's engine: what the leader runs for `client.storage.prune()`. */
  readonly prune: () => Promise<DatabaseResult<PruneResult>>;
}

/**
 * Sync shared by the tabs of one app: the leader tab (see `electLeader`) runs the sync engine's
 * connection for every tab (see `TabLeader`); the others follow (see `TabFollower`). A
 * follower's queries are synced by the leader, its writes are stored by itself and then handed
 * to the leader to push, and its connection state mirrors the leader's. What the server sends
 * reaches every tab through the `applied` messages (see `TabMirror`). This class moves a tab
 * between the two roles: a follower that becomes the leader reads the stored outbox and cursors
 * (claiming them for its term, so a replaced leader's cursors no longer count), takes over its
 * own queries, tells the others, and connects. A leader that loses leadership (replaced while
 * frozen or busy, or frozen itself) closes its socket and follows: its queries and
 * unacknowledged writes go to the new leader. While no leader is known alive a follower's state
 * is `connecting`. See docs/design/014-multi-tab.md and docs/design/031-leader-liveness.md.
 *
 * @example
 * const sync = new TabSync({
 *   engine,
 *   outbox: session.outbox,
 *   channel,
 *   election,
 *   storage,
 *   durable: () => session.durable(),
 *   ready: session.ready,
 *   prune: async () => ok({ documents: 0, collections: [] }), // `pruneStorage(storage, engine)`
 * });
 */
export class TabSync implements QuerySync, RoomTransport {
  readonly hasServer = true;
  readonly connection: ClientConnection;
  private readonly isLeading = signal(false);
  /** Writes of this tab the server has not acknowledged. */
  private readonly ownPending = signal(0);
  private readonly queries: TabQueries;
  private readonly leader: TabLeader;
  private readonly follower: TabFollower;
  /** Rooms this tab is in: a follower keeps a socket of its own for them. */
  private roomCount = 0;
  private wantsConnection = true;
  private isClosed = false;
  private readonly stops: (() => void)[] = [];

  constructor(private readonly options: TabSyncOptions) {
    const { engine, channel } = options;
    engine.setPushing(false);
    const isLeading = this.isLeading;
    const ownPending = this.ownPending;
    const hasLeader = options.election.hasLeader;
    const isClosed = () => this.isClosed;
    this.leader = new TabLeader({
      engine,
      channel,
      prune: options.prune,
      isClosed,
      onConnectWanted: (wanted) => {
        this.wantsConnection = wanted;
        if (wanted) engine.connect();
        else engine.disconnect();
      },
    });
    this.follower = new TabFollower({
      engine,
      channel,
      durable: options.durable,
      isLeading,
      isClosed,
      wantsConnection: () => this.wantsConnection,
      countOwn: () => this.countOwn(),
      announceQueries: () => this.queries.announce(),
      onAnswered: (key) => this.queries.answer(key),
    });
    const leader = this.follower.leader;
    this.queries = new TabQueries({
      engine,
      channel,
      isLeading,
      isLeaderOffline: computed(() => leader.value.state === "offline"),
    });
    const state = computed<ConnectionState>(() => {
      if (isLeading.value) return engine.connection.state;
      // Leadership is being resolved: whatever the last leader said no longer holds.
      if (!hasLeader.value) return "connecting";
      const status = leader.value;
      return status.state === "online" && ownPending.value > 0 ? "syncing" : status.state;
    });
    const pending = computed(() =>
      isLeading.value ? engine.connection.pending : Math.max(leader.value.pending, ownPending.value),
    );
    const lastError = computed(() => (isLeading.value ? engine.connection.lastError : leader.value.error));
    const progress = computed(() => (isLeading.value ? engine.connection.progress : leader.value.progress));
    this.connection = createClientConnection(state, pending, lastError, progress);
    this.stops.push(
      channel.listen((message) => this.hear(message)),
      options.outbox.onRemoved((batchIds) => {
        this.countOwn();
        if (this.isLeading.peek()) this.leader.acknowledge(batchIds);
      }),
    );
    void options.ready.then(() => {
      if (this.isClosed) return;
      this.countOwn();
      // A follower hands its restored writes to the leader (it skips ones it has).
      channel.post({ type: "push", entries: engine.pendingEntries() });
      this.stops.push(
        effect(() => {
          if (options.election.isLeader.value) void this.lead();
          else this.stepDown();
        }),
        onPageLifecycle(
          // A closing tab rarely gets to close its client: say goodbye so the leader releases its queries.
          () => this.isLeading.peek() || channel.post({ type: "bye" }),
          // Back from the back/forward cache: the leader forgot this tab.
          () => this.isLeading.peek() || this.follower.introduce(),
        ),
      );
    });
  }

  // ---- what the client asks of sync ----

  follow(query: NormalizedQuery, cursor: string | null = null): FollowedQuery {
    return this.queries.follow(query, cursor);
  }

  async settle(query: NormalizedQuery): Promise<void> {
    if (this.isLeading.peek()) return this.options.engine.settle(query);
    const followed = this.follow(query);
    try {
      await followed.answered();
    } finally {
      followed.release();
    }
  }

  load(query: NormalizedQuery): Promise<DatabaseResult<SyncPayload | null>> {
    return this.options.engine.load(query);
  }

  applyRemote(triples: readonly Triple[]): void {
    this.options.engine.applyRemote(triples);
  }

  /** A write of this tab: into its stored outbox, then to the leader (this tab, or another). */
  record(triples: readonly Triple[]): void {
    const entry = this.options.engine.record(triples);
    this.countOwn();
    if (!this.isLeading.peek()) this.follower.handOver(entry);
  }

  connect(): void {
    this.wantsConnection = true;
    if (this.isLeading.peek()) this.options.engine.connect();
    else this.options.channel.post({ type: "connect", wanted: true });
  }

  disconnect(): void {
    this.wantsConnection = false;
    if (this.isLeading.peek()) this.options.engine.disconnect();
    else this.options.channel.post({ type: "connect", wanted: false });
  }

  /**
   * Prunes storage where the queries of every tab are known: here when this tab leads, else in
   * the leader (asked over the channel). Every tab forgets the cursors of what was pruned.
   */
  prune(): Promise<DatabaseResult<PruneResult>> {
    return this.isLeading.peek() ? this.leader.prune(null, null) : this.follower.requestPrune();
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const stop of this.stops.splice(0)) stop();
    this.leader.stopPosting();
    this.options.channel.post({ type: "bye" });
    this.options.election.close();
    await this.options.engine.close();
  }

  // ---- rooms: a follower opens a socket of its own while it is in a room ----

  get transportState(): TransportState {
    return this.options.engine.transportState;
  }

  get userId(): string | null | undefined {
    return this.options.engine.userId;
  }

  sendRoom(message: ClientMessage): boolean {
    return this.options.engine.sendRoom(message);
  }

  attachRooms(rooms: RoomLink): void {
    this.options.engine.attachRooms(rooms);
  }

  roomsChanged(count: number): void {
    this.roomCount = count;
    if (this.isLeading.peek() || this.isClosed) return;
    if (count > 0 && this.wantsConnection) this.options.engine.connect();
    else if (count === 0) this.options.engine.disconnect();
  }

  // ---- changing roles ----

  /**
   * Takes over sync: the stored outbox and cursors (claimed for this term: see
   * `ClientStorage.readSyncState`), this tab's queries, then the connection.
   */
  private async lead(): Promise<void> {
    const { engine, storage, election } = this.options;
    const stored = await storage.readSyncState({ lead: true });
    // Lost again (or closed) while reading: the next leader claims for itself.
    if (this.isClosed || this.isLeading.peek() || !election.isLeader.peek()) return;
    batch(() => {
      if (stored.data !== undefined) {
        engine.restored(stored.data.cursors);
        engine.adopt(stored.data.outbox);
      }
      this.isLeading.value = true;
      this.queries.lead();
    });
    this.leader.start();
    if (this.wantsConnection) engine.connect();
  }

  /**
   * Leadership went to another tab (or this page is frozen): close the socket, release what
   * was synced for the followers, and follow; the next leader hears of this tab's queries and
   * unacknowledged writes at once, or when it announces itself.
   */
  private stepDown(): void {
    if (!this.isLeading.peek() || this.isClosed) return;
    const { engine } = this.options;
    this.leader.stop();
    batch(() => {
      this.isLeading.value = false;
      this.follower.reset();
      this.queries.stepDown();
      this.countOwn();
    });
    // Rooms are this tab's own: it keeps a socket for them, as any follower in a room does.
    if (this.roomCount > 0 && this.wantsConnection) engine.connect();
    this.follower.introduce();
  }

  private hear(message: TabMessage): void {
    if (this.isClosed) return;
    if (message.type === "pruned") this.follower.pruned(message);
    else if (this.isLeading.peek()) this.leader.hear(message);
    else this.follower.hear(message);
  }

  private countOwn(): void {
    this.ownPending.value = this.options.engine.pendingEntries().length;
  }
}

/** Listens for the page being hidden for good or put into (and back from) the back/forward cache. */
function onPageLifecycle(onHide: () => void, onShowAgain: () => void): () => void {
  const target = globalThis as {
    addEventListener?: typeof addEventListener;
    removeEventListener?: typeof removeEventListener;
  };
  if (typeof target.addEventListener !== "function" || typeof target.removeEventListener !== "function")
    return () => {};
  const hide = () => onHide();
  const show = (event: Event) => {
    if ((event as PageTransitionEvent).persisted) onShowAgain();
  };
  target.addEventListener("pagehide", hide);
  target.addEventListener("pageshow", show);
  return () => {
    target.removeEventListener?.("pagehide", hide);
    target.removeEventListener?.("pageshow", show);
  };
}
