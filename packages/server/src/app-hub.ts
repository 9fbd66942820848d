import { effect } from "@preact/signals-core";
import {
  collectionsOf,
  compileWhere,
  AUTO_FIELD_SPECS,
  type Clock,
  createClock,
  type DatabaseResult,
  decodeHlc,
  encodeHlc,
  fail,
  type LiveQuery,
  LiveQueryRegistry,
  type NormalizedQuery,
  type QueryCostError,
  type QueryCostOptions,
  type RoomAddress,
  type DocumentRef,
  type Condition,
  relatedFilters,
  type RowTest,
  ok,
  type ServerMessage,
  type Triple,
  TripleStore,
  reachedDocuments,
  resultDocuments,
} from "@trellis/core";
import { AppDatabase, type ApplyBatchesResult, type LargeWrite } from "./app-database.js";
import { RateWindow } from "./apps/rate-window.js";
import { checkAuthorship } from "./authorship.js";
import type { Checkpointer } from "./checkpointer.js";
import type { FaultHook } from "./faults.js";
import type { Permissions, RuleUser } from "./permissions/permissions.js";
import { RuleReach } from "./permissions/rule-reach.js";
import type { Log } from "./log.js";
import type { Peer } from "./peer.js";
import { RoomHub } from "./rooms.js";

/** Where a hub sends a connection's messages. */
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

/** What the hub remembers of one connection: its live queries and the documents it holds. */
interface PeerState {
  readonly peer: Peer;
  /** Whom the connection is for, as permission rules see it. */
  readonly user: RuleUser;
  /** Its read rule per collection, compiled on first use. */
  readonly readTests: Map<string, boolean | RowTest>;
  /**
   * Documents sent to this peer in full (`collection\0id`); their later changes follow them until
   * an unsubscribe leaves no query of the peer showing them.
   */
  readonly known: Set<string>;
  readonly queries: Map<string, QueryGroup>;
  /** The client it syncs (its hello's client id) and since when, for the admin API. */
  readonly about: PeerAbout | undefined;
}

/** What the admin API shows of a connection besides its user. */
export interface PeerAbout {
  readonly clientId: string;
  /** When it was attached, in epoch ms. */
  readonly since: number;
}

/** Client ids remembered per app with the user they connected as, for the dashboard's "who wrote it". */
const MAX_KNOWN_WRITERS = 10_000;

/** Every subscription of one (normalized) query, across connections: one live view for all. */
interface QueryGroup {
  readonly key: string;
  /** Replaced, with `stop`, when the views are rebuilt after a failed commit. */
  live: LiveQuery;
  readonly subscribers: Map<PeerState, Set<string>>;
  stop: () => void;
  /**
   * The documents (`collection\0id`) the result showed when it was last routed. Every subscriber
   * holds each of them it may read (a subscriber learns the readable part of the result with its
   * snapshot, and documents entering it later are sent), so a change of the result only needs
   * its entering documents checked, and a change of readability the changed documents.
   */
  shown: Set<string>;
  /** Its query filters through relations: what they reach is sent too, each checked for the user. */
  readonly hasFilters: boolean;
  /**
   * Shared by subscribers whose read rules differ (see `groupQuery`): each gets only the
   * documents it may read, decided per document as they are sent.
   */
  readonly isFiltered: boolean;
}

interface PendingPush {
  readonly origin: PeerState | undefined;
  readonly triples: readonly Triple[];
  readonly done: (result: DatabaseResult<{ cursor: string }>) => void;
}

/** A snapshot of a query: the triples a client needs and the cursor to resume from. */
export interface QuerySnapshot {
  readonly triples: Triple[];
  readonly cursor: string;
  /** Documents changed since the cursor that the user may no longer read (the client drops them). */
  readonly revoked?: DocumentRef[];
}

const docKey = (collection: string, id: string): string => `${collection}\u0000${id}`;

/**
 * A snapshot's triples cut into parts of at least `size` triples, each ending at a document's
 * end (a document's triples are consecutive), with their document counts; the last part holds
 * the rest (one part when all fit).
 */
export function snapshotParts(
  triples: readonly Triple[],
  size: number,
): Array<{ triples: Triple[]; documents: number }> {
  const parts: Array<{ triples: Triple[]; documents: number }> = [];
  let current: Triple[] = [];
  let documents = 0;
  for (let index = 0; index < triples.length; index++) {
    const triple = triples[index]!;
    current.push(triple);
    const next = triples[index + 1];
    const endsDocument = next === undefined || next.id !== triple.id || next.collection !== triple.collection;
    if (!endsDocument) continue;
    documents++;
    if (current.length >= size && next !== undefined) {
      parts.push({ triples: current, documents });
      current = [];
      documents = 0;
    }
  }
  parts.push({ triples: current, documents });
  return parts;
}

/** Rules see an unauthenticated connection as a user without id or claims. */
const ANONYMOUS: RuleUser = { id: null, claims: {} };

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
  private readonly holders = new Map<string, Set<PeerState>>();
  private readonly dirtyGroups = new Set<QueryGroup>();
  /** Groups whose live result became too costly in the last commit. */
  private readonly failedGroups = new Map<QueryGroup, QueryCostError>();
  private queue: PendingPush[] = [];
  private flushScheduled = false;
  /** Large pushes, stored one after another (see `storeLarge`). */
  private large: Promise<void> | undefined;
  private isStoringLarge = false;
  /** The transaction of the large push being merged, rolled back if the app closes meanwhile. */
  private largeWrite: LargeWrite | undefined;
  private closed = false;

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

  private get sliceTriples(): number {
    return this.options.sliceTriples ?? 2_000;
  }

  /** The app's rooms (in memory only); events are stamped with this hub's clock. */
  readonly rooms = new RoomHub(() => this.now());

  /**
   * Whether `user` may read a document as the replica holds it now. A deleted or unknown one
   * counts as readable: its tombstone tells a client holding it that it is gone.
   */
  private canRead(
    user: RuleUser,
    collection: string,
    id: string,
    tests: Map<string, boolean | RowTest> = new Map(),
  ): boolean {
    const permissions = this.options.permissions;
    if (permissions === undefined || !permissions.isEnforced || user.isPrivileged === true) return true;
    let test = tests.get(collection);
    if (test === undefined) {
      const readable = permissions.readConditions(collection, user);
      tests.set(collection, (test = typeof readable === "boolean" ? readable : compileWhere(readable, {}, this.store)));
    }
    if (typeof test === "boolean") return test;
    const table = this.store.table(collection);
    const row = table?.rowOf(id);
    return row === undefined || test(table!, row);
  }

  /**
   * Documents that stayed in a shared group's result but became readable to some of its
   * subscribers (shared with them): sent whole to those, who follow them from now on.
   */
  private sendNewlyReadable(
    applied: readonly DocumentRef[],
    readableBy: (state: PeerState, collection: string, id: string, key: string) => boolean,
    send: (state: PeerState, triples: readonly Triple[]) => void,
  ): void {
    // Only rules make shared groups: without them no push pays for looking.
    if (!(this.options.permissions?.isEnforced ?? false)) return;
    const filtered = [...this.groups.values()].filter((group) => group.isFiltered);
    if (filtered.length === 0) return;
    const seen = new Set<string>();
    for (const { collection, id } of applied) {
      const key = docKey(collection, id);
      if (seen.has(key)) continue;
      seen.add(key);
      let triples: Triple[] | undefined;
      for (const group of filtered) {
        if (!group.shown.has(key)) continue;
        for (const state of group.subscribers.keys()) {
          if (state.known.has(key) || !readableBy(state, collection, id, key)) continue;
          triples ??= this.db.document(collection, id).triples;
          send(state, triples);
          this.learn(state, key);
        }
      }
    }
  }

  /**
   * Documents that left a result with relational filters may have left because of a document
   * their filters reach that the subscriber lacks (a new match under a `not`): each subscriber
   * holding a left document gets what it reaches now, so its own copy of the query drops it too.
   */
  private sendWhatLeftReaches(
    group: QueryGroup,
    shown: ReadonlySet<string>,
    readableBy: (state: PeerState, collection: string, id: string, key: string) => boolean,
    send: (state: PeerState, triples: readonly Triple[]) => void,
  ): void {
    const { query } = group.live;
    const prefix = docKey(query.collection, "");
    for (const left of group.shown) {
      if (shown.has(left) || !left.startsWith(prefix)) continue;
      const holders = [...group.subscribers.keys()].filter((state) => state.known.has(left));
      if (holders.length === 0) continue;
      for (const [collection, id] of reachedDocuments(query, left.slice(prefix.length), this.store)) {
        const key = docKey(collection, id);
        let triples: Triple[] | undefined;
        for (const state of holders) {
          if (state.known.has(key) || !readableBy(state, collection, id, key)) continue;
          triples ??= this.db.document(collection, id).triples;
          send(state, triples);
          this.learn(state, key);
        }
      }
    }
  }

  /**
   * Removes from the rooms of changed documents (join rule `{ readable }`) the connections whose
   * user may no longer read the document: the others see the user leave, it gets UNAUTHORIZED.
   */
  private expelUnreadableMembers(
    applied: readonly DocumentRef[],
    readableBy: (state: PeerState, collection: string, id: string, key: string) => boolean,
  ): void {
    const permissions = this.options.permissions;
    if (permissions === undefined || !permissions.isEnforced || this.rooms.size === 0) return;
    const seen = new Set<string>();
    for (const { collection, id } of applied) {
      const key = docKey(collection, id);
      if (seen.has(key)) continue;
      seen.add(key);
      for (const roomType of permissions.roomTypesReading(collection)) {
        const address = { roomType, roomId: id };
        for (const peer of this.rooms.connectionsIn(address)) {
          const state = this.peers.get(peer);
          if (state === undefined || readableBy(state, collection, id, key)) continue;
          this.rooms.leave(peer, address);
          peer.send({
            type: "error",
            code: "UNAUTHORIZED",
            message: `This user may no longer read ${collection}/${id}, so it left the room ${roomType} ${JSON.stringify(id)}.`,
            details: address,
          });
        }
      }
    }
  }

  /**
   * The documents whose readability changes of other documents may have altered since the last
   * call (see `RuleReach`); after a bulk commit, every held document of the collections affected.
   */
  private takeRuleReach(): DocumentRef[] {
    if (this.ruleReach === undefined) return [];
    const { documents, collections } = this.ruleReach.take();
    if (collections.size === 0) return documents;
    const all = [...documents];
    for (const key of this.holders.keys()) {
      const [collection, id] = key.split("\u0000") as [string, string];
      if (collections.has(collection)) all.push({ collection, id });
    }
    return all;
  }

  /** Whether `user` may join a room (see `Permissions.mayJoin`). */
  mayJoin(roomType: string, roomId: string, user: RuleUser): boolean {
    return this.options.permissions?.mayJoin(roomType, roomId, user, this.store) ?? true;
  }

  /**
   * The query as `user` may run it: at every level whose collection the user may not read, a
   * condition no document meets, so those documents read as missing (an empty result, or
   * relations without them).
   */
  private readableBy(query: NormalizedQuery, user: RuleUser): NormalizedQuery {
    const permissions = this.options.permissions;
    if (permissions === undefined || !permissions.isEnforced || user.isPrivileged === true) return query;
    const ruleOf = (collection: string): Condition[] => {
      const readable = permissions.readConditions(collection, user);
      return readable === true ? [] : readable === false ? [{ or: [] }] : readable;
    };
    // A relational filter sees only documents the user may read: it cannot probe the others.
    const restrictFilters = (where: readonly Condition[]): Condition[] =>
      where.map((condition) => {
        if ("or" in condition) return { or: condition.or.map(restrictFilters) };
        if ("not" in condition) return { not: restrictFilters(condition.not) };
        if (!("related" in condition)) return condition;
        const { related } = condition;
        return { related: { ...related, where: [...restrictFilters(related.where), ...ruleOf(related.collection)] } };
      });
    const restrict = (level: NormalizedQuery): NormalizedQuery => {
      const where = [...restrictFilters(level.where), ...ruleOf(level.collection)];
      const relations = level.relations?.map((relation) => ({ ...relation, query: restrict(relation.query) }));
      return relations === undefined ? { ...level, where } : { ...level, where, relations };
    };
    return restrict(query);
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
    for (const key of state.known) this.unlearn(state, key);
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
      group = this.groupOf(this.groupQuery(withIds(query), state.user));
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
      snapshot = this.snapshot(group.live, cursor, state, state.user, cursor === null ? undefined : held);
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
      const live = this.registry.acquire(this.readableBy(withIds(query), user));
      try {
        return ok(this.snapshot(live, cursor, undefined, user));
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
    if (this.closed) return Promise.resolve(fail("STORAGE", `App "${this.appId}" is closing.`));
    // Privileged server code may write as anyone (a document's createdBy still cannot change).
    if (user.isPrivileged !== true) {
      const authored = checkAuthorship(triples, user.id);
      if (authored.error) return Promise.resolve(authored);
      const permitted = this.options.permissions?.checkWrites(this.store, triples, user);
      if (permitted?.error) return Promise.resolve(permitted);
    }
    const origin = peer === undefined ? undefined : this.peers.get(peer);
    return new Promise((done) => {
      if (triples.length > this.sliceTriples) {
        // One at a time, each over several turns; group commits wait for it (see `storeLarge`).
        this.large = (this.large ?? Promise.resolve()).then(() => this.storeLarge({ origin, triples, done }));
        return;
      }
      this.queue.push({ origin, triples, done });
      this.scheduleCommit();
    });
  }

  private scheduleCommit(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.commit());
  }

  /**
   * Stores and routes a push of more than `sliceTriples` triples over several event-loop turns,
   * a slice per turn, so other apps (and this app's readers) are served meanwhile: its clocks are
   * checked, then it is merged in a transaction of its own that readers do not see until it
   * commits (one push stays all or nothing), then applied to the replica and routed. This app's
   * group commits wait until it is done, so its writes stay in order with the replica.
   */
  private async storeLarge(push: PendingPush): Promise<void> {
    this.isStoringLarge = true;
    try {
      const stored = await this.mergeLarge(push.triples);
      if (stored.error) return push.done(stored);
      const origin =
        push.origin !== undefined && this.peers.get(push.origin.peer) === push.origin ? push.origin : undefined;
      const { applied } = stored.data;
      // Documents the pusher wrote without holding them are read once, before any slice reaches
      // the replica, over every pushed triple (the ones that lost to a delete above all), and
      // sent whole with the last slice.
      const unheld =
        origin === undefined ? new Map() : this.unheldWrites(new Map(push.triples.map((triple) => [triple, origin])));
      const slices = Math.max(1, Math.ceil(applied.length / this.sliceTriples));
      for (let index = 0; index < slices && !this.closed; index++) {
        const slice = applied.slice(index * this.sliceTriples, (index + 1) * this.sliceTriples);
        this.options.fault?.("route");
        this.route(
          slice,
          new Map(slice.map((triple) => [triple, origin])),
          stored.data.cursor,
          index === slices - 1 ? unheld : new Map(),
        );
        await nextTurn();
      }
      // Acknowledged once the replica holds all of it, so a query after the ack reads the push.
      push.done(ok({ cursor: stored.data.cursor }));
    } catch (error) {
      this.fail(error, [push]);
    } finally {
      this.isStoringLarge = false;
      if (this.queue.length > 0) this.scheduleCommit();
    }
  }

  /** The durable part of {@link storeLarge}: nothing of the push is stored unless all of it is. */
  private async mergeLarge(triples: readonly Triple[]): Promise<DatabaseResult<{ applied: Triple[]; cursor: string }>> {
    for (let from = 0; from < triples.length; from += this.sliceTriples) {
      const refused = this.checkClocks(triples.slice(from, from + this.sliceTriples));
      if (refused) return refused;
      await nextTurn();
    }
    this.options.fault?.("commit");
    const write = this.db.beginLargeWrite();
    if (write.error) return write;
    this.largeWrite = write.data;
    try {
      const applied: Triple[] = [];
      for (let from = 0; from < triples.length; from += this.sliceTriples) {
        if (this.closed)
          return fail(
            "STORAGE",
            `App "${this.appId}" closed while the batch was stored; nothing of it was. Push it again.`,
          );
        const merged = write.data.apply(triples.slice(from, from + this.sliceTriples));
        if (merged.error) return merged;
        for (const triple of merged.data) applied.push(triple);
        await write.data.flush();
      }
      const cursor = write.data.commit();
      if (cursor.error) return cursor;
      this.options.checkpointer?.written(this.db.file);
      return ok({ applied, cursor: cursor.data });
    } finally {
      write.data.abandon();
      this.largeWrite = undefined;
    }
  }

  /**
   * The group commit, behind this app's error boundary: a throw here is a bug that may have left
   * the replica or the routing state out of step with the database, so every push still waiting
   * is answered INTERNAL, every connection is dropped (clients reconnect and resume from their
   * cursors) and the hub asks to be opened again. Other apps never notice.
   */
  private commit(): void {
    // Taken here as well as in `flush`: a throw there must still answer every push of this turn.
    const pushes = this.queue;
    try {
      this.flush();
    } catch (error) {
      this.fail(error, pushes);
    }
  }

  /** A bug hit this app: answers the pushes still waiting, drops every connection, asks to be reopened. */
  private fail(error: unknown, pushes: readonly PendingPush[]): void {
    this.options.log?.("error", "An app failed while committing; its connections are dropped and it is reopened", {
      appId: this.appId,
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    const internal = fail("INTERNAL", "The server failed while storing this batch; see its log. Push it again.");
    for (const push of [...pushes, ...this.queue]) push.done(internal);
    this.queue = [];
    // After the answers (acks of batches already stored included) reach their connections.
    const peers = [...this.peers.keys()];
    setImmediate(() => {
      for (const peer of peers) peer.drop("internal error");
    });
    this.options.onFailure?.();
  }

  /** Commits queued pushes, then closes the database. */
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
    if (this.closed) return;
    // A large push being merged is rolled back (its client pushes it again); the group commit
    // then has the database to itself.
    this.largeWrite?.abandon();
    this.isStoringLarge = false;
    this.commit();
    // A failed commit may have closed the hub already (see `onFailure`).
    if (this.closed) return;
    this.closed = true;
    for (const peer of [...this.peers.keys()]) this.detach(peer);
    this.registry.dispose();
    this.db.close();
  }

  private flush(): void {
    this.flushScheduled = false;
    // Waits for a large push being stored; it schedules the commit again when done.
    if (this.isStoringLarge && !this.closed) return;
    const pushes = this.queue;
    this.queue = [];
    if (pushes.length === 0 || this.closed) return;
    this.options.fault?.("commit");
    const accepted: PendingPush[] = [];
    for (const push of pushes) {
      const refused = this.checkClocks(push.triples);
      if (refused) push.done(refused);
      else accepted.push(push);
    }
    if (accepted.length === 0) return;
    let outcomes: ApplyBatchesResult["outcomes"];
    let cursor: string;
    try {
      ({ outcomes, cursor } = this.db.applyBatches(accepted.map((push) => push.triples)));
    } catch (error) {
      // The commit itself failed (disk full, I/O error): nothing of any batch was stored.
      for (const push of accepted) push.done(fail("STORAGE", `Could not store the batch: ${(error as Error).message}`));
      return;
    }
    this.options.checkpointer?.written(this.db.file);
    const origins = new Map<Triple, PeerState | undefined>();
    const applied: Triple[] = [];
    accepted.forEach((push, index) => {
      const outcome = outcomes[index]!;
      if (outcome.error) return push.done({ data: undefined, error: outcome.error });
      push.done(ok({ cursor }));
      // A connection that ended since it pushed follows nothing any more.
      const origin =
        push.origin !== undefined && this.peers.get(push.origin.peer) === push.origin ? push.origin : undefined;
      for (const triple of push.triples) origins.set(triple, origin);
      for (const triple of outcome.data) applied.push(triple);
    });
    this.options.fault?.("route");
    this.route(applied, origins, cursor);
  }

  /** Folds every HLC into the server clock; a reading far ahead refuses the whole batch. */
  private checkClocks(triples: readonly Triple[]): DatabaseResult<never> | undefined {
    for (const triple of triples) {
      const hlc = decodeHlc(triple.hlc);
      if (hlc.error) return hlc;
      const received = this.clock.receive(hlc.data);
      if (received.error) return received;
    }
    return undefined;
  }

  /**
   * Applies stored triples to the replica and sends them on. `unheld`: documents to send whole to
   * their pushers (see `unheldWrites`), read before the push reached the replica.
   */
  private route(
    applied: readonly Triple[],
    origins: Map<Triple, PeerState | undefined>,
    cursor: string,
    unheld: Map<PeerState, Map<string, Triple>> = this.unheldWrites(origins),
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
    const outgoing = new Map<PeerState, Triple[]>();
    const send = (state: PeerState, triples: readonly Triple[]) => {
      let list = outgoing.get(state);
      if (list === undefined) outgoing.set(state, (list = []));
      for (const triple of triples) list.push(triple);
    };
    // A document a connection may no longer read (its read rule depends on the fields that
    // changed) stops following it: nothing more of it is sent. Decided once per document.
    const mayRead = new Map<PeerState, Map<string, boolean>>();
    const readableBy = (state: PeerState, collection: string, id: string, key: string): boolean => {
      let decided = mayRead.get(state);
      if (decided === undefined) mayRead.set(state, (decided = new Map()));
      let isReadable = decided.get(key);
      if (isReadable === undefined)
        decided.set(key, (isReadable = this.canRead(state.user, collection, id, state.readTests)));
      return isReadable;
    };
    // Who lost access to a document it holds (the pusher holds what it wrote): it drops it.
    const revoked = new Map<PeerState, Map<string, DocumentRef>>();
    const revoke = (state: PeerState, collection: string, id: string, key: string) => {
      this.unlearn(state, key);
      let documents = revoked.get(state);
      if (documents === undefined) revoked.set(state, (documents = new Map()));
      documents.set(key, { collection, id });
    };
    for (const triple of applied) {
      const { collection, id } = triple;
      const key = docKey(collection, id);
      const origin = origins.get(triple);
      for (const holder of [...(this.holders.get(key) ?? [])]) {
        if (holder === origin) continue;
        if (readableBy(holder, collection, id, key)) send(holder, [triple]);
        else revoke(holder, collection, id, key);
      }
      // Later changes of the document follow its pusher, while it may read it.
      if (origin === undefined) continue;
      if (readableBy(origin, collection, id, key)) this.learn(origin, key);
      else revoke(origin, collection, id, key);
    }
    // Documents whose readability a change of other documents may have altered (rules through
    // relations): holders that lost access drop them; their holders' other changes were sent above.
    const reached = this.takeRuleReach();
    for (const { collection, id } of reached) {
      const key = docKey(collection, id);
      for (const holder of [...(this.holders.get(key) ?? [])])
        if (!readableBy(holder, collection, id, key)) revoke(holder, collection, id, key);
    }
    for (const group of this.dirtyGroups) {
      const shown = new Set<string>();
      // What relational filters reach is checked too: under a `not` it may be unreadable.
      const checksEach = group.isFiltered || group.hasFilters;
      for (const [collection, id] of neededDocs(group.live, this.store)) {
        const key = docKey(collection, id);
        shown.add(key);
        // Checking only entering documents keeps a write O(result), not O(result x subscribers).
        if (group.shown.has(key)) continue;
        let triples: Triple[] | undefined;
        for (const state of group.subscribers.keys()) {
          if (state.known.has(key)) continue;
          if (checksEach && !readableBy(state, collection, id, key)) continue;
          triples ??= this.db.document(collection, id).triples;
          send(state, triples);
          this.learn(state, key);
        }
      }
      if (checksEach && !group.isFiltered) this.sendWhatLeftReaches(group, shown, readableBy, send);
      group.shown = shown;
    }
    this.dirtyGroups.clear();
    const changed = reached.length === 0 ? applied : [...applied, ...reached];
    this.sendNewlyReadable(changed, readableBy, send);
    for (const [state, docs] of unheld) {
      for (const [key, { collection, id }] of docs) {
        if (!readableBy(state, collection, id, key)) continue;
        send(state, this.db.document(collection, id).triples);
        this.learn(state, key);
      }
    }
    this.expelUnreadableMembers(changed, readableBy);
    // Connections that get the same triples (a change fanned out) share one serialization.
    const numbers = new Map<Triple, number>();
    const numberOf = (triple: Triple) => numbers.get(triple) ?? numbers.set(triple, numbers.size).size - 1;
    const texts = new Map<string, string>();
    for (const [state, triples] of outgoing) {
      if (revoked.has(state)) continue;
      const message: ServerMessage = { type: "changes", triples, cursor };
      const signature = triples.map(numberOf).join(",");
      let text = texts.get(signature);
      if (text === undefined) texts.set(signature, (text = JSON.stringify(message)));
      state.peer.send(message, text);
    }
    for (const [state, documents] of revoked) {
      state.peer.send({
        type: "changes",
        triples: outgoing.get(state) ?? [],
        cursor,
        revoked: [...documents.values()],
      });
    }
  }

  /**
   * Documents that existed before this batch and that a pusher wrote without holding them on its
   * connection (they left its results while it was away): it may have missed their changes since,
   * and its write may have lost to them (or to a delete), so it gets each whole once the batch is
   * stored. Read before the batch reaches the replica. New documents need nothing: the pusher wrote them.
   */
  private unheldWrites(origins: Map<Triple, PeerState | undefined>): Map<PeerState, Map<string, Triple>> {
    const unheld = new Map<PeerState, Map<string, Triple>>();
    for (const [triple, origin] of origins) {
      if (origin === undefined) continue;
      const key = docKey(triple.collection, triple.id);
      if (origin.known.has(key) || this.store.table(triple.collection)?.anyRowOf(triple.id) === undefined) continue;
      let docs = unheld.get(origin);
      if (docs === undefined) unheld.set(origin, (docs = new Map()));
      docs.set(key, triple);
    }
    return unheld;
  }

  /** What a client needs of a query now, from `cursor` on (null: everything), and the cursor after. */
  private snapshot(
    live: LiveQuery,
    cursor: string | null,
    state: PeerState | undefined,
    user: RuleUser,
    held?: readonly string[],
  ): QuerySnapshot {
    const out: Triple[] = [];
    const revoked = new Map<string, DocumentRef>();
    const needed = new Set<string>();
    const query = live.query;
    // A limited or relational result can gain documents that did not change themselves, and so
    // can any result once the rules changed after the cursor (documents become readable).
    const changedRules = this.options.rulesChangedAt;
    const isBeforeRules = cursor !== null && changedRules !== undefined && Number(cursor) <= changedRules;
    const sendWholeResult =
      cursor === null || isBeforeRules || query.limit !== undefined || query.relations !== undefined;
    const tests = state?.readTests ?? new Map<string, boolean | RowTest>();
    for (const [collection, id] of neededDocs(live, this.store)) {
      const key = docKey(collection, id);
      // A shared group's result holds documents of every subscriber; this one gets its own.
      if (!this.canRead(user, collection, id, tests)) continue;
      needed.add(key);
      if (state?.known.has(key)) continue;
      const document = this.db.document(collection, id, cursor);
      if (sendWholeResult || document.changed) for (const triple of document.triples) out.push(triple);
      if (state !== undefined) this.learn(state, key);
    }
    if (cursor !== null) {
      // Documents that left the result while the client was away: it sees them leave. Of those
      // it may not read any more, nothing is sent; it is told to drop those it was taken out of
      // (a set element naming the user, removed). Naming every unreadable document that changed
      // would tell anyone holding an old cursor the ids of documents it never could read.
      for (const collection of collectionsOf(query)) {
        for (const triple of this.db.collectionChangesSince(collection, cursor)) {
          const key = docKey(triple.collection, triple.id);
          if (needed.has(key) || revoked.has(key)) continue;
          if (this.canRead(user, triple.collection, triple.id, tests)) out.push(triple);
          else if (triple.element !== undefined && triple.element === user.id && triple.value === false)
            revoked.set(key, { collection: triple.collection, id: triple.id });
        }
      }
    }
    if (cursor !== null) this.revokedThroughRules(query, cursor, user, tests, needed, revoked);
    if (held !== undefined) this.revokedOfHeld(query.collection, held, user, tests, needed, revoked);
    const snapshot = { triples: out, cursor: this.db.cursor };
    return revoked.size === 0 ? snapshot : { ...snapshot, revoked: [...revoked.values()] };
  }

  /**
   * Documents a resuming client holds (`held`) that the user may no longer read, however it lost
   * them (an owner changed, a project deleted), or that the server does not hold at all: revoked.
   * It names only ids the client sent, and a document the server lacks reads as one the user may
   * not read, so the answer tells nothing about other documents.
   */
  private revokedOfHeld(
    collection: string,
    held: readonly string[],
    user: RuleUser,
    tests: Map<string, boolean | RowTest>,
    needed: ReadonlySet<string>,
    revoked: Map<string, DocumentRef>,
  ): void {
    if (!(this.options.permissions?.isEnforced ?? false)) return;
    const table = this.store.table(collection);
    for (const id of held) {
      const key = docKey(collection, id);
      if (needed.has(key) || revoked.has(key)) continue;
      const isHeldHere = table?.anyRowOf(id) !== undefined;
      if (!isHeldHere || !this.canRead(user, collection, id, tests)) revoked.set(key, { collection, id });
    }
  }

  /**
   * Documents of a resumed query that the user lost while away through a rule that reads other
   * documents: the user was taken out of a set the rule reads (a project's `memberIds`) since the
   * cursor, and a document that rule governs (one of the project's tasks), which existed then,
   * is no longer readable. Added to `revoked`; as for a document's own sets, nothing else is named.
   */
  private revokedThroughRules(
    query: NormalizedQuery,
    cursor: string,
    user: RuleUser,
    tests: Map<string, boolean | RowTest>,
    needed: ReadonlySet<string>,
    revoked: Map<string, DocumentRef>,
  ): void {
    const reach = this.ruleReach;
    if (reach === undefined || user.id === null) return;
    for (const collection of collectionsOf(query)) {
      for (const reached of new Set(reach.reachedFrom(collection))) {
        for (const triple of this.db.collectionChangesSince(reached, cursor)) {
          if (triple.element !== user.id || triple.value !== false) continue;
          for (const id of reach.ruledBy(collection, reached, triple.id)) {
            const key = docKey(collection, id);
            if (
              needed.has(key) ||
              revoked.has(key) ||
              this.canRead(user, collection, id, tests) ||
              !this.db.existedAt(collection, id, cursor)
            )
              continue;
            revoked.set(key, { collection, id });
          }
        }
      }
    }
  }

  /**
   * The query a subscription's group runs: one with no limit, window or relations is run as
   * asked and shared by every subscriber, each sent only the documents it may read (its result is
   * every match, so leaving out unreadable ones leaves exactly what the rule allows); any other
   * runs with the user's read rules in it, since its window (or what its relational filters may
   * see) depends on what the user may read.
   */
  private groupQuery(query: NormalizedQuery, user: RuleUser): { query: NormalizedQuery; isFiltered: boolean } {
    const isEnforced = this.options.permissions?.isEnforced ?? false;
    const isShareable =
      query.limit === undefined &&
      query.relations === undefined &&
      query.after === undefined &&
      query.before === undefined &&
      relatedFilters(query.where).length === 0;
    return isEnforced && isShareable
      ? { query, isFiltered: true }
      : { query: this.readableBy(query, user), isFiltered: false };
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
      if (!stillShown.has(key)) this.unlearn(state, key);
    }
  }

  private learn(state: PeerState, key: string): void {
    if (state.known.has(key)) return;
    state.known.add(key);
    let holders = this.holders.get(key);
    if (holders === undefined) this.holders.set(key, (holders = new Set()));
    holders.add(state);
  }

  private unlearn(state: PeerState, key: string): void {
    state.known.delete(key);
    const holders = this.holders.get(key);
    holders?.delete(state);
    if (holders?.size === 0) this.holders.delete(key);
  }
}

/** Resolves in a later turn of the event loop, after pending I/O. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The query with `id` selected at every level, so the server can tell which documents a result holds. */
function withIds(query: NormalizedQuery): NormalizedQuery {
  const select = query.select.includes("id") ? query.select : [...query.select, "id"];
  const specs = Object.hasOwn(query.specs, "id") ? query.specs : { ...query.specs, id: AUTO_FIELD_SPECS.id! };
  const relations = query.relations?.map((relation) => ({ ...relation, query: withIds(relation.query) }));
  return relations === undefined ? { ...query, select, specs } : { ...query, select, specs, relations };
}

/** The keys of every document a live result shows. */
function* shownBy(live: LiveQuery, store: TripleStore): Generator<string> {
  for (const [collection, id] of neededDocs(live, store)) yield docKey(collection, id);
}

/**
 * Every document a client needs to run a live result's query itself, as [collection, id], each
 * once: the documents it shows (related ones included) and those its relational filters reach.
 */
function neededDocs(live: LiveQuery, store: TripleStore): Generator<[string, string]> {
  return resultDocuments(live.query, live.result.value, store);
}
