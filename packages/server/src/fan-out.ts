import { type DocumentRef, reachedDocuments, type ServerMessage, type Triple, type TripleStore } from "@trellis/core";
import type { AppDatabase } from "./app-database.js";
import type { Permissions } from "./permissions/permissions.js";
import type { RuleReach } from "./permissions/rule-reach.js";
import type { Peer } from "./peer.js";
import { docKey, type Holders, learn, type PeerState, type QueryGroup, unlearn } from "./peer-state.js";
import { canRead } from "./read-access.js";
import { neededDocs } from "./result-documents.js";
import type { RoomHub } from "./rooms.js";

/**
 * The fan-out of an app's hub: after a commit reached the replica, each changed triple goes to the
 * connections holding its document, documents entering a live result go whole to its subscribers,
 * and connections that may no longer read a document drop it (see docs/design/009). It shares the
 * hub's maps, so routing costs no more than when it lived in the hub.
 *
 * @example
 * import { Subscriptions } from "./subscriptions.js";
 * const subscriptions = new Subscriptions(registry, store, db, peers, holders, {});
 * const { groups, dirtyGroups } = subscriptions;
 * const ruleReach = () => subscriptions.ruleReach;
 * const fanOut = new FanOut(db, store, undefined, peers, holders, groups, dirtyGroups, rooms, ruleReach);
 * // A write of the server's own (no connection pushed it): stored, applied to the replica, then sent on.
 * const origins = new Map(triples.map((triple) => [triple, undefined]));
 * const unheld = fanOut.unheldWrites(origins); // read before the replica has the write
 * const { applied, cursor } = db.apply(triples);
 * store.transact(() => applied.forEach((triple) => store.applyTriple(triple)));
 * fanOut.send(applied, origins, cursor, unheld); // a `changes` to each connection holding a changed document
 */
export class FanOut {
  constructor(
    private readonly db: AppDatabase,
    private readonly store: TripleStore,
    private readonly permissions: Permissions | undefined,
    private readonly peers: ReadonlyMap<Peer, PeerState>,
    private readonly holders: Holders,
    private readonly groups: ReadonlyMap<string, QueryGroup>,
    private readonly dirtyGroups: Set<QueryGroup>,
    private readonly rooms: RoomHub,
    /** The hub's rule reach, which is replaced when its views are rebuilt. */
    private readonly ruleReachOf: () => RuleReach | undefined,
  ) {}

  /**
   * Sends stored triples, already applied to the replica, to the connections that hold their
   * documents or whose live results they changed (the dirty groups). `unheld`: documents to send
   * whole to their pushers (see `unheldWrites`), read before the push reached the replica.
   */
  send(
    applied: readonly Triple[],
    origins: Map<Triple, PeerState | undefined>,
    cursor: string,
    unheld: Map<PeerState, Map<string, Triple>>,
  ): void {
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
        decided.set(
          key,
          (isReadable = canRead(this.permissions, this.store, state.user, collection, id, state.readTests)),
        );
      return isReadable;
    };
    // Who lost access to a document it holds (the pusher holds what it wrote): it drops it.
    const revoked = new Map<PeerState, Map<string, DocumentRef>>();
    const revoke = (state: PeerState, collection: string, id: string, key: string) => {
      unlearn(this.holders, state, key);
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
      if (readableBy(origin, collection, id, key)) learn(this.holders, origin, key);
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
          learn(this.holders, state, key);
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
        learn(this.holders, state, key);
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
  unheldWrites(origins: Map<Triple, PeerState | undefined>): Map<PeerState, Map<string, Triple>> {
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
    if (!(this.permissions?.isEnforced ?? false)) return;
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
          learn(this.holders, state, key);
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
          learn(this.holders, state, key);
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
    const permissions = this.permissions;
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
    const ruleReach = this.ruleReachOf();
    if (ruleReach === undefined) return [];
    const { documents, collections } = ruleReach.take();
    if (collections.size === 0) return documents;
    const all = [...documents];
    for (const key of this.holders.keys()) {
      const [collection, id] = key.split("\u0000") as [string, string];
      if (collections.has(collection)) all.push({ collection, id });
    }
    return all;
  }
}
