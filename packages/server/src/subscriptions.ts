import { effect } from "@preact/signals-core";
import {
  type DatabaseResult,
  fail,
  LiveQueryRegistry,
  type NormalizedQuery,
  ok,
  type QueryCostError,
  relatedFilters,
  type TripleStore,
} from "@trellis/core";
import { AppDatabase } from "./app-database.js";
import type { Permissions, RuleUser } from "./permissions/permissions.js";
import { RuleReach } from "./permissions/rule-reach.js";
import type { Peer } from "./peer.js";
import { ANONYMOUS, docKey, type Holders, type PeerState, type QueryGroup, unlearn } from "./peer-state.js";
import { type QuerySnapshot, type SnapshotSource, takeSnapshot } from "./query-snapshot.js";
import { groupQuery, readableQuery } from "./read-access.js";
import { neededDocs, shownBy, withIds } from "./result-documents.js";
import { snapshotParts } from "./snapshot-parts.js";

/** What the subscriptions are told by their hub (see `HubOptions`). */
export interface SubscriptionOptions {
  readonly maxQueryCost?: number | undefined;
  readonly permissions?: Permissions | undefined;
  readonly rulesChangedAt?: number | undefined;
  readonly snapshotPartTriples?: number | undefined;
}

/**
 * The live queries of an app's connections: each (normalized) query runs once, in a group shared
 * by every subscription of it, and the groups whose result changed in a commit are marked dirty
 * for the fan-out. Also the snapshots a subscription starts with and one-shot queries.
 *
 * @example
 * const subscriptions = new Subscriptions(registry, store, db, peers, holders, { maxQueryCost: 100_000 });
 * subscriptions.subscribe(peer, "q1", normalized, null); // the connection gets the snapshot; changes follow
 * const { data: answer, error } = subscriptions.query(normalized, null); // a one-shot query, as POST /v1/query
 * if (error === undefined) console.log(`${answer.triples.length} triples, as of cursor ${answer.cursor}`);
 */
export class Subscriptions {
  /** Groups by key (see `groupOf`). */
  readonly groups = new Map<string, QueryGroup>();
  /** Groups whose live result changed since the last fan-out. */
  readonly dirtyGroups = new Set<QueryGroup>();
  /** Groups whose live result became too costly in the last commit. */
  private readonly failedGroups = new Map<QueryGroup, QueryCostError>();

  /**
   * `registry`: the live views over `store`, made before the replica was loaded; the rules'
   * reach is followed from now on.
   */
  constructor(
    private registry: LiveQueryRegistry,
    private readonly store: TripleStore,
    private readonly db: AppDatabase,
    private readonly peers: ReadonlyMap<Peer, PeerState>,
    private readonly holders: Holders,
    private readonly options: SubscriptionOptions,
  ) {
    this.ruleReach = this.followRuleReach();
  }

  /** Hears changes that alter who may read documents of other collections (rules through relations). */
  ruleReach: RuleReach | undefined;

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

  private followRuleReach(): RuleReach | undefined {
    const structures = this.options.permissions?.readRuleStructures();
    if (structures === undefined || structures.size === 0) return undefined;
    return this.registry.acquireView("rule-reach", () => new RuleReach(structures, this.store));
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
  stopFailedGroups(): void {
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
  rebuildViews(): void {
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

  /** Ends every live view. */
  dispose(): void {
    this.registry.dispose();
  }
}
