import { computed, type ReadonlySignal, signal } from "@preact/signals-core";
import { RowChange } from "../store/table.js";
import { type MaterializePass, type Materializer, compileMaterializer } from "./materialize.js";
import { compileOrder, type Ordering } from "./order.js";
import { compileWhere, type RowTest } from "./predicate.js";
import { type NormalizedQuery, type NormalizedRelation, relatedFilters, whereFields } from "./normalized-query.js";
import { type CostMeter, QueryCostError, type QueryCostOptions } from "./query-cost.js";
import { resultComparer } from "./same-result.js";
import { compilePageWindow, EMPTY_WINDOW, type PageWindow, type ResultWindow, resultWindow } from "./cursor.js";
import { readDependsOnCreatedAt } from "./read-field.js";
import { type LiveView, rangeRouteOf, routeOf, routesDecide, type Watch } from "./live-view.js";
import { keyedMatches, matchMeter } from "./run-query.js";
import { AllMatches, MatchChange, type MatchSet, TopMatches } from "./live-matches.js";
import { RelationTracker } from "./live-relations.js";
import { RelationWatch } from "./relation-watch.js";
import type { Source, SourceTable } from "./source.js";
import { CREATED_AT_FIELD } from "../triples.js";

/** A result document as users see it. */
export type ResultDoc = Record<string, unknown>;

/**
 * A query kept up to date incrementally. It holds its matches sorted — every one, so a row
 * leaving the window is replaced without a rescan, or for a small `limit` without cursors the
 * first ones and their count (see `TopMatches`) — and exposes the visible documents as a
 * signal. The registry hands it only the row changes it can see; a change costs a predicate
 * check and at most a binary search, rarely a re-run of the query.
 *
 * Each render is one materialization pass: the documents it builds share their related
 * documents, and their relations may examine at most `maxQueryCost` linked documents together.
 * Over it, the constructor throws a `QueryCostError`; a later commit that makes the result too
 * costly sets {@link failure} instead (the result keeps its last value) until one brings it back
 * under the limit.
 *
 * @example
 * const live = new LiveQuery(normalized, store); // usually through `LiveQueryRegistry.acquire`
 * live.result.value; // the visible documents
 */
export class LiveQuery implements LiveView {
  readonly query: NormalizedQuery;
  readonly watches: readonly Watch[];
  /** Fields whose change can alter this query's result; `dependsOnEveryField` overrides it. */
  readonly dependencies: ReadonlySet<string>;
  readonly dependsOnEveryField: boolean;
  private readonly selected: FieldDependencies;
  private readonly ordered: FieldDependencies;
  /**
   * Fields that decide whether a row matches and where it sorts; undefined when a row's match
   * also depends on other documents (relational filters), so every change is decided again.
   */
  private readonly decisive: FieldDependencies | undefined;
  private readonly test: RowTest;
  private readonly ordering: Ordering;
  private readonly materialize: Materializer;
  private readonly matches: MatchSet;
  /** Only the number of matches changed since the last flush: the window, not the result. */
  private isRecounted = false;
  private visibleRows: number[] = [];
  private docs = new Map<number, ResultDoc>();
  /** Index of each visible row in the result, built when a patch needs it. */
  private positions: Map<number, number> | undefined;
  private readonly touched = new Set<number>();
  private isDirty = false;
  private readonly output;
  private readonly failureSignal = signal<QueryCostError | undefined>(undefined);
  /** The query's page (cursors and limit) over `entries`. */
  private readonly page: PageWindow;
  /** Bumped by every render, so {@link window} is computed only when someone reads it. */
  private readonly renders = signal(0);
  private lastWindow = EMPTY_WINDOW;
  /** Where the visible page sits in the full match set (its size included), with the cursors that continue it. */
  readonly window: ReadonlySignal<ResultWindow> = computed(() => {
    void this.renders.value;
    const { entries, total } = this.matches;
    this.lastWindow = resultWindow(
      this.lastWindow,
      entries,
      this.page.bounds(entries),
      this.query.orderBy.length,
      total,
    );
    return this.lastWindow;
  });
  private table: SourceTable | undefined;
  /**
   * Whether its matches were computed from a whole table: false when built or reset while its
   * collection was partial in memory (`Table.isPartial`), until a reset on the whole table.
   */
  isComplete = true;
  private readonly relations: RelationTracker | undefined;
  /** Top-level relations showing a few rows: their rows are kept per shown parent. */
  private readonly relationWatches: ReadonlyMap<NormalizedRelation, RelationWatch>;
  /** What one commit's changes make it decide again through relational filters is charged here. */
  private commitMeter: CostMeter | undefined;
  /**
   * Its matches could not be kept up to date within the cost limit: they are computed from
   * scratch on the next flush, which fails the same way while the data stays as costly.
   */
  private needsRematch = false;

  constructor(
    query: NormalizedQuery,
    private readonly source: Source,
    private readonly options?: QueryCostOptions,
  ) {
    this.query = query;
    this.relationWatches = new Map(
      (query.relations ?? [])
        .filter((relation) => RelationWatch.canWatch(relation))
        .map((relation) => [relation, new RelationWatch(relation, source)]),
    );
    this.relations =
      query.relations === undefined && relatedFilters(query.where).length === 0
        ? undefined
        : new RelationTracker(query, source, this.relationWatches);
    // Related collections are watched unrouted, unless the root is routed by its ids (see
    // `RelationTracker.routeOf`): their changes are mapped back to parent rows.
    const route = routeOf(query.where, query.specs);
    const range = rangeRouteOf(query.where, query.specs);
    this.watches = [
      {
        collection: query.collection,
        route,
        range,
        isDecided: this.relations === undefined && routesDecide(query.where, query.specs, route, range),
      },
      ...(this.relations?.collections ?? []).map((collection) => ({
        collection,
        route: this.relations!.routeOf(collection, route),
      })),
    ];
    this.test = compileWhere(query.where, query.specs, source);
    this.ordering = compileOrder(query.orderBy, query.specs);
    this.page = compilePageWindow(query, this.ordering.compare);
    this.materialize = compileMaterializer(
      query,
      source,
      options,
      (relation) => this.relationWatches.get(relation)?.rowsOf,
    );
    const links = this.relations?.rootLinkFields ?? [];
    this.selected = dependenciesOf([...query.select, ...links], query);
    this.ordered = dependenciesOf(
      query.orderBy.map(([field]) => field),
      query,
    );
    const all = dependenciesOf(
      [...whereFields(query.where), ...query.orderBy.map(([field]) => field), ...query.select, ...links],
      query,
    );
    this.dependencies = all.fields;
    this.dependsOnEveryField = all.isEveryField;
    const rules = {
      query,
      test: this.test,
      ordering: this.ordering,
      touchesOrder: (change: RowChange) => this.touchesAny(change, this.ordered),
    };
    const filtered = dependenciesOf(whereFields(query.where), query);
    const shape = {
      ...query,
      readsUpdatedAt: filtered.isEveryField,
      hasRelatedFilters: relatedFilters(query.where).length > 0,
    };
    this.decisive = shape.hasRelatedFilters
      ? undefined
      : dependenciesOf([...whereFields(query.where), ...query.orderBy.map(([field]) => field)], query);
    this.matches = TopMatches.canKeep(shape)
      ? new TopMatches(rules, shape.limit, (change) => this.touchesAny(change, filtered))
      : new AllMatches(rules);
    const table = source.table(query.collection);
    this.table = table;
    this.isComplete = table?.isPartial !== true;
    if (table !== undefined) this.rematch(table);
    this.output = signal<readonly ResultDoc[]>(this.render());
  }

  /** The visible result, as a signal: read `.value` inside a computed or effect to follow it. */
  get result(): ReadonlySignal<readonly ResultDoc[]> {
    return this.output;
  }

  /** Whether a committed row change could alter this query's result. */
  canSee(table: SourceTable, row: number, change: RowChange): boolean {
    if (table.name === this.query.collection) {
      if (change.wasLive !== table.isLive(row) || this.dependsOnEveryField || change.changedAny(this.dependencies))
        return true;
    }
    return this.relations?.canSee(table, row, change) ?? false;
  }

  /**
   * The ids of the visible documents, in result order (what a client stores to answer this query
   * early next time); undefined when more than `max` are visible.
   */
  visibleIds(max = Infinity): string[] | undefined {
    const table = this.table;
    if (this.visibleRows.length > max) return undefined;
    return table === undefined ? [] : this.visibleRows.map((row) => table.idOf(row));
  }

  /**
   * Every matching row (not only the visible ones: a window refills from them) of its own
   * collection; undefined for a collection it reads through relations, as any row may be shown.
   */
  heldRows(collection: string): Iterable<number> | undefined {
    const isRelated = this.relations?.collections.includes(collection) ?? false;
    return collection === this.query.collection && !isRelated ? this.matches.matchingRows(this.table) : undefined;
  }

  /** Recomputes every match from scratch: cheaper than row-by-row folding for bulk commits. */
  reset(table: SourceTable): void {
    this.forgetRelatedRows();
    if (table.name !== this.query.collection) {
      this.bumpReach();
      const root = this.source.table(this.query.collection);
      // A collection its filters read changed in bulk: every match is decided again.
      if (root !== undefined && this.relations?.decidesMatchThrough(table.name)) return this.reset(root);
      // A related collection changed in bulk: re-materialize every visible document.
      for (const row of this.visibleRows) this.touched.add(row);
      this.isDirty = true;
      return;
    }
    this.table = table;
    this.isComplete = table?.isPartial !== true;
    for (const row of this.visibleRows) this.touched.add(row);
    this.isDirty = true;
    try {
      this.rematch(table);
    } catch (error) {
      if (!(error instanceof QueryCostError)) throw error;
      this.needsRematch = true;
    }
  }

  /** Computes every match from `table` (its collection's), within the cost limit or throwing. */
  private rematch(table: SourceTable): void {
    this.matches.rematch(keyedMatches(table, this.query, this.ordering, undefined, this.source, this.options));
    this.needsRematch = false;
  }

  /** Folds one row change in; the signal changes only on {@link flush}. */
  apply(table: SourceTable, row: number, change: RowChange): void {
    if (this.needsRematch) return;
    try {
      this.fold(table, row, change);
    } catch (error) {
      if (!(error instanceof QueryCostError)) throw error;
      // Some rows were decided again, others not: the next flush starts over.
      this.needsRematch = true;
      this.isDirty = true;
    }
  }

  private fold(table: SourceTable, row: number, change: RowChange): void {
    if (this.relations !== undefined && this.relations.canSee(table, row, change)) {
      const affected = this.relations.affectedRoots(
        table,
        row,
        change,
        (this.commitMeter ??= matchMeter(this.query, this.options)),
      );
      if (affected.throughFilter) this.bumpReach();
      for (const root of affected.touch) {
        // Only shown rows need materializing again: a row entering the page is built afresh.
        if (!this.docs.has(root)) continue;
        this.touched.add(root);
        this.isDirty = true;
      }
      const rootTable = this.source.table(this.query.collection);
      if (rootTable !== undefined) {
        // Its own change (if any) is folded in below; these rows did not change themselves.
        for (const root of affected.retest)
          if (rootTable !== table || root !== row)
            this.applyToMatches(rootTable, root, new RowChange(rootTable.isLive(root)));
      }
    }
    if (table.name === this.query.collection) this.applyToMatches(table, row, change);
  }

  /**
   * Bumped whenever a change reached the documents its relational filters read: the documents
   * a matching row's filters reach (which a client evaluating the query needs) may differ, even
   * when the result does not.
   */
  get filterReach(): ReadonlySignal<number> {
    return this.reach;
  }

  private readonly reach = signal(0);

  private bumpReach(): void {
    this.reach.value = this.reach.peek() + 1;
  }

  /** Folds in a row change whose membership the routes decided (see `Watch.isDecided`); returns whether a flush is due. */
  applyMembership(table: SourceTable, row: number, change: RowChange, isMember: boolean, wasMember: boolean): boolean {
    if (this.needsRematch) return true;
    this.table = table;
    this.settle(this.matches.applyMembership(table, row, change, isMember, wasMember), row, change);
    return this.isDirty || this.isRecounted;
  }

  get orderFields(): ReadonlySet<string> | undefined {
    return this.ordered.isEveryField ? undefined : this.ordered.fields;
  }

  get shownRows(): readonly number[] {
    return this.visibleRows;
  }

  private applyToMatches(table: SourceTable, row: number, change: RowChange): void {
    this.table = table;
    const meter =
      this.relations === undefined ? undefined : (this.commitMeter ??= matchMeter(this.query, this.options));
    // A change to fields the query only shows cannot move a row in or out, or along the order.
    const isDecisive =
      this.decisive === undefined || change.wasLive !== table.isLive(row) || this.touchesAny(change, this.decisive);
    this.settle(isDecisive ? this.matches.apply(table, row, change, meter) : MatchChange.None, row, change);
  }

  /** Records what a row change did to the matches, and whether it changed a shown row. */
  private settle(changed: MatchChange, row: number, change: RowChange): void {
    if (changed === MatchChange.Entries) this.isDirty = true;
    else if (changed === MatchChange.Count) this.isRecounted = true;
    // A row outside the visible page is materialized afresh if it enters it, so only shown rows need a patch.
    if (this.docs.has(row) && this.touchesAny(change, this.selected)) {
      this.touched.add(row);
      this.isDirty = true;
    }
  }

  /** Publishes the result (or its failure) if what users see changed; returns whether it did. */
  flush(): boolean {
    this.commitMeter = undefined;
    if (!this.isDirty) {
      if (this.isRecounted) {
        this.isRecounted = false;
        this.renders.value = this.renders.peek() + 1;
      }
      return false;
    }
    this.isDirty = false;
    this.isRecounted = false;
    const before = this.output.peek();
    let next: readonly ResultDoc[];
    try {
      if (this.needsRematch) {
        // Changes were not folded into the kept related rows either.
        this.forgetRelatedRows();
        const root = this.source.table(this.query.collection);
        for (const row of this.visibleRows) this.touched.add(row);
        if (root === undefined) {
          this.matches.rematch([]);
          this.needsRematch = false;
        } else this.rematch(root);
      } else if (this.matches.isShort && this.table !== undefined) this.rematch(this.table);
      next = this.render();
    } catch (error) {
      if (!(error instanceof QueryCostError)) throw error;
      // What this render built in part is dropped: the documents are again those of the result
      // users see, and the touched rows stay touched for the next render.
      const shown = this.output.peek();
      this.docs = new Map(this.visibleRows.map((row, index) => [row, shown[index]!]));
      this.isDirty = true;
      const isNew = this.failureSignal.peek() !== error;
      this.failureSignal.value = error;
      return isNew;
    }
    this.touched.clear();
    const hadFailed = this.failureSignal.peek() !== undefined;
    this.failureSignal.value = undefined;
    if (next === before) return hadFailed;
    this.output.value = next;
    return true;
  }

  /** Why the result stopped following the data (it became too costly), or undefined while it follows. */
  get failure(): ReadonlySignal<QueryCostError | undefined> {
    return this.failureSignal;
  }

  private render(): readonly ResultDoc[] {
    const table = this.table;
    // The visible page: `limit` entries from the start, or after/before the query's cursor.
    const { entries } = this.matches;
    const bounds = this.page.bounds(entries);
    this.renders.value = this.renders.peek() + 1;
    const count = bounds.end - bounds.start;
    if (this.hasSameRows(bounds.start, count)) return this.patchTouched();
    const rows = new Array<number>(count);
    for (let i = 0; i < count; i++) rows[i] = entries[bounds.start + i]!.row;
    const previousRows = this.visibleRows;
    let isSame = previousRows.length === count && table !== undefined && this.output !== undefined;
    const docs = new Map<number, ResultDoc>();
    const list = new Array<ResultDoc>(count);
    const same = resultComparer();
    let materialize: MaterializePass | undefined;
    for (let i = 0; i < count; i++) {
      const row = rows[i]!;
      let doc = this.docs.get(row);
      if (doc === undefined || this.touched.has(row)) {
        const fresh = (materialize ??= this.materialize.pass())(table!, row);
        if (doc === undefined || !same(doc, fresh)) doc = fresh;
      }
      if (isSame && (previousRows[i] !== row || this.docs.get(row) !== doc)) isSame = false;
      docs.set(row, doc);
      list[i] = doc;
    }
    if (isSame) return this.output.peek();
    this.visibleRows = rows;
    this.positions = undefined;
    this.docs = docs;
    this.retainRelatedRows();
    // Other rows can read as equal documents (e.g. when `id` is not selected): the result
    // users see is unchanged then, so subscribers must not hear about it.
    const previous = this.output?.peek();
    if (previous !== undefined && same(previous, list)) return previous;
    return list;
  }

  /**
   * Whether the visible rows are the ones shown last, in the same order: then only touched rows
   * can have changed, and {@link patchTouched} updates just those. Most changes a query hears
   * about are outside its window, or to one row of a large window.
   */
  private hasSameRows(start: number, count: number): boolean {
    const previous = this.visibleRows;
    if (this.output === undefined || previous.length !== count) return false;
    const { entries } = this.matches;
    for (let i = 0; i < count; i++) if (previous[i] !== entries[start + i]!.row) return false;
    return true;
  }

  /** The previous result with the touched visible rows re-materialized (the same array if none changed). */
  private patchTouched(): readonly ResultDoc[] {
    const previous = this.output.peek();
    let list: ResultDoc[] | undefined;
    const same = resultComparer();
    let materialize: MaterializePass | undefined;
    for (const row of this.touched) {
      const doc = this.docs.get(row);
      if (doc === undefined) continue; // not visible
      const fresh = (materialize ??= this.materialize.pass())(this.table!, row);
      if (same(doc, fresh)) continue;
      list ??= previous.slice();
      list[this.visiblePosition(row)] = fresh;
      this.docs.set(row, fresh);
    }
    return list ?? previous;
  }

  private visiblePosition(row: number): number {
    if (this.positions === undefined) {
      this.positions = new Map();
      this.visibleRows.forEach((visible, index) => this.positions!.set(visible, index));
    }
    return this.positions.get(row)!;
  }

  private forgetRelatedRows(): void {
    for (const watch of this.relationWatches.values()) watch.clear();
  }

  /** Keeps related rows only for the shown documents: the others are built afresh if shown again. */
  private retainRelatedRows(): void {
    if (this.relationWatches.size === 0 || this.table === undefined) return;
    const table = this.table;
    const shown = new Set(this.visibleRows.map((row) => table.idOf(row)));
    for (const watch of this.relationWatches.values()) watch.retain((id) => shown.has(id));
  }

  private touchesAny(change: RowChange, dependencies: FieldDependencies): boolean {
    if (dependencies.isEveryField) return true;
    return change.changedAny(dependencies.fields);
  }
}

/** Stored fields whose change can alter the values of some query fields. */
interface FieldDependencies {
  readonly fields: ReadonlySet<string>;
  /** `updatedAt` changes with every write of a document. */
  readonly isEveryField: boolean;
}

function dependenciesOf(queryFields: readonly string[], query: NormalizedQuery): FieldDependencies {
  const fields = new Set<string>();
  for (const field of queryFields) {
    if (field === "id") continue; // ids never change
    fields.add(field);
    // A field only a rule's condition reads has no spec here, and no fallback that needs createdAt.
    const spec = query.specs[field];
    if (spec !== undefined && readDependsOnCreatedAt(spec)) fields.add(CREATED_AT_FIELD);
  }
  // Live queries over the same fields share one set: a row change remembers its answer for the
  // last set it was asked about, and many queries touch less memory.
  const key = [...fields].sort().join("\u0000");
  let shared = sharedDependencies.get(key);
  if (shared === undefined) {
    if (sharedDependencies.size >= MAX_SHARED_DEPENDENCIES) sharedDependencies.clear();
    sharedDependencies.set(key, (shared = { fields, isEveryField: fields.has("updatedAt") }));
  }
  return shared;
}

const sharedDependencies = new Map<string, FieldDependencies>();
const MAX_SHARED_DEPENDENCIES = 1024;
