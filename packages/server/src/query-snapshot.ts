import {
  collectionsOf,
  type DocumentRef,
  type LiveQuery,
  type NormalizedQuery,
  type RowTest,
  type Triple,
  type TripleStore,
} from "@trellis/core";
import type { AppDatabase } from "./app-database.js";
import type { Permissions, RuleUser } from "./permissions/permissions.js";
import type { RuleReach } from "./permissions/rule-reach.js";
import { docKey, type Holders, learn, type PeerState } from "./peer-state.js";
import { canRead } from "./read-access.js";
import { neededDocs } from "./result-documents.js";

/** A snapshot of a query: the triples a client needs and the cursor to resume from. */
export interface QuerySnapshot {
  readonly triples: Triple[];
  readonly cursor: string;
  /** Documents changed since the cursor that the user may no longer read (the client drops them). */
  readonly revoked?: DocumentRef[];
}

/** What a snapshot is read from: the app's database and replica, and what decides who reads what. */
export interface SnapshotSource {
  readonly db: AppDatabase;
  readonly store: TripleStore;
  readonly permissions: Permissions | undefined;
  /** See `HubOptions.rulesChangedAt`. */
  readonly rulesChangedAt: number | undefined;
  readonly ruleReach: RuleReach | undefined;
  /** Documents a snapshot sends to a connection are learned here: their changes follow it. */
  readonly holders: Holders;
}

/**
 * What a client needs of a query now, from `cursor` on (null: everything), and the cursor after.
 * `state`: the connection it is for, which learns the documents sent (none for a one-shot query).
 *
 * @example
 * const source: SnapshotSource = {
 *   db,
 *   store,
 *   holders,
 *   permissions: undefined, // no rules: everyone reads everything
 *   rulesChangedAt: undefined,
 *   ruleReach: undefined,
 * };
 * const live = registry.acquire(normalized);
 * try {
 *   const { triples, cursor } = takeSnapshot(source, live, null, undefined, { id: userId, claims: {} });
 *   console.log(`${triples.length} triples; changes follow from cursor ${cursor}`);
 * } finally {
 *   registry.release(live);
 * }
 */
export function takeSnapshot(
  source: SnapshotSource,
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
  const changedRules = source.rulesChangedAt;
  const isBeforeRules = cursor !== null && changedRules !== undefined && Number(cursor) <= changedRules;
  const sendWholeResult =
    cursor === null || isBeforeRules || query.limit !== undefined || query.relations !== undefined;
  const tests = state?.readTests ?? new Map<string, boolean | RowTest>();
  for (const [collection, id] of neededDocs(live, source.store)) {
    const key = docKey(collection, id);
    // A shared group's result holds documents of every subscriber; this one gets its own.
    if (!canRead(source.permissions, source.store, user, collection, id, tests)) continue;
    needed.add(key);
    if (state?.known.has(key)) continue;
    const document = source.db.document(collection, id, cursor);
    if (sendWholeResult || document.changed) for (const triple of document.triples) out.push(triple);
    if (state !== undefined) learn(source.holders, state, key);
  }
  if (cursor !== null) {
    // Documents that left the result while the client was away: it sees them leave. Of those
    // it may not read any more, nothing is sent; it is told to drop those it was taken out of
    // (a set element naming the user, removed). Naming every unreadable document that changed
    // would tell anyone holding an old cursor the ids of documents it never could read.
    for (const collection of collectionsOf(query)) {
      for (const triple of source.db.collectionChangesSince(collection, cursor)) {
        const key = docKey(triple.collection, triple.id);
        if (needed.has(key) || revoked.has(key)) continue;
        if (canRead(source.permissions, source.store, user, triple.collection, triple.id, tests)) out.push(triple);
        else if (triple.element !== undefined && triple.element === user.id && triple.value === false)
          revoked.set(key, { collection: triple.collection, id: triple.id });
      }
    }
  }
  if (cursor !== null) revokedThroughRules(source, query, cursor, user, tests, needed, revoked);
  if (held !== undefined) revokedOfHeld(source, query.collection, held, user, tests, needed, revoked);
  const snapshot = { triples: out, cursor: source.db.cursor };
  return revoked.size === 0 ? snapshot : { ...snapshot, revoked: [...revoked.values()] };
}

/**
 * Documents a resuming client holds (`held`) that the user may no longer read, however it lost
 * them (an owner changed, a project deleted), or that the server does not hold at all: revoked.
 * It names only ids the client sent, and a document the server lacks reads as one the user may
 * not read, so the answer tells nothing about other documents.
 */
function revokedOfHeld(
  source: SnapshotSource,
  collection: string,
  held: readonly string[],
  user: RuleUser,
  tests: Map<string, boolean | RowTest>,
  needed: ReadonlySet<string>,
  revoked: Map<string, DocumentRef>,
): void {
  if (!(source.permissions?.isEnforced ?? false)) return;
  const table = source.store.table(collection);
  for (const id of held) {
    const key = docKey(collection, id);
    if (needed.has(key) || revoked.has(key)) continue;
    const isHeldHere = table?.anyRowOf(id) !== undefined;
    if (!isHeldHere || !canRead(source.permissions, source.store, user, collection, id, tests))
      revoked.set(key, { collection, id });
  }
}

/**
 * Documents of a resumed query that the user lost while away through a rule that reads other
 * documents: the user was taken out of a set the rule reads (a project's `memberIds`) since the
 * cursor, and a document that rule governs (one of the project's tasks), which existed then,
 * is no longer readable. Added to `revoked`; as for a document's own sets, nothing else is named.
 */
function revokedThroughRules(
  source: SnapshotSource,
  query: NormalizedQuery,
  cursor: string,
  user: RuleUser,
  tests: Map<string, boolean | RowTest>,
  needed: ReadonlySet<string>,
  revoked: Map<string, DocumentRef>,
): void {
  const reach = source.ruleReach;
  if (reach === undefined || user.id === null) return;
  for (const collection of collectionsOf(query)) {
    for (const reached of new Set(reach.reachedFrom(collection))) {
      for (const triple of source.db.collectionChangesSince(reached, cursor)) {
        if (triple.element !== user.id || triple.value !== false) continue;
        for (const id of reach.ruledBy(collection, reached, triple.id)) {
          const key = docKey(collection, id);
          if (
            needed.has(key) ||
            revoked.has(key) ||
            canRead(source.permissions, source.store, user, collection, id, tests) ||
            !source.db.existedAt(collection, id, cursor)
          )
            continue;
          revoked.set(key, { collection, id });
        }
      }
    }
  }
}
