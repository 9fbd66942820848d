import { effect } from "@preact/signals-core";
import {
  type Clock,
  createClock,
  type DatabaseResult,
  encodeHlc,
  fail,
  LiveQueryRegistry,
  type NormalizedQuery,
  type QueryCostError,
  type QueryCostOptions,
  type RoomAddress,
  relatedFilters,
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
import { RuleReach } from "./permissions/rule-reach.js";
import type { Log } from "./log.js";
import type { Peer } from "./peer.js";
import {
  ANONYMOUS,
  docKey,
  type PeerAbout,
  type Holders,
  type PeerState,
  type QueryGroup,
  unlearn,
} from "./peer-state.js";
import { type QuerySnapshot, type SnapshotSource, takeSnapshot } from "./query-snapshot.js";
import { groupQuery, readableQuery } from "./read-access.js";
import { neededDocs, shownBy, withIds } from "./result-documents.js";
import { RoomHub } from "./rooms.js";
import { snapshotParts } from "./snapshot-parts.js";

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
 * subscribers (see docs/design/009).
 */
export class AppHub {
  private readonly store = new TripleStore();
  private registry: LiveQueryRegistry;
  private readonly clock: Clock = createClock({ node: "server" });
  private readonly groups = new Map<string, QueryGroup>();
  private readonly peers = new Map<Peer, PeerState>();
  private readonly holders: Holders = new Map();
  private readonly dirtyGroups = new Set<QueryGroup>();
  /** Groups whose live result became too costly in the last commit. */
  private readonly failedGroups = new Map<QueryGroup, QueryCostError>();
  private readonly fanOut: FanOut;
  private readonly commits: GroupCommit;

  private constructor(
    readonly appId: string,
    private readonly db: AppDatabase,
    private readonly options: HubOptions,
  ) {
    this.registry = new LiveQueryRegistry(this.store, { maxQueryCost: options.maxQueryCost });
    this.store.transact(() => {
      for (const triple of db.allTriples()) this.store.applyTriple(triple);
    });
    this.ruleReach = this.followRuleReach();
    this.fanOut = new FanOut(
      db,
      this.store,
      options.permissions,
      this.peers,
      this.holders,
      this.groups,
      this.dirtyGroups,
      this.rooms,
      () => this.ruleReach,
    );
    this.commits = new GroupCommit(appId, db, this.clock, options, {
      isAttached: (state) => this.peers.get(state.peer) === state,
      unheldWrites: (origins) => this.fanOut.unheldWrites(origins),
      route: (applied, origins, cursor, unheld) => this.route(applied, origins, cursor, unheld),
      peers: () => [...this.peers.keys()],
    });
  }

  /** What snapshots of this app's queries are read from. */
  private get snapshotSource(): SnapshotSource {
    return {
      db: this.db,
      store: this.store,
      permissions: this.options.permissions,
      rulesChangedAt: this.options.rulesChangedAt,
      ruleReach: this.ruleReach,
      holders: this.holders,
    };
  }

  /** Hears changes that alter who may read documents of other collections (rules through relations). */
  private ruleReach: RuleReach | undefined;

  private followRuleReach(): RuleReach | undefined {
    const structures = this.options.permissions?.readRuleStructures();
    if (structures === undefined || structures.size === 0) return undefined;
    return this.registry.acquireView("rule-reach", () => new RuleReach(structures, this.store));
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
    return { connections: this.peers.size, liveQueries: this.groups.size, writesPerSecond: this.writes.perSecond() };
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
    const state = this.peers.get(peer);
    if (state === undefined) return;
    if (cursor !== null && !AppDatabase.isCursor(cursor)) {
      peer.send({
        type: "error",
        code: "PROTOCOL",
        message: `Malformed cursor ${JSON.stringify(cursor)}.`,
        details: { queryId },
      });
      return;
    }
    if (state.queries.has(queryId)) this.unsubscribe(peer, queryId);
    let group: QueryGroup;
    try {
      group = this.groupOf(groupQuery(this.options.permissions, withIds(query), state.user));
    } catch (error) {
      peer.send({
        type: "error",
        code: "VALIDATION",
        message: `Could not run query "${queryId}": ${(error as Error).message}`,
        details: { queryId },
      });
      return;
    }
    let ids = group.subscribers.get(state);
    if (ids === undefined) group.subscribers.set(state, (ids = new Set()));
    ids.add(queryId);
    state.queries.set(queryId, group);
    let snapshot: QuerySnapshot;
    try {
      snapshot = takeSnapshot(
        this.snapshotSource,
        group.live,
        cursor,
        state,
        state.user,
        cursor === null ? undefined : held,
      );
    } catch (error) {
      // Leave nothing behind of a subscription whose snapshot could not be sent.
      this.unsubscribe(peer, queryId);
      throw error;
    }
    const parts = snapshotParts(snapshot.triples, this.options.snapshotPartTriples ?? 20_000);
    const last = parts.pop()!;
    const total = last.documents + parts.reduce((sum, part) => sum + part.documents, 0);
    let sent = 0;
    for (const part of parts) {
      sent += part.documents;
      peer.send({ type: "snapshotPart", queryId, triples: part.triples, documents: sent, total });
    }
    peer.send({ type: "snapshot", queryId, ...snapshot, triples: last.triples });
  }

  unsubscribe(peer: Peer, queryId: string): void {
    const state = this.peers.get(peer);
    const group = state?.queries.get(queryId);
    if (state === undefined || group === undefined) return;
    state.queries.delete(queryId);
    const ids = group.subscribers.get(state)!;
    ids.delete(queryId);
    if (ids.size === 0) {
      group.subscribers.delete(state);
      this.forgetShownBy(state, group);
    }
    if (group.subscribers.size === 0) {
      group.stop();
      this.registry.release(group.live);
      this.groups.delete(group.key);
      this.dirtyGroups.delete(group);
    }
  }

  /** A one-shot snapshot (HTTP initial load and preload). */
  query(query: NormalizedQuery, cursor: string | null, user: RuleUser = ANONYMOUS): DatabaseResult<QuerySnapshot> {
    if (cursor !== null && !AppDatabase.isCursor(cursor))
      return fail("PROTOCOL", `Malformed cursor ${JSON.stringify(cursor)}.`);
    try {
      const live = this.registry.acquire(readableQuery(this.options.permissions, withIds(query), user));
      try {
        return ok(takeSnapshot(this.snapshotSource, live, cursor, undefined, user));
      } finally {
        this.registry.release(live);
      }
    } catch (error) {
      return fail("VALIDATION", `Could not run the query: ${(error as Error).message}`);
    }
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
    this.registry.dispose();
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
      this.rebuildViews();
    }
    this.stopFailedGroups();
    this.fanOut.send(applied, origins, cursor, unheld);
  }

  private groupOf({ query, isFiltered }: { query: NormalizedQuery; isFiltered: boolean }): QueryGroup {
    const key = `${isFiltered ? "filtered:" : ""}${JSON.stringify(query)}`;
    const existing = this.groups.get(key);
    if (existing !== undefined) return existing;
    const live = this.registry.acquire(query);
    const hasFilters = relatedFilters(query.where).length > 0;
    const group: QueryGroup = {
      key,
      live,
      subscribers: new Map(),
      stop: () => {},
      shown: new Set(shownBy(live, this.store)),
      isFiltered,
      hasFilters,
    };
    group.stop = this.follow(group);
    this.groups.set(key, group);
    return group;
  }

  /** Marks the group dirty whenever its live result changes, or failed when it became too costly; returns the stop. */
  private follow(group: QueryGroup): () => void {
    const { live } = group;
    let isFirst = true;
    return effect(() => {
      void live.result.value;
      // What its filters reach can change while the result does not: clients need those documents.
      void live.filterReach.value;
      const failure = live.failure.value;
      if (isFirst) isFirst = false;
      else if (failure === undefined) this.dirtyGroups.add(group);
      else this.failedGroups.set(group, failure);
    });
  }

  /** Ends every subscription of a group that can no longer run, telling each subscriber why. */
  private stopFailedGroups(): void {
    for (const [group, failure] of this.failedGroups) {
      this.dirtyGroups.delete(group);
      for (const [state, queryIds] of [...group.subscribers]) {
        for (const queryId of [...queryIds]) {
          this.unsubscribe(state.peer, queryId);
          state.peer.send({
            type: "error",
            code: "VALIDATION",
            message: `Stopped query "${queryId}": ${failure.message}`,
            details: { ...failure.details, queryId },
          });
        }
      }
    }
    this.failedGroups.clear();
  }

  /**
   * A live view threw in a commit: a query that passed the shape check but that the engine cannot
   * evaluate on the new data (say `notIn` on a set with an operand that is not a list). The commit
   * then did not reach every view, so each is built again from the replica; a query that fails
   * again is dropped with an error to its subscribers. Rebuilt groups count as changed, so the
   * documents now in their results are sent to whoever lacks them.
   */
  private rebuildViews(): void {
    this.registry.dispose();
    this.registry = new LiveQueryRegistry(this.store, { maxQueryCost: this.options.maxQueryCost });
    this.ruleReach = this.followRuleReach();
    for (const group of [...this.groups.values()]) {
      group.stop();
      try {
        group.live = this.registry.acquire(group.live.query);
      } catch (error) {
        this.groups.delete(group.key);
        this.dirtyGroups.delete(group);
        for (const [state, queryIds] of group.subscribers) {
          for (const queryId of queryIds) {
            state.queries.delete(queryId);
            const message = `Stopped query "${queryId}": it cannot run on the app's data: ${(error as Error).message}`;
            state.peer.send({ type: "error", code: "VALIDATION", message, details: { queryId } });
          }
        }
        continue;
      }
      group.stop = this.follow(group);
      this.dirtyGroups.add(group);
    }
  }

  /** Documents that `group` shows and no other query of the connection shows stop following it. */
  private forgetShownBy(state: PeerState, group: QueryGroup): void {
    const stillShown = new Set<string>();
    for (const other of new Set(state.queries.values())) {
      for (const [collection, id] of neededDocs(other.live, this.store)) stillShown.add(docKey(collection, id));
    }
    for (const [collection, id] of neededDocs(group.live, this.store)) {
      const key = docKey(collection, id);
      if (!stillShown.has(key)) unlearn(this.holders, state, key);
    }
  }
}
