import { batch, computed, type ReadonlySignal, signal } from "@preact/signals-core";
import {
  type ClientMessage,
  type Clock,
  DatabaseError,
  type DatabaseResult,
  decodeHlc,
  type DocumentRef,
  type HelloMessage,
  type NormalizedQuery,
  ok,
  helloMessage,
  type Triple,
  type TripleStore,
  type WelcomeMessage,
} from "@trellis/core";
import { type ClientConnection, type ConnectionState, createClientConnection } from "./client-connection.js";
import type { DebugLog } from "./debug-log.js";
import { heldIds } from "./held-ids.js";
import { fetchQuery, type HttpContext, pushEntry, type SyncPayload } from "./http.js";
import { createMemoryOutbox, type Outbox, type OutboxEntry } from "./outbox.js";
import { OutboxPusher } from "./outbox-pusher.js";
import type { FollowedQuery, QuerySync } from "./query-sync.js";
import { refusedChanges, type WriteError, WriteRollback } from "./refused-writes.js";
import { applyRemoteTriples, type RemoteApplier, storeApplier } from "./remote-apply.js";
import { syncUrl } from "./server-url.js";
import { ServerSubscriptions } from "./server-subscriptions.js";
import {
  type KeepAliveOptions,
  type ReconnectOptions,
  type RoomServerMessage,
  type SyncMessage,
  type Timers,
  Transport,
  type TransportState,
} from "./transport.js";
import { resolveWebSocket, type WebSocketConstructor } from "./web-socket.js";

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

export interface SyncEngineOptions {
  readonly store: TripleStore;
  readonly clock: Clock;
  readonly serverUrl: string;
  readonly appId: string;
  readonly clientId: string;
  readonly userId: string | undefined;
  /** The JWT to present, if any; asked for on every connection and HTTP request. */
  readonly token: () => string | undefined | Promise<string | undefined>;
  /** Batch ids of outbox entries. */
  readonly newId: () => string;
  readonly webSocket?: WebSocketConstructor | undefined;
  readonly reconnect?: ReconnectOptions | undefined;
  readonly keepAlive?: KeepAliveOptions | undefined;
  readonly timers?: Timers;
  readonly random?: () => number;
  readonly fetch?: typeof fetch;
  readonly outbox?: Outbox;
  /** Applies remote triples (default: straight to the store); a working set defers unloaded collections. */
  readonly apply?: RemoteApplier | undefined;
  /** Forgets documents the user may no longer read, in memory (default: straight from the store). */
  readonly forget?: ((documents: readonly DocumentRef[]) => void) | undefined;
  /** Hears every list of documents the server revoked, once forgotten (persistence drops them). */
  readonly onRemoteForgotten?: ((documents: readonly DocumentRef[]) => void) | undefined;
  /** The query that fetches documents by id (for rolling back refused writes); undefined: none. */
  readonly documentsQuery?: ((collection: string, ids: readonly string[]) => NormalizedQuery | undefined) | undefined;
  /**
   * Replaces documents in memory when a refused write is rolled back: forgets them, then applies
   * `triples` (default: straight to the store). Storage and other tabs must follow.
   */
  readonly replaceDocuments?: ((documents: readonly DocumentRef[], triples: readonly Triple[]) => void) | undefined;
  /** Hears each refused change, once it is rolled back (or the rollback failed). */
  readonly onWriteError?: ((change: WriteError) => void) | undefined;
  /** Hears the triples of every remote batch applied (persistence stores their documents). */
  readonly onRemoteApplied?: ((triples: readonly Triple[]) => void) | undefined;
  /** Hears every cursor move of a synced query (persistence stores them). */
  readonly onCursor?: ((queryKey: string, cursor: string) => void) | undefined;
  /** Settles once stored data is loaded: connecting waits for it, so the restored outbox and cursors are used. */
  readonly ready?: Promise<unknown> | undefined;
  /** Hears connection steps, pushes, acks and query syncs (see `createClient({ debug })`). */
  readonly debug?: DebugLog | undefined;
}

/**
 * A client's sync with a server: the connection, the outbox of local writes, the queries
 * followed and their cursors, and the application of what the server sends. Writes reach it
 * through {@link record}; live queries through {@link follow}.
 *
 * @example
 * const sync = new SyncEngine({ store, clock, serverUrl, appId, clientId, userId, token: () => undefined, newId });
 * sync.connect();
 */
export class SyncEngine implements QuerySync {
  readonly hasServer = true;
  /** `client.connection`. */
  readonly connection: ClientConnection;
  private readonly transport: Transport;
  private readonly outbox: Outbox;
  private readonly pusher: OutboxPusher;
  private readonly subscriptions: ServerSubscriptions;
  private readonly http: HttpContext;
  private readonly isOffline: ReadonlySignal<boolean>;
  private readonly pending = signal(0);
  private readonly lastError = signal<DatabaseError | undefined>(undefined);
  /** Messages already warned about: a server refusing every reconnect warns once. */
  private readonly warned = new Set<string>();
  private isPushScheduled = false;
  private rooms: RoomLink | undefined;
  private welcomedUserId: string | null | undefined;
  private wantsConnection = false;
  /** False in a follower tab: the leader tab pushes every tab's writes (see tabs/tab-sync.ts). */
  private isPushing = true;
  private isRestoring = false;
  private readonly rollback: WriteRollback;

  constructor(private readonly options: SyncEngineOptions) {
    this.outbox = options.outbox ?? createMemoryOutbox();
    this.pending.value = this.outbox.size;
    this.http = {
      serverUrl: options.serverUrl,
      appId: options.appId,
      clientId: options.clientId,
      userId: options.userId,
      token: async () => options.token(),
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    };
    this.transport = new Transport({
      url: syncUrl(options.serverUrl),
      webSocket: () => resolveWebSocket(options.webSocket),
      hello: () => this.hello(),
      onWelcome: (welcome) => this.welcome(welcome),
      onMessage: (message) => this.receive(message),
      onDisconnect: () => {
        this.subscriptions.disconnected();
        this.pusher.reset();
      },
      onError: (error) => this.report(error),
      ...(options.timers === undefined ? {} : { timers: options.timers }),
      ...(options.random === undefined ? {} : { random: options.random }),
      ...(options.reconnect === undefined ? {} : { reconnect: options.reconnect }),
      ...(options.keepAlive === undefined ? {} : { keepAlive: options.keepAlive }),
      debug: options.debug,
    });
    const transportState = this.transport.state;
    this.isOffline = computed(() => transportState.value === "offline");
    this.subscriptions = new ServerSubscriptions({
      send: (message) => this.send(message),
      isOffline: this.isOffline,
      onCursor: options.onCursor,
      heldIds: (query) => heldIds(options.store, this.outbox, query),
    });
    this.pusher = new OutboxPusher({
      outbox: this.outbox,
      // Offline, the outbox waits for the next `welcome`, which flushes it: flushing on each write
      // would go over every waiting entry (quadratic over a long offline spell), and push large
      // entries over HTTP while disconnected on purpose.
      isConnected: () => this.isPushing && transportState.peek() === "connected",
      send: (message) => this.send(message),
      pushOverHttp: (entry) => {
        options.debug?.("push over HTTP", { batchId: entry.batchId, triples: entry.triples.length });
        return pushEntry(this.http, entry);
      },
      onRemoved: () => {
        this.pending.value = this.outbox.size;
      },
      onRefused: (error, entries) => this.refused(error, entries),
      onNetworkFailure: () => this.transport.restart(),
    });
    const outstanding = this.subscriptions.outstanding;
    const pending = this.pending;
    const state: ReadonlySignal<ConnectionState> = computed(() => {
      const transport = transportState.value;
      if (transport !== "connected") return transport;
      return pending.value > 0 || outstanding.value > 0 ? "syncing" : "online";
    });
    this.connection = createClientConnection(state, pending, this.lastError, this.subscriptions.progress);
    this.rollback = new WriteRollback({
      fetch: async (collection, ids) => {
        const query = options.documentsQuery?.(collection, ids);
        if (query === undefined) return ok(undefined);
        const answer = await fetchQuery(this.http, query);
        return answer.error ? answer : ok(answer.data.triples);
      },
      replace: (documents, triples) => {
        const replace =
          options.replaceDocuments ??
          ((forgotten: readonly DocumentRef[], replacement: readonly Triple[]) =>
            options.store.transact(() => {
              options.store.forget(forgotten);
              applyRemoteTriples(options.store, options.clock, replacement);
            }));
        batch(() => replace(documents, triples));
      },
      pending: () => this.outbox.entries(),
    });
    if (options.ready !== undefined) {
      this.isRestoring = true;
      void options.ready.then(() => {
        this.isRestoring = false;
        if (this.wantsConnection) this.transport.connect();
      });
    }
  }

  connect(): void {
    this.wantsConnection = true;
    if (this.isRestoring) return;
    this.transport.connect();
  }

  /** Takes up where an earlier run stopped: its outbox (already in `outbox`) and its cursors. */
  restored(cursors: ReadonlyMap<string, string>): void {
    this.subscriptions.restoreCursors(cursors);
    this.pending.value = this.outbox.size;
  }

  /** Where the socket is. */
  get transportState(): TransportState {
    return this.transport.state.peek();
  }

  /** The user id the server acts for, once welcomed (null: anonymous development connection). */
  get userId(): string | null | undefined {
    return this.welcomedUserId;
  }

  /** Connects the rooms part: it hears welcomes, state changes and room messages. */
  attachRooms(rooms: RoomLink): void {
    this.rooms = rooms;
    this.transport.state.subscribe((state) => rooms.transportChanged(state));
  }

  /** Sends a room message on a welcomed connection; false when there is none. */
  sendRoom(message: ClientMessage): boolean {
    return this.send(message);
  }

  disconnect(): void {
    this.wantsConnection = false;
    this.transport.disconnect();
  }

  /** Closes the socket and clears every timer. */
  close(): Promise<void> {
    return this.transport.close();
  }

  /** Queues the triples of one local write call for the server; returns its outbox entry. */
  record(triples: readonly Triple[]): OutboxEntry {
    this.rollback.observe(triples);
    const entry = { batchId: this.options.newId(), triples };
    this.outbox.add(entry);
    this.pending.value = this.outbox.size;
    this.schedulePush();
    return entry;
  }

  /** Writes of other tabs, already stored, for this (leader) tab to push; ones it has are skipped. */
  adopt(entries: readonly OutboxEntry[]): void {
    const held = new Set(this.outbox.entries().map((entry) => entry.batchId));
    const fresh = entries.filter((entry) => !held.has(entry.batchId));
    if (fresh.length === 0) return;
    for (const entry of fresh) this.rollback.observe(entry.triples);
    this.outbox.adopt(fresh);
    this.pending.value = this.outbox.size;
    this.schedulePush();
  }

  /** Drops entries another tab saw acknowledged. */
  dropEntries(batchIds: readonly string[]): void {
    this.outbox.remove(batchIds);
    this.pending.value = this.outbox.size;
  }

  /** The writes the server has not acknowledged, oldest first. */
  pendingEntries(): readonly OutboxEntry[] {
    return this.outbox.entries();
  }

  /** Starts or stops pushing the outbox (a follower tab leaves that to the leader). */
  setPushing(isPushing: boolean): void {
    this.isPushing = isPushing;
    if (isPushing) this.schedulePush();
  }

  private schedulePush(): void {
    // Writes of one tick share a frame.
    if (this.isPushScheduled) return;
    this.isPushScheduled = true;
    queueMicrotask(() => {
      this.isPushScheduled = false;
      this.pusher.flush();
    });
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
    const synced = this.subscriptions.follow(query);
    try {
      await synced.answered();
    } finally {
      synced.release();
    }
  }

  async load(query: NormalizedQuery): Promise<DatabaseResult<SyncPayload | null>> {
    const answer = await fetchQuery(this.http, query);
    if (answer.data !== undefined) this.applyRemote(answer.data.triples);
    return answer;
  }

  applyRemote(triples: readonly Triple[]): void {
    const apply = this.options.apply ?? storeApplier(this.options.store, this.options.clock);
    const clockError = apply(triples);
    this.rollback.observe(triples);
    if (clockError !== undefined) this.report(clockError);
    if (triples.length > 0) this.options.onRemoteApplied?.(triples);
  }

  /** Drops documents the server says the user may no longer read, from memory and storage. */
  forgetRemote(documents: readonly DocumentRef[] | undefined): void {
    if (documents === undefined || documents.length === 0) return;
    const forget =
      this.options.forget ?? ((revoked: readonly DocumentRef[]) => void this.options.store.forget(revoked));
    forget(documents);
    this.options.onRemoteForgotten?.(documents);
  }

  private hello(): HelloMessage | Promise<HelloMessage> {
    const { appId, clientId, userId } = this.options;
    const build = (token: string | undefined): HelloMessage => helloMessage({ appId, clientId, token, userId });
    const token = this.options.token();
    return token instanceof Promise ? token.then(build) : build(token);
  }

  private welcome(welcome: WelcomeMessage): void {
    this.lastError.value = undefined;
    const serverHlc = decodeHlc(welcome.serverHlc);
    const received = serverHlc.error ?? this.options.clock.receive(serverHlc.data).error;
    if (received !== undefined) this.report(received);
    this.subscriptions.connected();
    this.pusher.reset();
    this.pusher.flush();
    this.welcomedUserId = welcome.userId;
    this.rooms?.welcome(welcome.userId);
  }

  /** Sends on the socket; false when it is not connected. */
  private send(message: ClientMessage): boolean {
    const debug = this.options.debug;
    if (debug !== undefined) debug(`send ${message.type}`, describeMessage(message));
    return this.transport.send(message);
  }

  private receive(message: SyncMessage): void {
    this.options.debug?.(`receive ${message.type}`, describeMessage(message));
    switch (message.type) {
      case "snapshot":
        // One batch: subscribers see the data and the end of loading together, once.
        batch(() => {
          this.applyRemote(message.triples);
          this.forgetRemote(message.revoked);
          this.subscriptions.snapshot(message.queryId, message.cursor);
        });
        return;
      case "snapshotPart":
        // Whole documents, applied at once; the query stays loading until its `snapshot`.
        batch(() => {
          this.applyRemote(message.triples);
          this.subscriptions.snapshotPart(message.queryId, message.documents, message.total);
        });
        return;
      case "changes":
        batch(() => {
          this.applyRemote(message.triples);
          this.forgetRemote(message.revoked);
          this.subscriptions.changes(message.cursor);
        });
        return;
      case "ack":
        this.pusher.acknowledge(message.batchId);
        return;
      case "roomState":
      case "roomEvent":
      case "userStatus":
      case "roomStatus":
        this.rooms?.message(message);
        return;
      case "error": {
        const error = new DatabaseError(
          message.code,
          message.message,
          message.details === undefined ? undefined : { ...message.details },
        );
        const { batchId, queryId } = message.details ?? {};
        if (typeof batchId === "string") return this.pusher.refuse(batchId, error);
        if (typeof queryId === "string") this.subscriptions.refuse(queryId);
        const { roomType, roomId } = message.details ?? {};
        if (typeof roomType === "string" && typeof roomId === "string") this.rooms?.error(error, roomType, roomId);
        this.report(error);
      }
    }
  }

  /**
   * The server refused writes: the error shows in `lastError`, the documents go back to the
   * server's state (see WriteRollback), then each refused change reaches the write error listeners.
   */
  private refused(error: DatabaseError, entries: readonly OutboxEntry[]): void {
    this.report(error);
    if (entries.length === 0) return;
    // Listeners hear of it once the local data is back to the server's: what they read is current.
    void this.rollback.roll(entries).then((rolled) => {
      if (rolled.error)
        this.report(
          new DatabaseError(rolled.error.code, `A refused write could not be rolled back: ${rolled.error.message}`),
        );
      for (const change of refusedChanges(error, entries)) this.options.onWriteError?.(change);
    });
  }

  private report(error: DatabaseError): void {
    this.lastError.value = error;
    if (this.warned.has(error.message)) return;
    this.warned.add(error.message);
    console.warn(`Trellis sync: ${error.message}`);
  }
}

/** The gist of a sync message for the debug log: its ids and sizes, not its data. */
function describeMessage(message: ClientMessage | SyncMessage): Record<string, unknown> {
  const gist: Record<string, unknown> = {};
  for (const key of ["queryId", "batchId", "cursor", "code", "message", "roomType", "roomId"] as const) {
    const value = (message as unknown as Partial<Record<string, unknown>>)[key];
    if (value !== undefined) gist[key] = value;
  }
  if ("query" in message) gist.collection = (message.query as { collection?: unknown }).collection;
  if ("triples" in message && Array.isArray(message.triples)) gist.triples = message.triples.length;
  return gist;
}
