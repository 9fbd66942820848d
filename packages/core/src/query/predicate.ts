import type { FieldSpec } from "../schema/field.js";
import type { CostMeter } from "./query-cost.js";
import { readStored } from "../schema/read.js";
import { type Condition, type FieldCondition, isFieldCondition, type RelatedFilter } from "./normalized-query.js";
import { fieldReader } from "./read-field.js";
import type { Source, SourceTable } from "./source.js";

/** A test of one value as read. */
export type ValueTest = (value: unknown) => boolean;

/**
 * The test of one condition against a value as read. Undefined matches no comparison but does
 * match `notEquals` and `notIn` (SQL's `x IS NULL OR x <> y`). On a set (refMany) value,
 * `equals`/`in` mean "contains", `notEquals`/`notIn` "does not contain".
 */
export function valueTest(condition: FieldCondition, spec: FieldSpec): ValueTest {
  if (spec.type === "refMany") return setTest(condition);
  if (spec.type === "any") {
    // A rule's field without a schema: a list is a set's members, anything else a plain value.
    const asSet = setTest(condition);
    const asValue = plainTest(condition);
    return (value) => (Array.isArray(value) ? asSet(value) : asValue(value));
  }
  return plainTest(condition);
}

function plainTest(condition: FieldCondition): ValueTest {
  const operand = condition.operand as never;
  switch (condition.op) {
    case "equals":
      return (value) => value === operand;
    case "notEquals":
      return (value) => value !== operand;
    case "contains":
      return (value) => typeof value === "string" && value.includes(operand);
    case "startsWith":
      return (value) => typeof value === "string" && value.startsWith(operand);
    case "endsWith":
      return (value) => typeof value === "string" && value.endsWith(operand);
    case "greaterThan":
      return (value) => typeof value === typeof operand && (value as number) > operand;
    case "greaterThanOrEqual":
      return (value) => typeof value === typeof operand && (value as number) >= operand;
    case "lessThan":
      return (value) => typeof value === typeof operand && (value as number) < operand;
    case "lessThanOrEqual":
      return (value) => typeof value === typeof operand && (value as number) <= operand;
    case "in": {
      const members = new Set(operand as unknown[]);
      return (value) => value !== undefined && members.has(value);
    }
    case "notIn": {
      const members = new Set(operand as unknown[]);
      return (value) => value === undefined || !members.has(value);
    }
    case "isDefined":
      return operand ? (value) => value !== undefined : (value) => value === undefined;
    case "isUndefined":
      return operand ? (value) => value === undefined : (value) => value !== undefined;
  }
}

function setTest(condition: FieldCondition): ValueTest {
  const operand = condition.operand;
  const members = (value: unknown) => value as readonly string[];
  switch (condition.op) {
    case "equals":
      return (value) => members(value).includes(operand as string);
    case "notEquals":
      return (value) => !members(value).includes(operand as string);
    case "in":
      return (value) => (operand as string[]).some((each) => members(value).includes(each));
    case "notIn":
      return (value) => !(operand as string[]).some((each) => members(value).includes(each));
    case "isDefined":
      return (value) => members(value).length > 0 === operand;
    case "isUndefined":
      return (value) => (members(value).length === 0) === operand;
    default:
      // normalizeQuery only lets the operators above through for sets.
      return () => false;
  }
}

/**
 * A compiled `where`: all conditions must hold. With a `meter`, the documents its relational
 * filters link to are charged to it before they are examined (answers it remembers cost nothing).
 */
export type RowTest = (table: SourceTable, row: number, meter?: CostMeter) => boolean;

/**
 * Compiles a normalized `where` into one row test: every condition must hold; an `or` holds when
 * one of its branches does, a `not` when its conditions do not all hold. Relational filters read
 * the documents they reach from `source` (required when the `where` has any).
 */
export function compileWhere(
  conditions: readonly Condition[],
  specs: Readonly<Record<string, FieldSpec>>,
  source?: Source,
): RowTest {
  const tests = conditions.map((condition) => compileCondition(condition, specs, source));
  if (tests.length === 0) return () => true;
  if (tests.length === 1) return tests[0]!;
  // Two or three conditions (the common shapes) without a loop: live queries run these on every
  // change they hear of.
  const [first, second, third] = tests as [RowTest, RowTest, RowTest?];
  if (tests.length === 2) return (table, row, meter) => first(table, row, meter) && second(table, row, meter);
  if (tests.length === 3)
    return (table, row, meter) => first(table, row, meter) && second(table, row, meter) && third!(table, row, meter);
  return (table, row, meter) => {
    for (let i = 0; i < tests.length; i++) if (!tests[i]!(table, row, meter)) return false;
    return true;
  };
}

function compileCondition(
  condition: Condition,
  specs: Readonly<Record<string, FieldSpec>>,
  source: Source | undefined,
): RowTest {
  if (isFieldCondition(condition)) {
    const spec = condition.spec ?? specs[condition.field]!;
    const read = fieldReader(condition.field, spec);
    const test = valueTest(condition, spec);
    return (table, row) => test(read(table, row));
  }
  if ("or" in condition) {
    const branches = condition.or.map((branch) => compileWhere(branch, specs, source));
    return (table, row, meter) => {
      for (const branch of branches) if (branch(table, row, meter)) return true;
      return false;
    };
  }
  if ("not" in condition) {
    const negated = compileWhere(condition.not, specs, source);
    return (table, row, meter) => !negated(table, row, meter);
  }
  if (source === undefined)
    throw new TypeError(`compileWhere: the filter through "${condition.related.link}" needs a source.`);
  return compileRelated(condition.related, source);
}

/**
 * A relational filter's test. Answers are remembered per row while the source does not change
 * (see `Source.version`), so a filter nested in another is decided once per document it reaches:
 * a query costs the links it follows, never their product. The links it follows are charged to
 * the meter as `where: <link>`.
 */
function compileRelated(filter: RelatedFilter, source: Source): RowTest {
  const test = compileWhere(filter.where, filter.specs, source);
  const reached = linkedRowsOf(filter);
  let answers = new Map<number, boolean>();
  let answersOf: SourceTable | undefined;
  let answersAt: number | undefined;
  const label = `where: ${filter.link}`;
  return (table, row, meter) => {
    const version = source.version;
    if (version === undefined || version !== answersAt || table !== answersOf) {
      answers = new Map();
      answersOf = table;
      answersAt = version;
    }
    const known = answers.get(row);
    if (known !== undefined) return known;
    const related = source.table(filter.collection);
    let holds = false;
    if (related !== undefined) {
      const charge = meter === undefined ? undefined : (examined: number) => meter.charge(examined, label);
      for (const candidate of reached(related, table, row, charge)) {
        if (test(related, candidate, meter)) {
          holds = true;
          break;
        }
      }
    }
    answers.set(row, holds);
    return holds;
  };
}

/**
 * The live rows of `related` that a relational filter or relation links to a row of `table`
 * (before its nested filter): the ids in a forward link, or the rows whose reverse link holds the
 * row's id.
 */
export function linkedRowsOf(
  link: Pick<RelatedFilter, "direction" | "link" | "linkSpec">,
): (related: SourceTable, table: SourceTable, row: number, charge?: (examined: number) => void) => number[] {
  if (link.direction === "forward") {
    return (related, table, row, charge) => {
      const rows: number[] = [];
      const ids = linkedIds(readStored(link.linkSpec, table.get(row, link.link), undefined));
      charge?.(ids.length);
      for (const id of ids) {
        const child = related.rowOf(id);
        if (child !== undefined) rows.push(child);
      }
      return rows;
    };
  }
  return (related, table, row, charge) => {
    const id = table.idOf(row);
    const linksBack = (child: number) =>
      linkedIds(readStored(link.linkSpec, related.get(child, link.link), undefined)).includes(id);
    // The index holds stored values, wrong-typed ones too (a ref stored as ["id"], a set field
    // holding one plain id), which read as no link: candidates are re-checked as read.
    const candidates = related.equalityIndex ? related.equalityIndex(link.link).get(id) : related.liveRows();
    charge?.(related.equalityIndex ? (candidates as ReadonlySet<number>).size : related.liveCount);
    const rows: number[] = [];
    for (const candidate of candidates) if (linksBack(candidate)) rows.push(candidate);
    return rows;
  };
}

/** The ids a link value (as read) names: a ref's one id, a set's members. */
export function linkedIds(value: unknown): readonly string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.filter((id): id is string => typeof id === "string");
  return [];
}
