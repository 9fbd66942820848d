import { batch } from "@preact/signals-core";
import type { Commit, TripleStore } from "../store/triple-store.js";
import type { RowChange, Table } from "../store/table.js";
import { LiveQuery } from "./live-query.js";
import type { LiveView, Watch } from "./live-view.js";
import { type Registration, RouteBucket } from "./route-bucket.js";
import { RowBefore } from "./row-before.js";
import type { NormalizedQuery } from "./normalized-query.js";
import { maxQueryCostOf, type QueryCostOptions } from "./query-cost.js";

/** Views following one collection, indexed by the equality keys of their routes. */
interface CollectionRoutes {
  /** field → stored value → views routed by `field` with that key. */
  readonly byField: Map<string, Map<unknown, RouteBucket>>;
  /** Views without an equality route: they see every change of the collection their range lets through. */
  readonly unrouted: RouteBucket;
  /** row → the decided views that show it (those with `Registration.shown`). */
  readonly shownBy: Map<number, Registration[]>;
}

/** Decided views showing more rows than this are offered every change that keeps a row matching. */
const MAX_INDEXED_SHOWN = 200;

/** Above this many changed rows of one table in one commit, queries recompute instead of folding. */
const BULK_COMMIT_ROWS = 512;

/**
 * Keeps live queries up to date as the store commits. Each committed row change reaches only the
 * queries that can see it: those whose equality filter matches the row's value before or after
 * the change, plus the collection's unfiltered ones, and of those with a range filter only the
 * ones whose range holds the row's value before or after; and of those only the ones that
 * depend on a changed field. So a write costs what it can affect, not the number of live queries.
 * Identical queries share one live query.
 *
 * `options.maxQueryCost` bounds the work of each materialization pass of its live queries (see
 * `QueryCostOptions`); a query that exceeds it throws a `QueryCostError` from {@link acquire},
 * or later from the commit that made it too costly.
 *
 * @example
 * import { effect } from "@preact/signals-core";
 * const registry = new LiveQueryRegistry(store);
 * const live = registry.acquire(normalized);
 * effect(() => console.log(live.result.value));
 */
export class LiveQueryRegistry {
  private readonly routes = new Map<string, CollectionRoutes>();
  private readonly registrations = new Map<string, Registration>();
  private readonly byView = new Map<LiveView, Registration>();
  private readonly unwatch = new Map<string, () => void>();
  private readonly stopListening: () => void;
  /** Counter behind the visit and commit stamps of registrations. */
  private stamp = 0;
  /** The cost limit every live query it creates gets. */
  private readonly options: QueryCostOptions;
  /** Reads a row's values before a change, for range routes. */
  private readonly before = new RowBefore();

  constructor(
    private readonly store: TripleStore,
    options?: QueryCostOptions,
  ) {
    this.options = { maxQueryCost: maxQueryCostOf(options, "LiveQueryRegistry") };
    this.stopListening = store.onCommit((commit) => this.route(commit));
  }

  /** The live query for a normalized query, shared with identical ones; pair with {@link release}. */
  acquire(query: NormalizedQuery): LiveQuery {
    return this.acquireView(queryViewKey(query), () => new LiveQuery(query, this.store, this.options));
  }

  /**
   * The view registered under `key`, created on first use and shared afterwards; pair with
   * {@link release}. Keys must identify what the view computes (e.g. its normalized query).
   */
  acquireView<V extends LiveView>(key: string, create: () => V): V {
    const existing = this.registrations.get(key);
    if (existing !== undefined) {
      existing.count++;
      return existing.view as V;
    }
    const view = create();
    const [watch, ...others] = view.watches;
    const isDecided = watch?.isDecided === true && others.length === 0 && view.applyMembership !== undefined;
    const registration: Registration = isDecided
      ? { view, key, count: 1, visitedAt: 0, dirtyAt: 0, isDecided, orderFields: view.orderFields, shown: [] }
      : { view, key, count: 1, visitedAt: 0, dirtyAt: 0, isDecided };
    this.registrations.set(key, registration);
    this.byView.set(view, registration);
    for (const watch of view.watches) this.addRoute(watch, registration);
    this.indexShown(registration);
    return view;
  }

  /** Drops one use of a view; the last release stops maintaining it. */
  release(view: LiveView): void {
    const registration = this.byView.get(view);
    if (registration === undefined || --registration.count > 0) return;
    this.registrations.delete(registration.key);
    this.byView.delete(view);
    this.unindexShown(registration);
    for (const watch of view.watches) this.removeRoute(watch, registration);
  }

  /**
   * Recomputes every view that follows a collection from its table, once: after changes to it
   * that no listener heard (`TripleStore.transactUnheard`).
   */
  refresh(collection: string): void {
    const routes = this.routes.get(collection);
    const table = this.store.table(collection);
    if (routes === undefined || table === undefined) return;
    const registrations = [...this.registrationsOf(routes)];
    for (const registration of registrations) registration.view.reset(table);
    batch(() => {
      for (const registration of registrations) this.flush(registration);
    });
  }

  /** The live query of a normalized query, if one is maintained. */
  liveQuery(query: NormalizedQuery): LiveQuery | undefined {
    const view = this.registrations.get(queryViewKey(query))?.view;
    return view instanceof LiveQuery ? view : undefined;
  }

  /**
   * The rows of a collection that the views following it hold (see `LiveView.heldRows`), or
   * undefined when one of them may read any row of it.
   */
  heldRows(collection: string): Set<number> | undefined {
    const held = new Set<number>();
    const routes = this.routes.get(collection);
    if (routes === undefined) return held;
    for (const { view } of this.registrationsOf(routes)) {
      const rows = view.heldRows?.(collection);
      if (rows === undefined) return undefined;
      for (const row of rows) held.add(row);
    }
    return held;
  }

  /** Every live query maintained (not the other views, such as live aggregates). */
  liveQueries(): LiveQuery[] {
    const queries: LiveQuery[] = [];
    for (const { view } of this.registrations.values()) if (view instanceof LiveQuery) queries.push(view);
    return queries;
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
    this.byView.clear();
  }

  private route(commit: Commit): void {
    const commitStamp = ++this.stamp;
    const dirty: Registration[] = [];
    const markDirty = (registration: Registration) => {
      if (registration.dirtyAt === commitStamp) return;
      registration.dirtyAt = commitStamp;
      dirty.push(registration);
    };
    for (const [table, rows] of commit.tables) {
      const routes = this.routes.get(table.name);
      if (routes === undefined) continue;
      if (rows.size > BULK_COMMIT_ROWS) {
        for (const registration of this.registrationsOf(routes)) {
          registration.view.reset(table);
          markDirty(registration);
        }
        continue;
      }
      for (const [row, change] of rows) this.routeRow(routes, table, row, change, markDirty);
    }
    if (dirty.length === 0) return;
    // One batch: every subscriber runs at most once for the whole commit.
    batch(() => {
      for (const registration of dirty) this.flush(registration);
    });
  }

  private routeRow(
    routes: CollectionRoutes,
    table: Table,
    row: number,
    change: RowChange,
    markDirty: (registration: Registration) => void,
  ): void {
    // Stamps instead of a visited set: this runs for every changed row of every commit.
    const rowStamp = ++this.stamp;
    const isLive = table.isLive(row);
    // `isIn`/`wasIn`: whether the routes that reached the view hold the row after and before
    // the change; for a view its routes decide, that is whether the row matches.
    const visit = (registration: Registration, isIn: boolean, wasIn: boolean) => {
      if (registration.visitedAt === rowStamp) return;
      registration.visitedAt = rowStamp;
      const { view } = registration;
      if (registration.isDecided) {
        const isMember = isIn && isLive;
        const wasMember = wasIn && change.wasLive;
        if (!isMember && !wasMember) return;
        if (isMember === wasMember) {
          // Still a match: it matters only if it moves along the order or is shown.
          const { orderFields, shown } = registration;
          const isShown = shown === undefined || (routes.shownBy.get(row)?.includes(registration) ?? false);
          if (!isShown && orderFields !== undefined && !change.changedAny(orderFields)) return;
          if (!view.canSee(table, row, change)) return;
        }
        if (view.applyMembership!(table, row, change, isMember, wasMember)) markDirty(registration);
        return;
      }
      if (!view.canSee(table, row, change)) return;
      view.apply(table, row, change);
      markDirty(registration);
    };
    const visitBucket = (bucket: RouteBucket | undefined, isKey: boolean, wasKey: boolean) => {
      if (bucket === undefined) return;
      for (const registration of bucket.plain) visit(registration, isKey, wasKey);
      for (const ranges of bucket.ranges.values()) {
        const after = ranges.read(table, row);
        const before = change.changed(ranges.field) ? ranges.read(this.before.of(table, change), row) : after;
        ranges.visit(after, before, (registration, holdsAfter, holdsBefore) =>
          visit(registration, isKey && holdsAfter, wasKey && holdsBefore),
        );
      }
    };
    const visitKeys = (byKey: Map<unknown, RouteBucket>, value: unknown, after: unknown, before: unknown) => {
      if (Array.isArray(value)) {
        for (const member of value) visitBucket(byKey.get(member), holdsKey(after, member), holdsKey(before, member));
      } else if (value !== undefined) {
        visitBucket(byKey.get(value), holdsKey(after, value), holdsKey(before, value));
      }
    };
    for (const [field, byKey] of routes.byField) {
      const after = field === "id" ? table.idOf(row) : table.get(row, field);
      const before = change.changed(field) ? change.before(field) : after;
      visitKeys(byKey, after, after, before);
      if (before !== after) visitKeys(byKey, before, after, before);
    }
    visitBucket(routes.unrouted, true, true);
  }

  private flush(registration: Registration): void {
    registration.view.flush();
    if (registration.shown !== undefined && registration.view.shownRows !== registration.shown) {
      this.unindexShown(registration);
      this.indexShown(registration);
    }
  }

  /** Records which rows a decided view shows, if few enough. */
  private indexShown(registration: Registration): void {
    const rows = registration.view.shownRows;
    const shownBy = this.routes.get(registration.view.watches[0]!.collection)?.shownBy;
    if (!registration.isDecided || rows === undefined || shownBy === undefined) return;
    if (rows.length > MAX_INDEXED_SHOWN) {
      registration.shown = undefined;
      return;
    }
    registration.shown = rows;
    for (const row of rows) {
      const showing = shownBy.get(row);
      if (showing === undefined) shownBy.set(row, [registration]);
      else showing.push(registration);
    }
  }

  private unindexShown(registration: Registration): void {
    const shownBy = this.routes.get(registration.view.watches[0]!.collection)?.shownBy;
    if (registration.shown === undefined || shownBy === undefined) return;
    for (const row of registration.shown) {
      const showing = shownBy.get(row);
      if (showing === undefined) continue;
      const index = showing.indexOf(registration);
      if (index >= 0) showing.splice(index, 1);
      if (showing.length === 0) shownBy.delete(row);
    }
    registration.shown = [];
  }

  private registrationsOf(routes: CollectionRoutes): Set<Registration> {
    const all = new Set<Registration>();
    routes.unrouted.collect(all);
    for (const byKey of routes.byField.values()) for (const bucket of byKey.values()) bucket.collect(all);
    return all;
  }

  private addRoute({ collection, route, range }: Watch, view: Registration): void {
    let routes = this.routes.get(collection);
    if (routes === undefined) {
      this.routes.set(collection, (routes = { byField: new Map(), unrouted: new RouteBucket(), shownBy: new Map() }));
      this.unwatch.set(collection, this.store.watch(collection));
    }
    if (route === undefined) {
      routes.unrouted.add(view, range);
      return;
    }
    let byKey = routes.byField.get(route.field);
    if (byKey === undefined) routes.byField.set(route.field, (byKey = new Map()));
    for (const key of route.keys) {
      let bucket = byKey.get(key);
      if (bucket === undefined) byKey.set(key, (bucket = new RouteBucket()));
      bucket.add(view, range);
    }
  }

  private removeRoute({ collection, route, range }: Watch, view: Registration): void {
    const routes = this.routes.get(collection);
    if (routes === undefined) return;
    if (route === undefined) {
      routes.unrouted.delete(view, range);
    } else {
      const byKey = routes.byField.get(route.field);
      for (const key of route.keys) {
        const bucket = byKey?.get(key);
        bucket?.delete(view, range);
        if (bucket?.isEmpty === true) byKey!.delete(key);
      }
      if (byKey?.size === 0) routes.byField.delete(route.field);
    }
    if (routes.unrouted.isEmpty && routes.byField.size === 0) {
      this.routes.delete(collection);
      this.unwatch.get(collection)?.();
      this.unwatch.delete(collection);
    }
  }
}

function queryViewKey(query: NormalizedQuery): string {
  return `query:${JSON.stringify(query)}`;
}

/** Whether a stored value (a set field's: its members) holds a route key. */
function holdsKey(value: unknown, key: unknown): boolean {
  return Array.isArray(value) ? value.includes(key) : value === key;
}
