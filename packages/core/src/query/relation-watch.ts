import { readStored } from "../schema/read.js";
import type { RowChange } from "../store/table.js";
import { TOP_MATCHES_MAX_LIMIT, TopMatches } from "./live-matches.js";
import type { RelatedRows } from "./materialize.js";
import { type NormalizedRelation, relatedFilters, whereFields } from "./normalized-query.js";
import { compileOrder, type Keyed } from "./order.js";
import { compileWhere, linkedRowsOf } from "./predicate.js";
import type { CostMeter } from "./query-cost.js";
import { readFields } from "./live-relations.js";
import type { Source, SourceTable } from "./source.js";

/**
 * The first related rows of each shown parent, for a top-level reverse relation that shows a
 * few (`limit`, or `cardinality: "one"`): a live query asks it which parents a change of a
 * related row alters, and builds their documents from the kept rows instead of scanning every
 * linked row again.
 *
 * A related row's change reaches only the parents its link names before or after the change.
 * Each parent keeps its first matches like a small live query (`TopMatches`: the link to the
 * parent is part of the filter, tested on the values before the change too), so a row entering,
 * leaving or moving beyond the shown ones costs a count, and the parent is rebuilt only when its
 * shown rows were or are touched.
 */
export class RelationWatch {
  /** Kept matches by parent id: ids survive a parent's deletion and re-creation, rows do not. */
  private readonly kept = new Map<string, TopMatches>();
  /** Rows the relation shows per parent. */
  private readonly shown: number;
  private readonly test;
  private readonly ordering;
  private readonly linked;
  private readonly filterFields: ReadonlySet<string>;
  private readonly orderFields: ReadonlySet<string>;

  constructor(
    readonly relation: NormalizedRelation,
    private readonly source: Source,
  ) {
    const nested = relation.query;
    this.shown = RelationWatch.shownOf(relation)!;
    this.test = compileWhere(nested.where, nested.specs, source);
    this.ordering = compileOrder(nested.orderBy, nested.specs);
    this.linked = linkedRowsOf(relation);
    const filterFields = readFields(whereFields(nested.where), nested.specs);
    filterFields.add(relation.link);
    this.filterFields = filterFields;
    this.orderFields = readFields(
      nested.orderBy.map(([field]) => field),
      nested.specs,
    );
  }

  /**
   * Whether a top-level relation can be watched this way: a reverse link, a few rows shown, and
   * a filter and order that read only the related row's own stored fields (a relational
   * filter's answer before a change is not known, and a change does not list `updatedAt`).
   */
  static canWatch(relation: NormalizedRelation): boolean {
    const nested = relation.query;
    return (
      relation.direction === "reverse" &&
      RelationWatch.shownOf(relation) !== undefined &&
      relatedFilters(nested.where).length === 0 &&
      ![...whereFields(nested.where), ...nested.orderBy.map(([field]) => field)].includes("updatedAt")
    );
  }

  private static shownOf(relation: NormalizedRelation): number | undefined {
    const { limit } = relation.query;
    const shown = relation.cardinality === "one" ? Math.min(limit ?? 1, 1) : limit;
    return shown !== undefined && shown <= TOP_MATCHES_MAX_LIMIT ? shown : undefined;
  }

  /**
   * The shown related rows of a parent row, as `compileRelatedRows` finds them: from its kept
   * matches, or (first time, or too few kept) from every linked row, which it then keeps. The
   * meter is charged the linked rows either way, so the cost limit reads the same.
   */
  readonly rowsOf: RelatedRows = (table, row, meter) => {
    const related = this.source.table(this.relation.query.collection);
    if (related === undefined) return undefined;
    const id = table.idOf(row);
    let matches = this.kept.get(id);
    if (matches === undefined || matches.isShort) {
      matches ??= this.matchesFor(id);
      const entries: Keyed[] = [];
      const charge = meter === undefined ? undefined : (examined: number) => meter.charge(examined, this.relation.name);
      for (const candidate of this.linked(related, table, row, charge)) {
        if (this.test(related, candidate)) entries.push(this.ordering.keyOf(related, candidate));
      }
      matches.rematch(entries);
      this.kept.set(id, matches);
    } else {
      this.charge(related, id, meter);
    }
    const count = Math.min(this.shown, matches.entries.length);
    const rows = new Array<number>(count);
    for (let i = 0; i < count; i++) rows[i] = matches.entries[i]!.row;
    return { table: related, rows };
  };

  /**
   * Folds a change of a related row into the kept matches of the parents its link names before
   * or after the change, and calls `alter` with the id of each parent whose shown rows it may
   * alter: those where the row was or is shown, and those not kept (never built, or built while
   * the related collection did not exist).
   */
  apply(table: SourceTable, row: number, change: RowChange, alter: (parentId: string) => void): void {
    const link = this.relation.link;
    const now = table.get(row, link);
    forEachId(now, (id) => this.applyTo(id, table, row, change, alter));
    if (!change.changed(link)) return;
    forEachId(change.before(link), (id) => {
      if (!namesId(now, id)) this.applyTo(id, table, row, change, alter);
    });
  }

  private applyTo(
    parentId: string,
    table: SourceTable,
    row: number,
    change: RowChange,
    alter: (parentId: string) => void,
  ): void {
    const matches = this.kept.get(parentId);
    if (matches === undefined) return alter(parentId);
    const wasAt = matches.positionOf(row);
    matches.apply(table, row, change);
    if ((wasAt >= 0 && wasAt < this.shown) || matches.isShort) return alter(parentId);
    const isAt = matches.positionOf(row);
    if (isAt >= 0 && isAt < this.shown) alter(parentId);
  }

  /** Drops every kept match set: after changes not folded in (bulk commits, a failed fold). */
  clear(): void {
    this.kept.clear();
  }

  /** Drops the kept matches of parents no longer shown. */
  retain(isShown: (parentId: string) => boolean): void {
    for (const id of this.kept.keys()) if (!isShown(id)) this.kept.delete(id);
  }

  private matchesFor(parentId: string): TopMatches {
    const { link, linkSpec } = this.relation;
    const test = this.test;
    const rules = {
      query: this.relation.query,
      test: (table: SourceTable, row: number) =>
        namesId(readStored(linkSpec, table.get(row, link), undefined), parentId) && test(table, row),
      ordering: this.ordering,
      touchesOrder: (change: RowChange) => change.changedAny(this.orderFields),
    };
    return new TopMatches(rules, this.shown, (change) => change.changedAny(this.filterFields));
  }

  /** Charges what finding the parent's linked rows would examine (see `linkedRowsOf`). */
  private charge(related: SourceTable, parentId: string, meter: CostMeter | undefined): void {
    if (meter === undefined) return;
    const examined = related.equalityIndex
      ? related.equalityIndex(this.relation.link).get(parentId).size
      : related.liveCount;
    meter.charge(examined, this.relation.name);
  }
}

/** Calls `each` with the ids a stored link value names (a ref's id, a set's string members). */
function forEachId(value: unknown, each: (id: string) => void): void {
  if (typeof value === "string") each(value);
  else if (Array.isArray(value)) for (const member of new Set(value)) if (typeof member === "string") each(member);
}

/** Whether a link value names `id`. */
function namesId(value: unknown, id: string): boolean {
  return typeof value === "string" ? value === id : Array.isArray(value) && value.includes(id);
}
