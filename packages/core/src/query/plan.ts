import type { FieldSpec } from "../schema/field.js";
import type { RangeBounds } from "../store/indexes.js";
import { valueTest } from "./predicate.js";
import { type FieldCondition, isFieldCondition, type NormalizedQuery } from "./normalized-query.js";
import { readDependsOnCreatedAt } from "./read-field.js";
import { readStored } from "../schema/read.js";
import type { SourceTable } from "./source.js";

const RANGE_OPERATORS = new Set(["greaterThan", "greaterThanOrEqual", "lessThan", "lessThanOrEqual"]);

/**
 * Whether an index on the field's stored values can answer the condition: only if a document
 * without a (valid) stored value could not match, since indexes hold stored values and the
 * condition sees values after fallbacks.
 */
export function indexCanAnswer(condition: FieldCondition, spec: FieldSpec): boolean {
  if (spec.type === "json" || readDependsOnCreatedAt(spec)) return false;
  if (condition.field === "updatedAt") return false;
  return !valueTest(condition, spec)(readStored(spec, undefined, undefined));
}

/**
 * Picks the rows worth testing: an id lookup, the smallest equality-index hit, a range-index
 * slice, or (failing those) every live row. Every candidate is still tested against the whole
 * `where`, so the plan affects speed only.
 */
export function candidateRows(table: SourceTable, query: Pick<NormalizedQuery, "where" | "specs">): Iterable<number> {
  let best: Iterable<number> | undefined;
  let bestSize = table.liveCount;
  const consider = (rows: Iterable<number>, size: number) => {
    if (size < bestSize || best === undefined) {
      best = rows;
      bestSize = size;
    }
  };
  const ranges = new Map<string, { -readonly [K in keyof RangeBounds]: RangeBounds[K] }>();
  for (const condition of query.where) {
    // Only conditions every match meets narrow the candidates; `or` and `not` are tested after.
    if (!isFieldCondition(condition)) continue;
    const spec = condition.spec ?? query.specs[condition.field]!;
    if (condition.field === "id") {
      const ids =
        condition.op === "equals"
          ? [condition.operand]
          : condition.op === "in"
            ? (condition.operand as unknown[])
            : undefined;
      if (ids !== undefined) {
        // An id listed twice in `in` is still one candidate: duplicates would repeat the document.
        const rows = [...new Set(ids)]
          .map((id) => table.rowOf(id as string))
          .filter((row): row is number => row !== undefined);
        consider(rows, rows.length);
      }
      continue;
    }
    if (!indexCanAnswer(condition, spec)) continue;
    if ((condition.op === "equals" || condition.op === "in") && table.equalityIndex) {
      const index = table.equalityIndex(condition.field);
      if (condition.op === "equals") {
        const rows = index.get(condition.operand);
        consider(rows, rows.size);
      } else {
        const union = new Set<number>();
        for (const operand of condition.operand as unknown[]) for (const row of index.get(operand)) union.add(row);
        consider(union, union.size);
      }
    } else if (RANGE_OPERATORS.has(condition.op) && table.rangeIndex && spec.type !== "refMany") {
      let bounds = ranges.get(condition.field);
      if (bounds === undefined) ranges.set(condition.field, (bounds = {}));
      tighten(bounds, condition);
    }
  }
  let bestRange: [string, RangeBounds] | undefined;
  for (const [field, bounds] of ranges) {
    const size = table.rangeIndex!(field).count(bounds);
    if (size < bestSize) {
      bestRange = [field, bounds];
      bestSize = size;
    }
  }
  if (bestRange !== undefined) return table.rangeIndex!(bestRange[0]).lookup(bestRange[1]);
  return best ?? table.liveRows();
}

function tighten(bounds: { -readonly [K in keyof RangeBounds]: RangeBounds[K] }, condition: FieldCondition): void {
  const operand = condition.operand as number | string;
  if (condition.op === "greaterThan" || condition.op === "greaterThanOrEqual") {
    const inclusive = condition.op === "greaterThanOrEqual";
    if (bounds.lower === undefined || operand > bounds.lower || (operand === bounds.lower && !inclusive)) {
      bounds.lower = operand;
      bounds.lowerInclusive = inclusive;
    }
  } else {
    const inclusive = condition.op === "lessThanOrEqual";
    if (bounds.upper === undefined || operand < bounds.upper || (operand === bounds.upper && !inclusive)) {
      bounds.upper = operand;
      bounds.upperInclusive = inclusive;
    }
  }
}
