import type { FieldSpec } from "../schema/field.js";
import { toUserValue } from "../schema/read.js";
import type { AggregateFunction, AggregateResultRow, NormalizedAggregateQuery } from "./aggregate-query.js";
import { compareValues } from "./compare.js";
import { ExactSum } from "./exact-sum.js";
import { type FieldReader, fieldReader } from "./read-field.js";
import type { SourceTable } from "./source.js";

/**
 * The running state of one group. Every aggregate is kept so that a row can be added and removed
 * in O(1): counts, exact sums, and min/max extremes (which go stale when the extreme leaves, and
 * are found again among the group's rows only then).
 */
export interface Group {
  /** Group field values in comparable form (dates as ms), in `groupBy` order. */
  readonly key: readonly unknown[];
  /** Rows in the group. */
  count: number;
  /** Per aggregate: rows whose value is defined. */
  readonly defined: number[];
  /** Per aggregate: the exact sum of the defined values (sum and avg only). */
  readonly sums: ReadonlyArray<ExactSum | undefined>;
  /** Per aggregate: the current extreme (min and max only). */
  readonly extremes: unknown[];
  /** Per aggregate: whether the extreme was removed and must be found again. */
  readonly isStale: boolean[];
}

interface CompiledAggregate {
  readonly name: string;
  readonly fn: AggregateFunction;
  /** Reads the value aggregated (undefined when missing); absent for `count: "*"`. */
  readonly read: FieldReader | undefined;
  /** Sign of "better" for min (-1) and max (1); 0 otherwise. */
  readonly sign: number;
  /** Users' form of the aggregate value. */
  readonly spec: FieldSpec | undefined;
}

interface CompiledSort {
  /** Index into the group key, or -1 when sorting by an aggregate. */
  readonly keyIndex: number;
  /** Index into the aggregates, when `keyIndex` is -1. */
  readonly aggregateIndex: number;
  readonly sign: number;
}

/** -0 and 0 are one value to users, to Maps and to SQL: the engine only ever shows 0. */
function withoutNegativeZero(read: FieldReader): FieldReader {
  return (table, row) => {
    const value = read(table, row);
    return value === 0 ? 0 : value;
  };
}

/**
 * The group-and-aggregate logic of a normalized aggregate query, shared by the one-shot run and
 * the live view: reading group keys and aggregated values, folding rows into groups, ordering
 * groups, and building result rows.
 *
 * @example
 * const table = store.table(normalizedAggregate.collection)!;
 * const row = table.rowOf("p1")!;
 * const aggregator = new GroupAggregator(normalizedAggregate);
 * const group = aggregator.createGroup(aggregator.keyOf(table, row));
 * aggregator.addRow(group, table, row);
 * aggregator.rowOf(group); // { tag: "a", n: 1, total: 3 }
 */
export class GroupAggregator {
  readonly isGrouped: boolean;
  private readonly groupReaders: FieldReader[];
  private readonly groupSpecs: FieldSpec[];
  private readonly aggregates: CompiledAggregate[];
  private readonly sorts: CompiledSort[];

  constructor(private readonly query: NormalizedAggregateQuery) {
    this.isGrouped = query.groupBy.length > 0;
    this.groupReaders = query.groupBy.map((field) => withoutNegativeZero(fieldReader(field, query.specs[field]!)));
    this.groupSpecs = query.groupBy.map((field) => query.specs[field]!);
    this.aggregates = query.aggregations.map(({ name, fn, field }) => {
      const spec = field === null ? undefined : query.specs[field]!;
      let read = field === null ? undefined : withoutNegativeZero(fieldReader(field, spec!));
      if (fn === "count" && read !== undefined) {
        // count only needs presence; an empty set (refMany) counts as missing, as in `isDefined`.
        const value = read;
        read = (table, row) => {
          const read = value(table, row);
          return read === undefined || (Array.isArray(read) && read.length === 0) ? undefined : true;
        };
      }
      return { name, fn, read, sign: fn === "min" ? -1 : fn === "max" ? 1 : 0, spec };
    });
    this.sorts = query.orderBy.map(([name, direction]) => ({
      keyIndex: query.groupBy.indexOf(name),
      aggregateIndex: query.aggregations.findIndex((aggregate) => aggregate.name === name),
      sign: direction === "desc" ? -1 : 1,
    }));
  }

  /** The group field values of a row, comparable form. */
  keyOf(table: SourceTable, row: number): unknown[] {
    const readers = this.groupReaders;
    const key = new Array<unknown>(readers.length);
    for (let i = 0; i < readers.length; i++) key[i] = readers[i]!(table, row);
    return key;
  }

  /** The Map key of a row's group ({@link mapKeyOf} of its key), without building the key for one field. */
  mapKeyOfRow(table: SourceTable, row: number): unknown {
    const readers = this.groupReaders;
    if (readers.length === 0) return undefined;
    if (readers.length === 1) return readers[0]!(table, row);
    return this.mapKeyOf(this.keyOf(table, row));
  }

  /**
   * A Map key for a group key: undefined without groupBy, the value itself for one field, a
   * JSON tuple for several.
   */
  mapKeyOf(key: readonly unknown[]): unknown {
    if (key.length === 0) return undefined;
    // Read values are strings, finite numbers, booleans or undefined: JSON keeps them apart
    // (undefined becomes null, which no read value is).
    return key.length === 1 ? key[0] : JSON.stringify(key);
  }

  createGroup(key: readonly unknown[]): Group {
    const count = this.aggregates.length;
    return {
      key,
      count: 0,
      defined: new Array<number>(count).fill(0),
      sums: this.aggregates.map(({ fn }) => (fn === "sum" || fn === "avg" ? new ExactSum() : undefined)),
      extremes: new Array<unknown>(count).fill(undefined),
      isStale: new Array<boolean>(count).fill(false),
    };
  }

  /** The values a row contributes, one per aggregate (undefined for `count: "*"`). */
  valuesOf(table: SourceTable, row: number): unknown[] {
    const aggregates = this.aggregates;
    const values = new Array<unknown>(aggregates.length);
    for (let i = 0; i < aggregates.length; i++) values[i] = aggregates[i]!.read?.(table, row);
    return values;
  }

  /** Folds a row into a group, reading its values from the table (one-shot runs). */
  addRow(group: Group, table: SourceTable, row: number): void {
    group.count++;
    const aggregates = this.aggregates;
    for (let i = 0; i < aggregates.length; i++) {
      const read = aggregates[i]!.read;
      if (read !== undefined) this.addValue(group, i, read(table, row));
    }
  }

  /** Folds a row's values (from {@link valuesOf}) into a group. */
  add(group: Group, values: readonly unknown[]): void {
    group.count++;
    for (let i = 0; i < values.length; i++) this.addValue(group, i, values[i]);
  }

  /** Takes a row's values (as added) out of a group; a removed extreme marks it stale. */
  remove(group: Group, values: readonly unknown[]): void {
    group.count--;
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      if (value === undefined) continue;
      const defined = --group.defined[i]!;
      const { sign } = this.aggregates[i]!;
      group.sums[i]?.add(-(value as number));
      if (sign === 0) continue;
      if (defined === 0) {
        group.extremes[i] = undefined;
        group.isStale[i] = false;
      } else if (!group.isStale[i] && compareValues(value, group.extremes[i]) === 0) {
        group.isStale[i] = true;
      }
    }
  }

  /** Indexes of the aggregates whose extreme must be found again. */
  staleExtremes(group: Group): number[] {
    const stale: number[] = [];
    for (let i = 0; i < group.isStale.length; i++) if (group.isStale[i]) stale.push(i);
    return stale;
  }

  /** Finds a stale extreme again from the values of the group's rows. */
  refreshExtreme(group: Group, index: number, rowsValues: Iterable<readonly unknown[]>): void {
    const sign = this.aggregates[index]!.sign;
    let extreme: unknown;
    for (const values of rowsValues) {
      const value = values[index];
      if (value !== undefined && (extreme === undefined || compareValues(value, extreme) * sign > 0)) extreme = value;
    }
    group.extremes[index] = extreme;
    group.isStale[index] = false;
  }

  /** The values the group is ordered by (comparable form), in `orderBy` order. */
  sortKeyOf(group: Group): unknown[] {
    return this.sorts.map(({ keyIndex, aggregateIndex }) =>
      keyIndex >= 0 ? group.key[keyIndex] : this.valueOf(group, aggregateIndex),
    );
  }

  /**
   * The order of aggregated rows: by `orderBy` with the engine's total order (undefined first
   * ascending, last descending), ties broken by the group key ascending. Group keys are unique,
   * so the order is total.
   */
  compare(
    aSort: readonly unknown[],
    aKey: readonly unknown[],
    bSort: readonly unknown[],
    bKey: readonly unknown[],
  ): number {
    const sorts = this.sorts;
    for (let i = 0; i < sorts.length; i++) {
      const order = compareValues(aSort[i], bSort[i]);
      if (order !== 0) return order * sorts[i]!.sign;
    }
    for (let i = 0; i < aKey.length; i++) {
      const order = compareValues(aKey[i], bKey[i]);
      if (order !== 0) return order;
    }
    return 0;
  }

  /** The result row of a group, in the form users see (Dates for dates). */
  rowOf(group: Group): AggregateResultRow {
    const row: AggregateResultRow = {};
    const groupBy = this.query.groupBy;
    for (let i = 0; i < groupBy.length; i++) row[groupBy[i]!] = toUserValue(this.groupSpecs[i]!, group.key[i]);
    const aggregates = this.aggregates;
    for (let i = 0; i < aggregates.length; i++) {
      const { name, sign, spec } = aggregates[i]!;
      const value = this.valueOf(group, i);
      row[name] = sign !== 0 && spec !== undefined ? toUserValue(spec, value) : value;
    }
    return row;
  }

  private addValue(group: Group, index: number, value: unknown): void {
    if (value === undefined) return;
    const defined = group.defined[index]!++;
    group.sums[index]?.add(value as number);
    const sign = this.aggregates[index]!.sign;
    if (sign === 0) return;
    if (defined === 0) {
      group.extremes[index] = value;
      return;
    }
    const order = compareValues(value, group.extremes[index]) * sign;
    if (group.isStale[index]) {
      // A stale extreme still holds the value that left, which bounds every remaining one: a
      // value reaching it is the new extreme without a search (a max that grows in place).
      if (order >= 0) {
        group.extremes[index] = value;
        group.isStale[index] = false;
      }
    } else if (order > 0) {
      group.extremes[index] = value;
    }
  }

  /** An aggregate's value in comparable form: over no values count and sum are 0, the rest undefined. */
  private valueOf(group: Group, index: number): unknown {
    const { fn } = this.aggregates[index]!;
    switch (fn) {
      case "count":
        return this.aggregates[index]!.read === undefined ? group.count : group.defined[index];
      case "sum":
        return group.sums[index]!.value();
      case "avg":
        return group.defined[index] === 0 ? undefined : group.sums[index]!.value() / group.defined[index]!;
      default:
        return group.defined[index] === 0 ? undefined : group.extremes[index];
    }
  }
}
