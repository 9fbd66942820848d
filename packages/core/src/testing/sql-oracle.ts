import type { Operator } from "../query/normalized-query.js";

/**
 * Helpers of the SQLite oracle tests (query engine, relations): seeded randomness and the SQL
 * form of one `where` condition under the query engine's read rules (docs/queries.md). Test support only; not
 * exported from the package.
 */

/** A seeded source of randomness. */
export interface Rng {
  next(): number;
  int(min: number, max: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
}

/**
 * mulberry32: small, fast, and good enough to drive a test.
 * @example const rng = createRng(lawSeed()); rng.pick(["a", "b"]);
 */
export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)]!,
  };
}

/** How SQL reads one field: a column, or for a set field a membership subquery. */
export interface SqlField {
  /** The column as the query names it, e.g. `"score"` or `c."score"`. */
  readonly column: string;
  /** For a set field: `exists(test)` is true when some member passes `test` (SQL on `member`, or ""). */
  readonly set?: { readonly exists: (test: string) => string; readonly member: string };
}

const SQL_RANGE: Partial<Record<Operator, string>> = {
  greaterThan: ">",
  greaterThanOrEqual: ">=",
  lessThan: "<",
  lessThanOrEqual: "<=",
};

/**
 * One condition in SQL, binding operands into `params` (Dates as ms, booleans as 0/1): NULL
 * (undefined) matches no comparison but does match notEquals/notIn; a set matches by membership.
 *
 * @example conditionSql({ column: `"age"` }, "notEquals", 3, params) // (`"age"` IS NULL OR `"age"` <> ?)
 */
export function conditionSql(field: SqlField, op: Operator, operand: unknown, params: unknown[]): string {
  const column = field.column;
  const bind = (value: unknown) => {
    params.push(value instanceof Date ? value.getTime() : typeof value === "boolean" ? (value ? 1 : 0) : value);
    return "?";
  };
  const list = (values: readonly unknown[]) => `(${values.map(bind).join(", ")})`;
  if (field.set !== undefined) {
    const { exists, member } = field.set;
    switch (op) {
      case "equals":
        return exists(` AND ${member} = ${bind(operand)}`);
      case "notEquals":
        return `NOT ${exists(` AND ${member} = ${bind(operand)}`)}`;
      case "in":
        return exists(` AND ${member} IN ${list(operand as unknown[])}`);
      case "notIn":
        return `NOT ${exists(` AND ${member} IN ${list(operand as unknown[])}`)}`;
      case "isDefined":
        return operand ? exists("") : `NOT ${exists("")}`;
      case "isUndefined":
        return operand ? `NOT ${exists("")}` : exists("");
      default:
        throw new Error(`no SQL for ${op} on a set`);
    }
  }
  switch (op) {
    case "equals":
      return `${column} = ${bind(operand)}`;
    case "notEquals":
      return `(${column} IS NULL OR ${column} <> ${bind(operand)})`;
    case "contains":
      return `instr(${column}, ${bind(operand)}) > 0`;
    case "startsWith":
      return `substr(${column}, 1, length(${bind(operand)})) = ${bind(operand)}`;
    case "endsWith":
      return (
        `(length(${column}) >= length(${bind(operand)}) AND ` +
        `substr(${column}, length(${column}) - length(${bind(operand)}) + 1) = ${bind(operand)})`
      );
    case "in":
      return `${column} IN ${list(operand as unknown[])}`;
    case "notIn":
      return `(${column} IS NULL OR ${column} NOT IN ${list(operand as unknown[])})`;
    case "isDefined":
      return `${column} IS ${operand ? "NOT " : ""}NULL`;
    case "isUndefined":
      return `${column} IS ${operand ? "" : "NOT "}NULL`;
    default:
      return `${column} ${SQL_RANGE[op]} ${bind(operand)}`;
  }
}
