import type { FieldSpec } from "../schema/field.js";
import { type Condition, type FieldCondition, isFieldCondition } from "./query.js";
import { type FieldReader, fieldReader } from "./read-field.js";
import type { SourceTable } from "./source.js";

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
      return (value) => (members(value).length > 0) === operand;
    case "isUndefined":
      return (value) => (members(value).length === 0) === operand;
    default:
      // normalizeQuery only lets the operators above through for sets.
      return () => false;
  }
}

/** A compiled `where`: all conditions must hold. */
export type RowTest = (table: SourceTable, row: number) => boolean;

/**
 * Compiles a normalized `where` into one row test: every condition must hold; an `or` holds when
 * one of its branches does, a `not` when its conditions do not all hold.
 */
export function compileWhere(conditions: readonly Condition[], specs: Readonly<Record<string, FieldSpec>>): RowTest {
  const tests = conditions.map((condition) => compileCondition(condition, specs));
  if (tests.length === 0) return () => true;
  if (tests.length === 1) return tests[0]!;
  return (table, row) => {
    for (const test of tests) if (!test(table, row)) return false;
    return true;
  };
}

function compileCondition(condition: Condition, specs: Readonly<Record<string, FieldSpec>>): RowTest {
  if (isFieldCondition(condition)) {
    const spec = condition.spec ?? specs[condition.field]!;
    const read = fieldReader(condition.field, spec);
    const test = valueTest(condition, spec);
    return (table, row) => test(read(table, row));
  }
  if ("or" in condition) {
    const branches = condition.or.map((branch) => compileWhere(branch, specs));
    return (table, row) => {
      for (const branch of branches) if (branch(table, row)) return true;
      return false;
    };
  }
  const negated = compileWhere(condition.not, specs);
  return (table, row) => !negated(table, row);
}
