import type { RowChange } from "../store/table.js";
import type { CostMeter } from "./query-cost.js";
import { candidateRows } from "./plan.js";
import { insertionPoint, type Keyed, type Ordering, sortKeyed } from "./order.js";
import type { RowTest } from "./predicate.js";
import type { NormalizedQuery } from "./normalized-query.js";
import type { SourceTable } from "./source.js";
import { RowBefore } from "./row-before.js";

/** How a row change altered a match set. */
export const enum MatchChange {
  None = 0,
  /** Only the number of matches changed: the sorted entries a page is cut from did not. */
  Count = 1,
  /** The sorted entries changed. */
  Entries = 2,
}

/**
 * The matches a live query keeps, sorted, for its page to be cut from: all of them, or (for a
 * small `limit` without cursors) only the first ones (see {@link TopMatches}).
 */
export interface MatchSet {
  /** Sorted matches from the first one: every match, or the first `entries.length` of them. */
  readonly entries: readonly Keyed[];
  /** How many rows match. */
  readonly total: number;
  /** Replaces the matches with `matches` (every one, in any order). */
  rematch(matches: Keyed[]): void;
  /** Folds one row change of its collection in. */
  apply(table: SourceTable, row: number, change: RowChange, meter: CostMeter | undefined): MatchChange;
  /** Folds one row change in whose membership is known: whether the row matches now, and did before. */
  applyMembership(
    table: SourceTable,
    row: number,
    change: RowChange,
    isMember: boolean,
    wasMember: boolean,
  ): MatchChange;
  /** Whether the entries hold fewer than the page needs though more rows match: then it must rematch. */
  readonly isShort: boolean;
  /** Every matching row (a working set must keep them in memory). */
  matchingRows(table: SourceTable | undefined): Iterable<number>;
}

/** What a match set needs from its query. */
export interface MatchRules {
  readonly query: Pick<NormalizedQuery, "where" | "specs">;
  readonly test: RowTest;
  readonly ordering: Ordering;
  /** Whether a change can move a row in the order. */
  touchesOrder(change: RowChange): boolean;
}

/**
 * Every match, sorted, with a map from row to entry: any page of the query (its cursors, its
 * limit) is a slice of it, and a row leaving the page is replaced without a rescan.
 */
export class AllMatches implements MatchSet {
  readonly entries: Keyed[] = [];
  private readonly members = new Map<number, Keyed>();
  readonly isShort = false;

  constructor(private readonly rules: MatchRules) {}

  get total(): number {
    return this.entries.length;
  }

  rematch(matches: Keyed[]): void {
    this.entries.length = 0;
    this.members.clear();
    for (const entry of sortKeyed(matches, this.rules.ordering.compare, undefined)) {
      this.entries.push(entry);
      this.members.set(entry.row, entry);
    }
  }

  matchingRows(): Iterable<number> {
    return this.members.keys();
  }

  apply(table: SourceTable, row: number, change: RowChange, meter: CostMeter | undefined): MatchChange {
    return this.applyMembership(table, row, change, table.isLive(row) && this.rules.test(table, row, meter));
  }

  /** Whether the row matched before is what the kept matches say. */
  applyMembership(table: SourceTable, row: number, change: RowChange, matches: boolean): MatchChange {
    const { ordering } = this.rules;
    const previous = this.members.get(row);
    if (previous === undefined) {
      if (!matches) return MatchChange.None;
      const entry = ordering.keyOf(table, row);
      insertAt(this.entries, insertionPoint(this.entries, entry, ordering.compare), entry);
      this.members.set(row, entry);
      return MatchChange.Entries;
    }
    if (!matches) {
      removeAt(this.entries, this.positionOf(previous));
      this.members.delete(row);
      return MatchChange.Entries;
    }
    if (!this.rules.touchesOrder(change)) return MatchChange.None;
    const entry = ordering.keyOf(table, row);
    if (ordering.compare(previous, entry) === 0) return MatchChange.None;
    removeAt(this.entries, this.positionOf(previous));
    insertAt(this.entries, insertionPoint(this.entries, entry, ordering.compare), entry);
    this.members.set(row, entry);
    return MatchChange.Entries;
  }

  private positionOf(entry: Keyed): number {
    // The order is total (ties broken by id), so the entry sits exactly before its insertion point.
    return insertionPoint(this.entries, entry, this.rules.ordering.compare) - 1;
  }
}

/**
 * The first matches only, and how many there are. For a query showing a few rows (a `limit`,
 * no cursors), keeping every match sorted costs a sorted insert or removal for each row that
 * enters or leaves anywhere in the set; here those beyond the kept entries cost a count. A
 * row's membership before a change is decided by testing its values before the change, so no
 * per-row state is kept either. When removals leave fewer entries than the page shows while
 * more rows match, the entries are computed again from the table (through its indexes); a
 * margin of extra entries makes that rare.
 *
 * Only for filters that read a row's own stored fields: a relational filter's answer before a
 * change is not known, and neither is `updatedAt` (`TopMatches.canKeep`).
 */
export class TopMatches implements MatchSet {
  readonly entries: Keyed[] = [];
  /** The rows of `entries`, in the same order: finding a row scans numbers, not entries. */
  private readonly rows: number[] = [];
  total = 0;
  /** Entries kept at most. */
  private readonly capacity: number;
  private readonly before = new RowBefore();

  constructor(
    private readonly rules: MatchRules,
    private readonly limit: number,
    /** Whether a change can alter whether a row matches. */
    private readonly touchesFilter: (change: RowChange) => boolean,
  ) {
    this.capacity = 2 * limit + 16;
  }

  /** Whether a query's matches can be kept this way (see the class comment). */
  static canKeep(query: {
    readonly limit?: number | undefined;
    readonly after?: unknown;
    readonly before?: unknown;
    readonly readsUpdatedAt: boolean;
    readonly hasRelatedFilters: boolean;
  }): query is { limit: number } & typeof query {
    return (
      query.limit !== undefined &&
      query.limit <= TOP_MATCHES_MAX_LIMIT &&
      query.after === undefined &&
      query.before === undefined &&
      !query.readsUpdatedAt &&
      !query.hasRelatedFilters
    );
  }

  get isShort(): boolean {
    return this.entries.length < Math.min(this.limit, this.total);
  }

  rematch(matches: Keyed[]): void {
    this.total = matches.length;
    const first = sortKeyed(matches, this.rules.ordering.compare, this.capacity);
    this.entries.length = 0;
    this.rows.length = 0;
    for (const entry of first) {
      this.entries.push(entry);
      this.rows.push(entry.row);
    }
  }

  matchingRows(table: SourceTable | undefined): number[] {
    if (table === undefined) return [];
    const rows: number[] = [];
    for (const row of candidateRows(table, this.rules.query)) if (this.rules.test(table, row)) rows.push(row);
    return rows;
  }

  apply(table: SourceTable, row: number, change: RowChange): MatchChange {
    const { test } = this.rules;
    const isLive = table.isLive(row);
    const isMember = isLive && test(table, row);
    const wasMember =
      change.wasLive === isLive && !this.touchesFilter(change)
        ? isMember
        : change.wasLive && test(this.before.of(table, change), row);
    return this.applyMembership(table, row, change, isMember, wasMember);
  }

  applyMembership(
    table: SourceTable,
    row: number,
    change: RowChange,
    isMember: boolean,
    wasMember: boolean,
  ): MatchChange {
    const { ordering } = this.rules;
    if (!wasMember && !isMember) return MatchChange.None;
    if (!isMember) {
      this.total--;
      const index = this.positionOf(row);
      if (index < 0) return MatchChange.Count;
      this.removeAt(index);
      return MatchChange.Entries;
    }
    if (!wasMember) {
      this.total++;
      return this.place(ordering.keyOf(table, row)) ? MatchChange.Entries : MatchChange.Count;
    }
    // Still a match: only a move along the order changes the entries.
    if (!this.rules.touchesOrder(change)) return MatchChange.None;
    const index = this.positionOf(row);
    const entry = ordering.keyOf(table, row);
    if (index < 0) return this.place(entry) ? MatchChange.Entries : MatchChange.None;
    if (ordering.compare(this.entries[index]!, entry) === 0) return MatchChange.None;
    this.removeAt(index);
    this.place(entry);
    return MatchChange.Entries;
  }

  /** Keeps a matching row that is not among the entries if it sorts among them; returns whether it did. */
  private place(entry: Keyed): boolean {
    const entries = this.entries;
    const { compare } = this.rules.ordering;
    // Every other match is kept: the row goes wherever it sorts. Otherwise only before the last
    // kept entry, as rows not kept may sort between it and the row.
    const keepsAllOthers = entries.length >= this.total - 1;
    if (!keepsAllOthers && (entries.length === 0 || compare(entry, entries[entries.length - 1]!) > 0)) return false;
    const index = insertionPoint(entries, entry, compare);
    insertAt(entries, index, entry);
    insertAt(this.rows, index, entry.row);
    if (entries.length > this.capacity) {
      entries.pop();
      this.rows.pop();
    }
    return true;
  }

  private removeAt(index: number): void {
    removeAt(this.entries, index);
    removeAt(this.rows, index);
  }

  /** Where a row sits among the entries, or -1 when it is not kept. */
  positionOf(row: number): number {
    return this.rows.indexOf(row);
  }
}

/** The largest `limit` whose live queries keep only their first matches. */
export const TOP_MATCHES_MAX_LIMIT = 200;

// Plain loops rather than `splice`: splice allocates an array of removed elements on every call,
// and a live query moves entries on most writes it hears about.
function insertAt<T>(entries: T[], index: number, entry: T): void {
  let i = entries.length;
  entries.push(entry);
  for (; i > index; i--) entries[i] = entries[i - 1]!;
  entries[index] = entry;
}

function removeAt<T>(entries: T[], index: number): void {
  const last = entries.length - 1;
  for (let i = index; i < last; i++) entries[i] = entries[i + 1]!;
  entries.pop();
}
