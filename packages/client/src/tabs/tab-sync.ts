import { batch, computed, effect, signal } from "@preact/signals-core";
import {
  type ClientMessage,
  DatabaseError,
  type DatabaseResult,
  fail,
  type NormalizedQuery,
  ok,
  type Triple,
} from "@trellis/core";
import type { StoredOutbox } from "../persistence/stored-outbox.js";
import type { PruneResult } from "../persistence/prune.js";
import type { ClientStorage } from "../persistence/storage.js";
import type { RoomTransport } from "../rooms/rooms.js";
import {
  type ClientConnection,
  type ConnectionState,
  type ConnectionStatus,
  createClientConnection,
  type SyncProgress,
} from "../sync/client-connection.js";
import type { TransportState } from "../sync/connection.js";
import type { SyncPayload } from "../sync/http.js";
import type { QuerySync } from "../sync/query-sync.js";
import type { RoomLink, SyncEngine } from "../sync/sync-engine.js";
import type { SyncedQuery } from "../sync/synced-queries.js";
import type { LeaderElection } from "./leader-election.js";
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

/** How long a follower waits for the leader to answer a prune request. */
const PRUNE_ANSWER_MS = 10_000;

const MAX_REMEMBERED_ACKS = 10_000;

interface LeaderStatus {
  readonly state: ConnectionState;
  readonly pending: number;
  readonly error: DatabaseError | undefined;
  readonly progress: SyncProgress | undefined;
}

/**
 * Sync shared by the tabs of one app: the leader tab (see `electLeader`) runs the sync engine's
 * connection for every tab; the others follow. A follower's queries are synced by the leader
 * (`follow` / `answered` messages), its writes are stored by itself and then handed to the
 * leader to push (`push` / `acked`), and its connection state mirrors the leader's. What the
 * server sends reaches every tab through the `applied` messages (see `TabMirror`). A follower
 * that becomes the leader reads the stored outbox and cursors (claiming them for its term, so a
 * replaced leader's cursors no longer count), takes over its own queries, asks the others for
 * theirs, and connects. A leader that loses leadership (replaced while frozen or busy, or
 * frozen itself) closes its socket and follows: its queries and unacknowledged writes go to
 * the new leader. While no leader is known alive a follower's state is `connecting`. See
 * docs/design/014-multi-tab.md and docs/design/031-leader-liveness.md.
 *
 * @example
 * const sync = new TabSync({ engine, outbox, channel, election, storage, durable, ready });
 */
export class TabSync implements QuerySync, RoomTransport {
  readonly hasServer = true;
  readonly connection: ClientConnection;
  private readonly isLeading = signal(false);
  private readonly leader = signal<LeaderStatus>({
    state: "connecting",
    pending: 0,
    error: undefined,
    progress: undefined,
  });
  private readonly ownPending = signal(0);
  private readonly queries: TabQueries;
  /** The tab that last announced itself leader: state messages of any other are stale. */
  private leaderId: string | undefined;
  /** Stops posting this tab's connection state, while it leads. */
  private stopPostingState: (() => void) | undefined;
  /** Rooms this tab is in: a follower keeps a socket of its own for them. */
  private roomCount = 0;
  /** Leader: the followers' queries it syncs, by tab id then key. */
  private readonly served = new Map<string, Map<string, SyncedQuery>>();
  /** Leader: batch ids acknowledged lately, so a follower handing one over again is told, not pushed again. */
  private readonly acknowledged = new Set<string>();
  private wantsConnection = true;
  /** Prune requests sent to the leader, by id. */
  private readonly pruning = new Map<string, (result: DatabaseResult<PruneResult>) => void>();
  private pruneRequests = 0;
  private isClosed = false;
  private readonly stops: (() => void)[] = [];

  constructor(private readonly options: TabSyncOptions) {
    const { engine, channel } = options;
    engine.setPushing(false);
    const isLeading = this.isLeading;
    const leader = this.leader;
    const ownPending = this.ownPending;
    const hasLeader = options.election.hasLeader;
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
        this.ownPending.value = engine.pendingEntries().length;
        if (!this.isLeading.peek()) return;
        for (const batchId of batchIds) this.acknowledged.add(batchId);
        // Bounded: a follower hands a write over again within moments of its acknowledgement, if at all.
        for (const batchId of this.acknowledged) {
          if (this.acknowledged.size <= MAX_REMEMBERED_ACKS) break;
          this.acknowledged.delete(batchId);
        }
        channel.post({ type: "acked", batchIds });
      }),
    );
    void options.ready.then(() => {
      if (this.isClosed) return;
      this.ownPending.value = engine.pendingEntries().length;
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
          () => this.isLeading.peek() || this.introduce(),
        ),
      );
    });
  }

  // ---- what the client asks of sync ----

  follow(query: NormalizedQuery, cursor: string | null = null): SyncedQuery {
    return this.queries.follow(query, cursor);
  }

  async settle(query: NormalizedQuery): Promise<void> {
    if (this.isLeading.peek()) return this.options.engine.settle(query);
    const synced = this.follow(query);
    try {
      await synced.answered();
    } finally {
      synced.release();
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
    this.ownPending.value = this.options.engine.pendingEntries().length;
    if (this.isLeading.peek()) return;
    void this.options.durable().then((stored) => {
      if (stored.error === undefined && !this.isLeading.peek() && !this.isClosed)
        this.options.channel.post({ type: "push", entries: [entry] });
    });
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

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const stop of this.stops.splice(0)) stop();
    this.stopPostingState?.();
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

  // ---- leader ----

  /**
   * Takes over sync: the stored outbox and cursors (claimed for this term: see
   * `ClientStorage.readSyncState`), this tab's queries, then the connection.
   */
  private async lead(): Promise<void> {
    const { engine, storage, channel, election } = this.options;
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
    this.leaderId = channel.tabId;
    engine.setPushing(true);
    this.stopPostingState = effect(() => this.postState(engine.connection.getCurrentState()));
    channel.post({ type: "leader" });
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
    this.stopPostingState?.();
    this.stopPostingState = undefined;
    engine.setPushing(false);
    engine.disconnect();
    for (const from of [...this.served.keys()]) this.unserve(from);
    batch(() => {
      this.isLeading.value = false;
      this.leaderId = undefined;
      this.leader.value = { state: "connecting", pending: 0, error: undefined, progress: undefined };
      this.queries.stepDown();
      this.ownPending.value = engine.pendingEntries().length;
    });
    // Rooms are this tab's own: it keeps a socket for them, as any follower in a room does.
    if (this.roomCount > 0 && this.wantsConnection) engine.connect();
    this.introduce();
  }

  private postState({ state, pending, lastError, progress }: ConnectionStatus): void {
    const error = lastError === undefined ? null : { code: lastError.code, message: lastError.message };
    this.options.channel.post({ type: "state", state, pending, error, progress: progress ?? null });
  }

  private serve(from: string, key: string, query: NormalizedQuery, cursor: string | null): void {
    let queries = this.served.get(from);
    if (queries === undefined) this.served.set(from, (queries = new Map()));
    if (queries.has(key)) return;
    const synced = this.options.engine.follow(query, cursor);
    queries.set(key, synced);
    void synced.answered().then(() => {
      if (queries.get(key) === synced && !this.isClosed) this.options.channel.post({ type: "answered", key });
    });
  }

  private unserve(from: string, key?: string): void {
    const queries = this.served.get(from);
    if (queries === undefined) return;
    for (const [served, synced] of queries) {
      if (key !== undefined && served !== key) continue;
      synced.release();
      queries.delete(served);
    }
    if (queries.size === 0) this.served.delete(from);
  }

  /**
   * Prunes storage where the queries of every tab are known: here when this tab leads, else in
   * the leader (asked over the channel). Every tab forgets the cursors of what was pruned.
   */
  async prune(): Promise<DatabaseResult<PruneResult>> {
    const { channel } = this.options;
    if (this.isLeading.peek()) return this.pruneAsLeader(null, null);
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

  private async pruneAsLeader(to: string | null, id: string | null): Promise<DatabaseResult<PruneResult>> {
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

  // ---- messages ----

  private hear(message: TabMessage): void {
    if (this.isClosed) return;
    const { engine } = this.options;
    if (message.type === "pruned") {
      engine.forgetCursors(new Set(message.collections));
      const settle =
        message.to === this.options.channel.tabId && message.id !== null ? this.pruning.get(message.id) : undefined;
      if (settle === undefined) return;
      this.pruning.delete(message.id!);
      const { collections, documents } = message;
      return settle(
        message.error === null
          ? ok({ collections, documents })
          : fail(message.error.code as never, message.error.message),
      );
    }
    if (this.isLeading.peek()) {
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
          if (done.length > 0) this.options.channel.post({ type: "acked", batchIds: done });
          engine.adopt(message.entries.filter((entry) => !this.acknowledged.has(entry.batchId)));
          // Also a tab's introduction: it learns the connection's state.
          return this.postState(engine.connection.getCurrentState());
        }
        case "connect":
          this.wantsConnection = message.wanted;
          return message.wanted ? engine.connect() : engine.disconnect();
        case "prune":
          void this.pruneAsLeader(message.from, message.id);
          return;
      }
      return;
    }
    switch (message.type) {
      case "state":
        if (this.leaderId !== undefined && message.from !== this.leaderId) return;
        this.leader.value = {
          state: message.state,
          pending: message.pending,
          error:
            message.error === null ? undefined : new DatabaseError(message.error.code as never, message.error.message),
          progress: message.progress ?? undefined,
        };
        return;
      case "answered":
        this.queries.answer(message.key);
        return;
      case "acked":
        engine.dropEntries(message.batchIds);
        this.ownPending.value = engine.pendingEntries().length;
        return;
      case "leader":
        this.leaderId = message.from;
        return this.introduce();
    }
  }

  /** Tells a leader that knows nothing of this tab its queries and unacknowledged writes. */
  private introduce(): void {
    const { engine, channel } = this.options;
    this.queries.announce();
    channel.post({ type: "push", entries: engine.pendingEntries() });
    if (!this.wantsConnection) channel.post({ type: "connect", wanted: false });
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
