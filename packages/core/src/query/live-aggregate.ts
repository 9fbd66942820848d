import { type ReadonlySignal, signal } from "@preact/signals-core";
import type { RowChange } from "../store/table.js";
import { CREATED_AT_FIELD } from "../triples.js";
import { type Group, GroupAggregator } from "./aggregate-groups.js";
import type { AggregateResultRow, NormalizedAggregateQuery } from "./aggregate-query.js";
import type { LiveQueryRegistry } from "./live-registry.js";
import { type LiveView, rangeRouteOf, routeOf, type Watch } from "./live-view.js";
import { candidateRows } from "./plan.js";
import { relatedFilters, whereFields } from "./normalized-query.js";
import { RelationTracker } from "./live-relations.js";
import { compileWhere, type RowTest } from "./predicate.js";
import { readDependsOnCreatedAt } from "./read-field.js";
import type { Source, SourceTable } from "./source.js";

/** A group as the live view keeps it: its running aggregates, its rows, and its place in the order. */
interface LiveGroup {
  readonly state: Group;
  readonly mapKey: unknown;
  /** Rows of the group; kept only when a min/max may have to be found again among them. */
  readonly rows: Set<number>;
  /** The sort key the group is placed in `sorted` with; undefined while not placed. */
  placedSort: unknown[] | undefined;
  /** Its last rendered row (kept while equal by value, so unchanged rows keep their identity). */
  row: AggregateResultRow | undefined;
}

/** What a matching row contributes: its group and the values it added there. */
interface Member {
  readonly group: LiveGroup;
  readonly values: readonly unknown[];
}

/**
 * An aggregate query kept up to date incrementally (design 007). Each group keeps its count,
 * defined counts and exact sums, so a row change costs a predicate check and O(1) per aggregate;
 * a min/max is searched again among the group's rows only when its current extreme leaves.
 * Groups stay sorted; a flush re-places only the touched ones and publishes the rows as a signal
 * only if they changed by value.
 *
 * @example
 * import { effect } from "@preact/signals-core";
 * const live = acquireLiveAggregate(registry, store, normalizedAggregate);
 * effect(() => console.log(live.result.value));
 */
export class LiveAggregate implements LiveView {
  readonly query: NormalizedAggregateQuery;
  readonly watches: readonly Watch[];
  /** Stored fields whose change can alter the result; `dependsOnEveryField` overrides it. */
  readonly dependencies: ReadonlySet<string>;
  readonly dependsOnEveryField: boolean;
  private readonly aggregator: GroupAggregator;
  private readonly test: RowTest;
  private readonly hasExtremes: boolean;
  private readonly members = new Map<number, Member>();
  private readonly groups = new Map<unknown, LiveGroup>();
  private sorted: LiveGroup[] = [];
  private readonly touched = new Set<LiveGroup>();
  private needsFullSort = false;
  /** The groups before a rebuild, until it is flushed. */
  private retired: Map<unknown, LiveGroup> | undefined;
  private readonly output;

  /** Follows the collections its relational filters read (absent without any). */
  private readonly filters: RelationTracker | undefined;

  constructor(
    query: NormalizedAggregateQuery,
    private readonly source: Source,
  ) {
    this.query = query;
    this.filters = relatedFilters(query.where).length === 0 ? undefined : new RelationTracker(query, source);
    // Collections its filters read are watched unrouted: their changes are mapped back to rows.
    this.watches = [
      {
        collection: query.collection,
        route: routeOf(query.where, query.specs),
        range: rangeRouteOf(query.where, query.specs),
      },
      ...(this.filters?.collections ?? []).map((collection) => ({ collection })),
    ];
    this.aggregator = new GroupAggregator(query);
    this.test = compileWhere(query.where, query.specs, source);
    this.hasExtremes = query.aggregations.some(({ fn }) => fn === "min" || fn === "max");
    const fields = new Set<string>();
    const referenced = [
      ...whereFields(query.where),
      ...query.groupBy,
      ...query.aggregations.flatMap(({ field }) => (field === null ? [] : [field])),
    ];
    for (const field of referenced) {
      if (field === "id") continue; // ids never change
      fields.add(field);
      if (readDependsOnCreatedAt(query.specs[field]!)) fields.add(CREATED_AT_FIELD);
    }
    this.dependencies = fields;
    // `updatedAt` changes with every write of a document.
    this.dependsOnEveryField = fields.has("updatedAt");
    this.rebuild(source.table(query.collection));
    this.flushGroups();
    this.output = signal<readonly AggregateResultRow[]>(this.visibleRows());
  }

  /** The aggregated rows, as a signal: read `.value` inside a computed or effect to follow it. */
  get result(): ReadonlySignal<readonly AggregateResultRow[]> {
    return this.output;
  }

  /** Whether a committed row change could alter the result. */
  canSee(table: SourceTable, row: number, change: RowChange): boolean {
    if (table.name === this.query.collection) {
      if (change.wasLive !== table.isLive(row) || this.dependsOnEveryField || change.changedAny(this.dependencies))
        return true;
    }
    return this.filters?.canSee(table, row, change) ?? false;
  }

  /** Folds one row change in: out of its old group, into its new one. */
  apply(table: SourceTable, row: number, change: RowChange): void {
    if (this.filters !== undefined && this.filters.canSee(table, row, change)) {
      const root = this.source.table(this.query.collection);
      // Rows whose filters reach the changed document are decided again.
      if (root !== undefined)
        for (const each of this.filters.affectedRoots(table, row, change).retest)
          if (root !== table || each !== row) this.fold(root, each);
    }
    if (table.name === this.query.collection) this.fold(table, row);
  }

  private fold(table: SourceTable, row: number): void {
    const previous = this.members.get(row);
    if (!table.isLive(row) || !this.test(table, row)) {
      if (previous !== undefined) this.leave(row, previous);
      return;
    }
    const key = this.aggregator.keyOf(table, row);
    const mapKey = this.aggregator.mapKeyOf(key);
    const values = this.aggregator.valuesOf(table, row);
    if (previous !== undefined) {
      if (previous.group.mapKey === mapKey && sameValues(previous.values, values)) return;
      this.leave(row, previous);
    }
    this.enter(row, key, mapKey, values);
  }

  /** Its matching rows: a change to any other row is decided on that row alone. */
  heldRows(collection: string): Iterable<number> | undefined {
    return collection === this.query.collection ? this.members.keys() : undefined;
  }

  /** Recomputes every group from the table: cheaper than folding row by row for bulk commits. */
  reset(_table: SourceTable): void {
    this.rebuild(this.source.table(this.query.collection));
  }

  /** Publishes the rows if they changed by value; returns whether they did. */
  flush(): boolean {
    if (this.touched.size === 0 && !this.needsFullSort) return false;
    this.flushGroups();
    const before = this.output.peek();
    const next = this.visibleRows();
    if (next.length === before.length && next.every((row, i) => row === before[i])) return false;
    this.output.value = next;
    return true;
  }

  private rebuild(table: SourceTable | undefined): void {
    // Rows of the groups published so far are reused where equal: a bulk commit that leaves
    // the result unchanged publishes nothing.
    this.retired = new Map(this.groups);
    this.members.clear();
    this.groups.clear();
    this.sorted = [];
    this.touched.clear();
    this.needsFullSort = true;
    if (!this.aggregator.isGrouped) this.groupOf([], undefined);
    if (table === undefined) return;
    for (const row of candidateRows(table, this.query)) {
      if (!this.test(table, row)) continue;
      const key = this.aggregator.keyOf(table, row);
      this.enter(row, key, this.aggregator.mapKeyOf(key), this.aggregator.valuesOf(table, row));
    }
  }

  private groupOf(key: readonly unknown[], mapKey: unknown): LiveGroup {
    let group = this.groups.get(mapKey);
    if (group === undefined) {
      const row = this.retired?.get(mapKey)?.row;
      group = { state: this.aggregator.createGroup(key), mapKey, rows: new Set(), placedSort: undefined, row };
      this.groups.set(mapKey, group);
    }
    return group;
  }

  private enter(row: number, key: readonly unknown[], mapKey: unknown, values: readonly unknown[]): void {
    const group = this.groupOf(key, mapKey);
    this.aggregator.add(group.state, values);
    if (this.hasExtremes) group.rows.add(row);
    this.members.set(row, { group, values });
    this.touched.add(group);
  }

  private leave(row: number, member: Member): void {
    const { group } = member;
    this.aggregator.remove(group.state, member.values);
    if (this.hasExtremes) group.rows.delete(row);
    this.members.delete(row);
    this.touched.add(group);
  }

  /** Brings touched groups (or all, after a rebuild) up to date and into their place in the order. */
  private flushGroups(): void {
    if (this.needsFullSort) {
      this.needsFullSort = false;
      this.touched.clear();
      this.retired = undefined;
      this.sorted = [];
      for (const group of this.groups.values()) {
        this.refresh(group);
        this.sorted.push(group);
      }
      this.sorted.sort((a, b) => this.compare(a, b));
      return;
    }
    for (const group of this.touched) {
      if (group.state.count === 0 && this.aggregator.isGrouped) {
        if (group.placedSort !== undefined) this.sorted.splice(this.positionOf(group), 1);
        this.groups.delete(group.mapKey);
        continue;
      }
      const placed = group.placedSort;
      const position = placed === undefined ? -1 : this.positionOf(group);
      this.refresh(group);
      if (
        placed !== undefined &&
        this.aggregator.compare(placed, group.state.key, group.placedSort!, group.state.key) === 0
      )
        continue;
      if (position >= 0) this.sorted.splice(position, 1);
      this.sorted.splice(this.insertionPoint(group), 0, group);
    }
    this.touched.clear();
  }

  /** Recomputes a group's stale extremes, sort key and row (keeping the old row if equal). */
  private refresh(group: LiveGroup): void {
    for (const index of this.aggregator.staleExtremes(group.state)) {
      const values = Array.from(group.rows, (row) => this.members.get(row)!.values);
      this.aggregator.refreshExtreme(group.state, index, values);
    }
    group.placedSort = this.aggregator.sortKeyOf(group.state);
    const row = this.aggregator.rowOf(group.state);
    if (group.row === undefined || !sameRow(group.row, row)) group.row = row;
  }

  private visibleRows(): readonly AggregateResultRow[] {
    const count = Math.min(this.query.limit ?? Infinity, this.sorted.length);
    const rows = new Array<AggregateResultRow>(count);
    for (let i = 0; i < count; i++) rows[i] = this.sorted[i]!.row!;
    return rows;
  }

  private compare(a: LiveGroup, b: LiveGroup): number {
    return this.aggregator.compare(a.placedSort!, a.state.key, b.placedSort!, b.state.key);
  }

  /** Where a placed group sits (found by its placed sort key; group keys are unique). */
  private positionOf(group: LiveGroup): number {
    return this.insertionPoint(group) - 1;
  }

  /** Index after every group ordered before or equal to `group`. */
  private insertionPoint(group: LiveGroup): number {
    const sorted = this.sorted;
    let low = 0;
    let high = sorted.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.compare(sorted[mid]!, group) <= 0) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}

/**
 * The live aggregate of a normalized aggregate query from the registry, shared with identical
 * ones; pair with `registry.release(live)`.
 *
 * @example
 * const live = acquireLiveAggregate(registry, store, normalizedAggregate);
 * registry.release(live);
 */
export function acquireLiveAggregate(
  registry: LiveQueryRegistry,
  source: Source,
  query: NormalizedAggregateQuery,
): LiveAggregate {
  return registry.acquireView(`aggregate:${JSON.stringify(query)}`, () => new LiveAggregate(query, source));
}

function sameValues(a: readonly unknown[], b: readonly unknown[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameRow(a: AggregateResultRow, b: AggregateResultRow): boolean {
  for (const key in b) {
    const x = a[key];
    const y = b[key];
    if (x === y) continue;
    if (!(x instanceof Date && y instanceof Date && x.getTime() === y.getTime())) return false;
  }
  return true;
}
