import {
  type Clock,
  createClock,
  type DatabaseResult,
  encodeHlc,
  fail,
  LiveQueryRegistry,
  type NormalizedQuery,
  type QueryCostOptions,
  type RoomAddress,
  ok,
  type Triple,
  TripleStore,
} from "@trellis/core";
import { AppDatabase } from "./app-database.js";
import { RateWindow } from "./apps/rate-window.js";
import { checkAuthorship } from "./authorship.js";
import type { Checkpointer } from "./checkpointer.js";
import type { FaultHook } from "./faults.js";
import { FanOut } from "./fan-out.js";
import { GroupCommit } from "./group-commit.js";
import type { Permissions, RuleUser } from "./permissions/permissions.js";
import type { Log } from "./log.js";
import type { Peer } from "./peer.js";
import { ANONYMOUS, type Holders, type PeerAbout, type PeerState, unlearn } from "./peer-state.js";
import type { QuerySnapshot } from "./query-snapshot.js";
import { RoomHub } from "./rooms.js";
import { Subscriptions } from "./subscriptions.js";

/** The WebSocket close code for a server restarting what serves the connection: come back and resume. */
const SERVICE_RESTART = 1012;

/** What a hub is told by the server it runs in. */
export interface HubOptions {
  readonly log?: Log | undefined;
  readonly fault?: FaultHook | undefined;
  /** The most linked documents the relations of one result may examine (see `QueryCostOptions`). */
  readonly maxQueryCost?: number | undefined;
  /** Who may read and write what; without it, everyone may do everything. */
  readonly permissions?: Permissions | undefined;
  /**
   * The app's change number when its rules last changed (see `AppRegistry.rulesChangedAt`): a
   * client resuming from a cursor up to it saw the data under other rules, so it gets whole results.
   */
  readonly rulesChangedAt?: number | undefined;
  /** Triples of one push handled in one event-loop turn; larger pushes go slice by slice. Default 2,000. */
  readonly sliceTriples?: number | undefined;
  /** Triples per message of a large snapshot (see `ServerLimits.snapshotPartTriples`). Default 20,000. */
  readonly snapshotPartTriples?: number | undefined;
  /** Checkpoints the database off the event loop (without it, SQLite checkpoints as it commits). */
  readonly checkpointer?: Checkpointer | undefined;
  /**
   * Called when the hub failed in a way that may have left its in-memory state out of step with
   * its database (a bug, not bad input): its connections were dropped, and it should be closed and
   * opened again.
   */
  readonly onFailure?: (() => void) | undefined;
}

/** Client ids remembered per app with the user they connected as, for the dashboard's "who wrote it". */
const MAX_KNOWN_WRITERS = 10_000;

/**
 * One app on the server: its durable database, an in-memory replica serving the shared query
 * engine, and the connections syncing it. Pushes from every connection are merged in one SQLite
 * transaction per event-loop turn (group commit), then routed: each changed triple goes to the
 * connections holding its document, and documents entering a live result go, in full, to its
 * subscribers (see docs/design/009). The hub wires its parts and owns what they share (the
 * replica, the connections and who holds which document): the live queries (`Subscriptions`),
 * the durable write path (`GroupCommit`) and the routing of stored changes (`FanOut`).
 */
export class AppHub {
  private readonly store = new TripleStore();
  private readonly clock: Clock = createClock({ node: "server" });
  private readonly peers = new Map<Peer, PeerState>();
  private readonly holders: Holders = new Map();
  private readonly subscriptions: Subscriptions;
  private readonly fanOut: FanOut;
  private readonly commits: GroupCommit;

  private constructor(
    readonly appId: string,
    private readonly db: AppDatabase,
    private readonly options: HubOptions,
  ) {
    const registry = new LiveQueryRegistry(this.store, { maxQueryCost: options.maxQueryCost });
    this.store.transact(() => {
      for (const triple of db.allTriples()) this.store.applyTriple(triple);
    });
    const subscriptions = new Subscriptions(registry, this.store, db, this.peers, this.holders, options);
    this.subscriptions = subscriptions;
    this.fanOut = new FanOut(
      db,
      this.store,
      options.permissions,
      this.peers,
      this.holders,
      subscriptions.groups,
      subscriptions.dirtyGroups,
      this.rooms,
      () => subscriptions.ruleReach,
    );
    this.commits = new GroupCommit(appId, db, this.clock, options, {
      isAttached: (state) => this.peers.get(state.peer) === state,
      unheldWrites: (origins) => this.fanOut.unheldWrites(origins),
      route: (applied, origins, cursor, unheld) => this.route(applied, origins, cursor, unheld),
      peers: () => [...this.peers.keys()],
    });
  }

  static open(dataDir: string, appId: string, options: HubOptions = {}): DatabaseResult<AppHub> {
    const db = AppDatabase.open(dataDir, appId, { isCheckpointedElsewhere: options.checkpointer?.isRunning ?? false });
    return db.error ? db : ok(new AppHub(appId, db.data, options));
  }

  /** The app's rooms (in memory only); events are stamped with this hub's clock. */
  readonly rooms = new RoomHub(() => this.now());

  /** Whether `user` may join a room (see `Permissions.mayJoin`). */
  mayJoin(roomType: string, roomId: string, user: RuleUser): boolean {
    return this.options.permissions?.mayJoin(roomType, roomId, user, this.store) ?? true;
  }

  /** The server's clock reading, for `welcome` and room events. */
  now(): string {
    return encodeHlc(this.clock.now());
  }

  attach(peer: Peer, user: RuleUser = ANONYMOUS, about?: PeerAbout): void {
    if (this.peers.has(peer)) return;
    this.peers.set(peer, { peer, user, readTests: new Map(), known: new Set(), queries: new Map(), about });
    if (about === undefined) return;
    // A client's clock stamps its writes with its client id: remembering whose it is names the
    // writer of a field in the dashboard.
    this.writers.delete(about.clientId);
    this.writers.set(about.clientId, user.id);
    if (this.writers.size > MAX_KNOWN_WRITERS) this.writers.delete(this.writers.keys().next().value!);
  }

  /** Users of the clients seen connecting, by client id, oldest first. */
  private readonly writers = new Map<string, string | null>();

  /** The user a client connected as (null: anonymous), if this process saw it connect. */
  userOfClient(clientId: string): string | null | undefined {
    return this.writers.get(clientId);
  }

  /**
   * The app's data as the server holds it, for reading only (the admin API's data browser):
   * every document, with no permission rule applied.
   */
  get replica(): TripleStore {
    return this.store;
  }

  /** The query cost limit its queries run under. */
  get queryCostOptions(): QueryCostOptions {
    return { maxQueryCost: this.options.maxQueryCost };
  }

  /** The open connections: user, client, since when, live queries and rooms. */
  connections(): Array<{
    readonly userId: string | null;
    readonly clientId: string | null;
    readonly since: number | null;
    readonly liveQueries: number;
    readonly rooms: readonly RoomAddress[];
  }> {
    return [...this.peers.values()].map((state) => ({
      userId: state.user.id,
      clientId: state.about?.clientId ?? null,
      since: state.about?.since ?? null,
      liveQueries: state.queries.size,
      rooms: this.rooms.roomsOf(state.peer),
    }));
  }

  /** Forgets a connection: its subscriptions end and its documents stop following it. */
  detach(peer: Peer): void {
    this.rooms.leaveAll(peer);
    const state = this.peers.get(peer);
    if (state === undefined) return;
    for (const queryId of [...state.queries.keys()]) this.unsubscribe(peer, queryId);
    for (const key of state.known) unlearn(this.holders, state, key);
    this.peers.delete(peer);
  }

  /** Triples stored per second, over the last ten seconds. */
  private readonly writes = new RateWindow();

  /** What the admin API reports of a running app. */
  metrics(): { readonly connections: number; readonly liveQueries: number; readonly writesPerSecond: number } {
    return {
      connections: this.peers.size,
      liveQueries: this.subscriptions.groups.size,
      writesPerSecond: this.writes.perSecond(),
    };
  }

  get connectionCount(): number {
    return this.peers.size;
  }

  /** Live queries a connection holds. */
  subscriptionCount(peer: Peer): number {
    return this.peers.get(peer)?.queries.size ?? 0;
  }

  isSubscribed(peer: Peer, queryId: string): boolean {
    return this.peers.get(peer)?.queries.has(queryId) ?? false;
  }

  /**
   * Starts (or resumes from `cursor`) a live query of a connection and sends its snapshot. `held`:
   * the documents the client holds of it (see `SubscribeMessage.held`).
   */
  subscribe(
    peer: Peer,
    queryId: string,
    query: NormalizedQuery,
    cursor: string | null,
    held?: readonly string[],
  ): void {
    this.subscriptions.subscribe(peer, queryId, query, cursor, held);
  }

  unsubscribe(peer: Peer, queryId: string): void {
    this.subscriptions.unsubscribe(peer, queryId);
  }

  /** A one-shot snapshot (HTTP initial load and preload). */
  query(query: NormalizedQuery, cursor: string | null, user: RuleUser = ANONYMOUS): DatabaseResult<QuerySnapshot> {
    return this.subscriptions.query(query, cursor, user);
  }

  /**
   * Merges triples pushed by `userId` (null: anonymous) durably and routes them. Resolves once
   * the batch is committed (the moment to acknowledge it), or with VALIDATION (see
   * `checkAuthorship`) / CLOCK_DRIFT / STORAGE errors, in which case nothing of the batch was
   * stored.
   */
  push(
    peer: Peer | undefined,
    triples: readonly Triple[],
    user: RuleUser = ANONYMOUS,
  ): Promise<DatabaseResult<{ cursor: string }>> {
    if (this.commits.isClosed) return Promise.resolve(fail("STORAGE", `App "${this.appId}" is closing.`));
    // Privileged server code may write as anyone (a document's createdBy still cannot change).
    if (user.isPrivileged !== true) {
      const authored = checkAuthorship(triples, user.id);
      if (authored.error) return Promise.resolve(authored);
      const permitted = this.options.permissions?.checkWrites(this.store, triples, user);
      if (permitted?.error) return Promise.resolve(permitted);
    }
    const origin = peer === undefined ? undefined : this.peers.get(peer);
    return this.commits.enqueue(origin, triples);
  }

  /** Ends every connection of the app with `message` (an UNAUTHORIZED error first): the app is going away. */
  expel(message: string): void {
    for (const peer of [...this.peers.keys()]) {
      peer.send({ type: "error", code: "UNAUTHORIZED", message, details: { appId: this.appId } });
      peer.drop(message);
    }
  }

  /**
   * Closes the app, then (once the answers to what it stored have gone) its connections, with
   * 1012 ("service restart") and `reason`: its clients reconnect and resume on a hub opened
   * afresh (with rules changed since, say).
   */
  closeAndDrop(reason: string): void {
    const peers = [...this.peers.keys()];
    this.close();
    setImmediate(() => {
      for (const peer of peers) peer.drop(reason, SERVICE_RESTART);
    });
  }

  close(): void {
    if (this.commits.isClosed) return;
    // A large push being merged is rolled back (its client pushes it again); the group commit
    // then has the database to itself.
    this.commits.drain();
    // A failed commit may have closed the hub already (see `onFailure`).
    if (this.commits.isClosed) return;
    this.commits.isClosed = true;
    for (const peer of [...this.peers.keys()]) this.detach(peer);
    this.subscriptions.dispose();
    this.db.close();
  }

  /**
   * Applies stored triples to the replica and sends them on. `unheld`: documents to send whole to
   * their pushers (see `unheldWrites`), read before the push reached the replica.
   */
  private route(
    applied: readonly Triple[],
    origins: Map<Triple, PeerState | undefined>,
    cursor: string,
    unheld: Map<PeerState, Map<string, Triple>> = this.fanOut.unheldWrites(origins),
  ): void {
    this.writes.add(applied.length);
    if (applied.length === 0 && unheld.size === 0) return;
    // The replica's commit runs the live views; their effects collect the groups whose result changed.
    try {
      this.store.transact(() => {
        for (const triple of applied) this.store.applyTriple(triple);
      });
    } catch {
      this.subscriptions.rebuildViews();
    }
    this.subscriptions.stopFailedGroups();
    this.fanOut.send(applied, origins, cursor, unheld);
  }
}
