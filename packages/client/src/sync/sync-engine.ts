import { computed, type ReadonlySignal } from "@preact/signals-core";
import {
  type ClientMessage,
  type DatabaseError,
  type DatabaseResult,
  type NormalizedQuery,
  type Triple,
  type TripleStore,
} from "@trellis/core";
import { type ClientConnection, type ConnectionState, createClientConnection } from "./client-connection.js";
import { heldIds } from "./held-ids.js";
import { fetchQuery, type HttpContext, type SyncPayload } from "./http.js";
import { describeMessage, routeSyncMessage } from "./message-router.js";
import type { OutboxEntry } from "./outbox.js";
import { PendingWrites, type PendingWritesOptions } from "./pending-writes.js";
import type { FollowedQuery, QuerySync } from "./query-sync.js";
import { RemoteChanges } from "./remote-changes.js";
import { ServerSubscriptions } from "./server-subscriptions.js";
import { SyncErrors } from "./sync-errors.js";
import type { SyncPersistence } from "./sync-persistence.js";
import { SyncSession, type SyncSessionOptions } from "./sync-session.js";
import type { RoomServerMessage, TransportState } from "./transport.js";

/** What the rooms part of a client hears from the sync engine (see rooms/rooms.ts). */
export interface RoomLink {
  /** A connection was welcomed (runs in the same batch as the state becoming connected). */
  welcome(userId: string | null): void;
  /** The socket state changed (offline, connecting, connected). */
  transportChanged(state: TransportState): void;
  message(message: RoomServerMessage): void;
  /** An error the server sent about one room (`details.roomType`, `details.roomId`). */
  error(error: DatabaseError, roomType: string, roomId: string): void;
}

/** The engine's settings: its parts', and the store it syncs. */
export interface SyncEngineOptions
  extends
    SyncPersistence,
    Omit<SyncSessionOptions, "errors" | "onWelcome" | "onMessage" | "onDisconnect">,
    Pick<PendingWritesOptions, "newId" | "documentsQuery" | "replaceDocuments" | "onWriteError"> {
  readonly store: TripleStore;
  /** Makes the HTTP requests (large pushes, `load`, rollbacks); default: the global `fetch`. */
  readonly fetch?: typeof fetch;
}

/**
 * A client's sync with a server, coordinating its parts: the session (the socket, `hello` and
 * `welcome`), the local writes the server has not acknowledged, the server subscriptions of the
 * queries followed, and what the server sends about documents. Writes reach it through
 * {@link record}; live queries through {@link follow}.
 *
 * @example
 * const sync = new SyncEngine({ store, clock, serverUrl, appId, clientId, userId, token: () => token, newId: () => crypto.randomUUID() });
 * sync.connect();
 */
export class SyncEngine implements QuerySync {
  readonly hasServer = true;
  /** `client.connection`. */
  readonly connection: ClientConnection;
  private readonly session: SyncSession;
  private readonly writes: PendingWrites;
  private readonly subscriptions: ServerSubscriptions;
  private readonly remote: RemoteChanges;
  private readonly http: HttpContext;
  private readonly isOffline: ReadonlySignal<boolean>;
  private rooms: RoomLink | undefined;

  constructor(options: SyncEngineOptions) {
    const errors = new SyncErrors();
    const report = (error: DatabaseError) => errors.report(error);
    this.http = {
      serverUrl: options.serverUrl,
      appId: options.appId,
      clientId: options.clientId,
      userId: options.userId,
      token: async () => options.token(),
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    };
    this.session = new SyncSession({
      ...options,
      errors,
      onWelcome: (userId) => {
        this.subscriptions.connected();
        this.writes.connected();
        this.rooms?.welcome(userId);
      },
      onMessage: (message) => {
        options.debug?.(`receive ${message.type}`, describeMessage(message));
        routeSyncMessage(message, {
          remote: this.remote,
          subscriptions: this.subscriptions,
          writes: this.writes,
          room: (roomMessage) => this.rooms?.message(roomMessage),
          roomError: (error, roomType, roomId) => this.rooms?.error(error, roomType, roomId),
          report,
        });
      },
      onDisconnect: () => {
        this.subscriptions.disconnected();
        this.writes.disconnected();
      },
    });
    const transportState = this.session.state;
    this.isOffline = computed(() => transportState.value === "offline");
    const send = (message: ClientMessage) => this.session.send(message);
    this.writes = new PendingWrites({
      ...options,
      http: this.http,
      isConnected: () => transportState.peek() === "connected",
      send,
      restart: () => this.session.restart(),
      report,
    });
    this.subscriptions = new ServerSubscriptions({
      send,
      isOffline: this.isOffline,
      onCursor: options.onCursor,
      heldIds: (query) => heldIds(options.store, this.writes.outbox, query),
    });
    this.remote = new RemoteChanges({ ...options, observe: (triples) => this.writes.observe(triples), report });
    const outstanding = this.subscriptions.outstanding;
    const pending = this.writes.pending;
    const state: ReadonlySignal<ConnectionState> = computed(() => {
      const transport = transportState.value;
      if (transport !== "connected") return transport;
      return pending.value > 0 || outstanding.value > 0 ? "syncing" : "online";
    });
    this.connection = createClientConnection(state, pending, errors.lastError, this.subscriptions.progress);
  }

  connect(): void {
    this.session.connect();
  }

  /** Takes up where an earlier run stopped: its outbox (already in `outbox`) and its cursors. */
  restored(cursors: ReadonlyMap<string, string>): void {
    this.subscriptions.restoreCursors(cursors);
    this.writes.restored();
  }

  /** Where the socket is. */
  get transportState(): TransportState {
    return this.session.state.peek();
  }

  /** The user id the server acts for, once welcomed (null: anonymous development connection). */
  get userId(): string | null | undefined {
    return this.session.userId;
  }

  /** Connects the rooms part: it hears welcomes, state changes and room messages. */
  attachRooms(rooms: RoomLink): void {
    this.rooms = rooms;
    this.session.state.subscribe((state) => rooms.transportChanged(state));
  }

  /** Sends a room message on a welcomed connection; false when there is none. */
  sendRoom(message: ClientMessage): boolean {
    return this.session.send(message);
  }

  disconnect(): void {
    this.session.disconnect();
  }

  /** Closes the socket and clears every timer. */
  close(): Promise<void> {
    return this.session.close();
  }

  /** Queues the triples of one local write call for the server; returns its outbox entry. */
  record(triples: readonly Triple[]): OutboxEntry {
    return this.writes.record(triples);
  }

  /** Writes of other tabs, already stored, for this (leader) tab to push; ones it has are skipped. */
  adopt(entries: readonly OutboxEntry[]): void {
    this.writes.adopt(entries);
  }

  /** Drops entries another tab saw acknowledged. */
  dropEntries(batchIds: readonly string[]): void {
    this.writes.drop(batchIds);
  }

  /** The writes the server has not acknowledged, oldest first. */
  pendingEntries(): readonly OutboxEntry[] {
    return this.writes.outbox.entries();
  }

  /** Starts or stops pushing the outbox (a follower tab leaves that to the leader). */
  setPushing(isPushing: boolean): void {
    this.writes.setPushing(isPushing);
  }

  /** The collections of the queries synced now: their stored documents must stay. */
  followedCollections(): Set<string> {
    return this.subscriptions.followedCollections();
  }

  /** Forgets the cursors of queries reading these collections, whose stored documents were pruned. */
  forgetCursors(collections: ReadonlySet<string>): void {
    this.subscriptions.forgetCursors(collections);
  }

  /** Whether the query with this key (its JSON) was synced before, here or in an earlier run. */
  hasCursor(key: string): boolean {
    return this.subscriptions.hasCursor(key);
  }

  follow(query: NormalizedQuery, cursor?: string | null): FollowedQuery {
    return this.subscriptions.follow(query, cursor);
  }

  async settle(query: NormalizedQuery): Promise<void> {
    if (this.isOffline.peek() || this.subscriptions.covers(query)) return;
    const followed = this.subscriptions.follow(query);
    try {
      await followed.answered();
    } finally {
      followed.release();
    }
  }

  async load(query: NormalizedQuery): Promise<DatabaseResult<SyncPayload | null>> {
    const answer = await fetchQuery(this.http, query);
    if (answer.data !== undefined) this.remote.apply(answer.data.triples);
    return answer;
  }

  applyRemote(triples: readonly Triple[]): void {
    this.remote.apply(triples);
  }
}
