import { batch } from "@preact/signals-core";
import type { Commit, TripleStore } from "../store/triple-store.js";
import type { RowChange, Table } from "../store/table.js";
import { LiveQuery } from "./live-query.js";
import { indexCanAnswer } from "./plan.js";
import type { NormalizedQuery } from "./query.js";

/** Live queries of one collection, indexed by the equality keys of their filters. */
interface CollectionRoutes {
  /** field → stored value → queries with `field equals value` (or `in` containing it). */
  readonly byField: Map<string, Map<unknown, Set<LiveQuery>>>;
  /** Queries with no usable equality filter: they see every change of the collection. */
  readonly unrouted: Set<LiveQuery>;
}

interface Registration {
  readonly live: LiveQuery;
  readonly key: string;
  readonly route: { readonly field: string; readonly keys: readonly unknown[] } | undefined;
  count: number;
}

/** Above this many changed rows of one table in one commit, queries recompute instead of folding. */
const BULK_COMMIT_ROWS = 512;

/**
 * Keeps live queries up to date as the store commits. Each committed row change reaches only the
 * queries that can see it: those whose equality filter matches the row's value before or after
 * the change, plus the collection's unfiltered ones; and of those only the ones that depend on a
 * changed field. So a write costs what it can affect, not the number of live queries.
 * Identical queries share one live query.
 *
 * @example
 * const registry = new LiveQueryRegistry(store);
 * const live = registry.acquire(normalized);
 * effect(() => console.log(live.result.value));
 */
export class LiveQueryRegistry {
  private readonly routes = new Map<string, CollectionRoutes>();
  private readonly registrations = new Map<string, Registration>();
  private readonly byLive = new Map<LiveQuery, Registration>();
  private readonly unwatch = new Map<string, () => void>();
  private readonly stopListening: () => void;

  constructor(private readonly store: TripleStore) {
    this.stopListening = store.onCommit((commit) => this.route(commit));
  }

  /** The live query for a normalized query, shared with identical ones; pair with {@link release}. */
  acquire(query: NormalizedQuery): LiveQuery {
    const key = JSON.stringify(query);
    const existing = this.registrations.get(key);
    if (existing !== undefined) {
      existing.count++;
      return existing.live;
    }
    const live = new LiveQuery(query, this.store.table(query.collection));
    const registration: Registration = { live, key, route: routeOf(query), count: 1 };
    this.registrations.set(key, registration);
    this.byLive.set(live, registration);
    this.addRoute(query.collection, registration);
    return live;
  }

  /** Drops one use of a live query; the last release stops maintaining it. */
  release(live: LiveQuery): void {
    const registration = this.byLive.get(live);
    if (registration === undefined || --registration.count > 0) return;
    this.registrations.delete(registration.key);
    this.byLive.delete(live);
    this.removeRoute(live.query.collection, registration);
  }

  /** Number of distinct live queries maintained. */
  get size(): number {
    return this.registrations.size;
  }

  /** Stops following the store. */
  dispose(): void {
    this.stopListening();
    for (const unwatch of this.unwatch.values()) unwatch();
    this.unwatch.clear();
    this.routes.clear();
    this.registrations.clear();
    this.byLive.clear();
  }

  private route(commit: Commit): void {
    const dirty = new Set<LiveQuery>();
    for (const [table, rows] of commit.tables) {
      const routes = this.routes.get(table.name);
      if (routes === undefined) continue;
      if (rows.size > BULK_COMMIT_ROWS) {
        for (const live of this.queriesOf(routes)) {
          live.reset(table);
          dirty.add(live);
        }
        continue;
      }
      for (const [row, change] of rows) this.routeRow(routes, table, row, change, dirty);
    }
    if (dirty.size === 0) return;
    // One batch: every subscriber runs at most once for the whole commit.
    batch(() => {
      for (const live of dirty) live.flush();
    });
  }

  private routeRow(routes: CollectionRoutes, table: Table, row: number, change: RowChange, dirty: Set<LiveQuery>): void {
    const visited = new Set<LiveQuery>();
    const visit = (live: LiveQuery) => {
      if (visited.has(live)) return;
      visited.add(live);
      if (!live.canSee(table, row, change)) return;
      live.apply(table, row, change);
      dirty.add(live);
    };
    const visitKey = (byKey: Map<unknown, Set<LiveQuery>>, value: unknown) => {
      if (Array.isArray(value)) {
        for (const member of value) byKey.get(member)?.forEach(visit);
      } else if (value !== undefined) {
        byKey.get(value)?.forEach(visit);
      }
    };
    for (const [field, byKey] of routes.byField) {
      visitKey(byKey, field === "id" ? table.idOf(row) : table.get(row, field));
      if (change.changed(field)) visitKey(byKey, change.before(field));
    }
    routes.unrouted.forEach(visit);
  }

  private *queriesOf(routes: CollectionRoutes): IterableIterator<LiveQuery> {
    const seen = new Set<LiveQuery>(routes.unrouted);
    for (const byKey of routes.byField.values()) for (const set of byKey.values()) for (const live of set) seen.add(live);
    yield* seen;
  }

  private addRoute(collection: string, registration: Registration): void {
    let routes = this.routes.get(collection);
    if (routes === undefined) {
      this.routes.set(collection, (routes = { byField: new Map(), unrouted: new Set() }));
      this.unwatch.set(collection, this.store.watch(collection));
    }
    const { route, live } = registration;
    if (route === undefined) {
      routes.unrouted.add(live);
      return;
    }
    let byKey = routes.byField.get(route.field);
    if (byKey === undefined) routes.byField.set(route.field, (byKey = new Map()));
    for (const key of route.keys) {
      let set = byKey.get(key);
      if (set === undefined) byKey.set(key, (set = new Set()));
      set.add(live);
    }
  }

  private removeRoute(collection: string, registration: Registration): void {
    const routes = this.routes.get(collection);
    if (routes === undefined) return;
    const { route, live } = registration;
    if (route === undefined) {
      routes.unrouted.delete(live);
    } else {
      const byKey = routes.byField.get(route.field);
      for (const key of route.keys) {
        const set = byKey?.get(key);
        set?.delete(live);
        if (set?.size === 0) byKey!.delete(key);
      }
      if (byKey?.size === 0) routes.byField.delete(route.field);
    }
    if (routes.unrouted.size === 0 && routes.byField.size === 0) {
      this.routes.delete(collection);
      this.unwatch.get(collection)?.();
      this.unwatch.delete(collection);
    }
  }
}

/**
 * The equality filter a query is routed by: a row can match only if its stored value of that
 * field is one of the keys (before or after a change). Only filters that a document without
 * a stored value could not satisfy qualify (see `indexCanAnswer`).
 */
function routeOf(query: NormalizedQuery): Registration["route"] {
  for (const condition of query.where) {
    if (condition.op !== "equals" && condition.op !== "in") continue;
    const spec = query.specs[condition.field]!;
    if (condition.field !== "id" && !indexCanAnswer(condition, spec)) continue;
    if (condition.field === "updatedAt") continue;
    const keys = condition.op === "equals" ? [condition.operand] : (condition.operand as unknown[]);
    return { field: condition.field, keys };
  }
  return undefined;
}
