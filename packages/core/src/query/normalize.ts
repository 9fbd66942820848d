import { type DatabaseResult, fail, ok } from "../errors.js";
import type { FieldSpec } from "../schema/field.js";
import type { CollectionSpec } from "../schema/types.js";
import { describe } from "../schema/validate.js";
import { isNestedQuery, normalizeRelation, resolveLink } from "./normalize-relation.js";
import {
  type Condition,
  type Direction,
  type FieldCondition,
  fieldSpecOf,
  type NormalizedQuery,
  type NormalizedRelation,
  type Operator,
  OPERATORS,
  type RelatedFilter,
} from "./normalized-query.js";

const STRING_OPERATORS = new Set<Operator>(["contains", "startsWith", "endsWith"]);
const RANGE_OPERATORS = new Set<Operator>(["greaterThan", "greaterThanOrEqual", "lessThan", "lessThanOrEqual"]);
const SET_OPERATORS = new Set<Operator>(["equals", "notEquals", "in", "notIn", "isDefined", "isUndefined"]);
const QUERY_KEYS = new Set(["fields", "where", "orderBy", "limit"]);

type Invalid = { readonly data: undefined; readonly error: NonNullable<DatabaseResult<never>["error"]> };

function invalid(collection: string, message: string, details?: Record<string, unknown>): Invalid {
  return fail("VALIDATION", `${collection} query: ${message}`, details);
}

/**
 * Checks a user query against its collection and reduces it to a {@link NormalizedQuery}:
 * bare values become `equals`, dates become epoch ms, `orderBy` becomes a list of tuples,
 * and the read rules of every referenced field are attached.
 *
 * @example
 * normalizeQuery(schema.collections.users!, { where: { age: { greaterThan: 25 } }, limit: 10 })
 */
export function normalizeQuery(
  collection: CollectionSpec,
  input: unknown,
  collections?: Readonly<Record<string, CollectionSpec>>,
  depth = 0,
): DatabaseResult<NormalizedQuery> {
  const name = collection.name;
  const query = (input ?? {}) as Record<string, unknown>;
  if (typeof query !== "object" || Array.isArray(query))
    return invalid(name, `expected a query object, got ${describe(input)}.`);
  for (const key of Object.keys(query)) {
    if (key === "via" && depth > 0) continue; // a nested query may name its link field
    if (!QUERY_KEYS.has(key)) return invalid(name, `unknown option "${key}" (expected fields, where, orderBy, limit).`);
  }
  const specs: Record<string, FieldSpec> = {};
  const specOf = (field: string): FieldSpec | undefined => {
    const spec = fieldSpecOf(collection, field);
    if (spec !== undefined) specs[field] = spec;
    return spec;
  };

  const relations: NormalizedRelation[] = [];
  const select = normalizeFields(collection, query.fields, specOf, (field, nested) => {
    const relation = normalizeRelation(collection, field, nested, collections, depth, normalizeQuery);
    if (relation.data !== undefined) relations.push(relation.data);
    return relation.error;
  });
  if (select.error) return select;
  const where = normalizeWhere(collection, query.where, specOf, { collections, relationDepth: depth });
  if (where.error) return where;
  const orderBy = normalizeOrderBy(collection, query.orderBy, specOf);
  if (orderBy.error) return orderBy;
  const limit = query.limit;
  if (limit !== undefined && !(typeof limit === "number" && Number.isInteger(limit) && limit >= 0)) {
    return invalid(name, `limit must be a whole number >= 0, got ${describe(limit)}.`);
  }
  const normalized = { collection: name, select: select.data, where: where.data, orderBy: orderBy.data, limit, specs };
  return ok(relations.length > 0 ? { ...normalized, relations } : normalized);
}

function normalizeFields(
  collection: CollectionSpec,
  fields: unknown,
  specOf: (field: string) => FieldSpec | undefined,
  addRelation: (field: string, nested: unknown) => DatabaseResult<never>["error"],
): DatabaseResult<string[]> {
  if (fields === undefined) {
    const all = ["id", ...Object.keys(collection.fields)];
    for (const field of all) specOf(field);
    return ok(all);
  }
  if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
    return invalid(collection.name, `fields must be an object like { name: true }, got ${describe(fields)}.`);
  }
  const select: string[] = [];
  for (const [field, wanted] of Object.entries(fields)) {
    if (isNestedQuery(wanted)) {
      // A forward relation reads its link field: its read rule belongs with the others (live
      // queries look it up). An entity name (a reverse relation) has no spec here.
      specOf(field);
      const error = addRelation(field, wanted);
      if (error) return { data: undefined, error };
      continue;
    }
    if (specOf(field) === undefined)
      return invalid(collection.name, `fields.${field} is not a field of ${collection.name}.`, { field });
    if (wanted === true) select.push(field);
    // `false` would read as "every field but this one" to some and "ignored" to others: refused.
    else if (wanted !== undefined) {
      return invalid(
        collection.name,
        `fields.${field} must be true (leave a field out not to select it), got ${describe(wanted)}.`,
        { field },
      );
    }
  }
  return ok(select);
}

/** How deep `or`, `and` and `not` may nest in one `where`. */
const MAX_WHERE_DEPTH = 8;
/** How deep relational filters may nest (as relations in `fields`). */
const MAX_RELATION_DEPTH = 8;

/** What a `where` needs to resolve relational filters: the schema's collections, and how deep it sits. */
interface WhereContext {
  readonly collections: Readonly<Record<string, CollectionSpec>> | undefined;
  readonly relationDepth: number;
}

function normalizeWhere(
  collection: CollectionSpec,
  where: unknown,
  specOf: (field: string) => FieldSpec | undefined,
  context: WhereContext,
  path = "where",
  depth = 0,
): DatabaseResult<Condition[]> {
  if (where === undefined) return ok([]);
  if (typeof where !== "object" || where === null || Array.isArray(where) || where instanceof Date) {
    return invalid(collection.name, `${path} must be an object of field conditions, got ${describe(where)}.`);
  }
  if (depth > MAX_WHERE_DEPTH)
    return invalid(collection.name, `${path}: or, and and not nest at most ${MAX_WHERE_DEPTH} deep.`);
  const conditions: Condition[] = [];
  const whereOfEach = (key: "or" | "and", value: unknown): DatabaseResult<Condition[][]> => {
    if (!Array.isArray(value) || value.length === 0)
      return invalid(collection.name, `${path}.${key} takes a non-empty list of filters, got ${describe(value)}.`);
    const branches: Condition[][] = [];
    for (const [index, each] of value.entries()) {
      const branch = normalizeWhere(collection, each, specOf, context, `${path}.${key}[${index}]`, depth + 1);
      if (branch.error) return branch;
      branches.push(branch.data);
    }
    return ok(branches);
  };
  for (const [field, filter] of Object.entries(where)) {
    if (filter === undefined) continue; // lets callers build filters with optional parts
    if (field === "or" || field === "and") {
      const branches = whereOfEach(field, filter);
      if (branches.error) return branches;
      if (field === "or") conditions.push({ or: branches.data });
      else for (const branch of branches.data) conditions.push(...branch);
      continue;
    }
    if (field === "not") {
      const negated = normalizeWhere(collection, filter, specOf, context, `${path}.not`, depth + 1);
      if (negated.error) return negated;
      conditions.push({ not: negated.data });
      continue;
    }
    if (isRelatedFilter(filter)) {
      const related = normalizeRelatedFilter(collection, field, filter, specOf, context, `${path}.${field}`);
      if (related.error) return related;
      conditions.push({ related: related.data });
      continue;
    }
    const spec = specOf(field);
    if (spec === undefined)
      return invalid(collection.name, `${path}.${field} is not a field of ${collection.name}.`, { field });
    const isOperatorObject =
      typeof filter === "object" &&
      filter !== null &&
      !Array.isArray(filter) &&
      !(filter instanceof Date) &&
      Object.getPrototypeOf(filter) === Object.prototype;
    const entries: Array<[string, unknown]> = isOperatorObject ? Object.entries(filter) : [["equals", filter]];
    for (const [op, operand] of entries) {
      if (operand === undefined) continue;
      const condition = normalizeCondition(collection.name, `${path}.${field}`, field, spec, op, operand);
      if (condition.error) return condition;
      conditions.push(condition.data);
    }
  }
  return ok(conditions);
}

/** Whether a `where` entry is a relational filter (`{ where: {…} }`, optionally with `via`) rather than operators. */
function isRelatedFilter(filter: unknown): filter is { readonly where: unknown; readonly via?: unknown } {
  return (
    typeof filter === "object" &&
    filter !== null &&
    !Array.isArray(filter) &&
    Object.getPrototypeOf(filter) === Object.prototype &&
    Object.hasOwn(filter, "where")
  );
}

/**
 * Resolves a relational filter as relations in `fields` are resolved (`normalizeRelation`): a
 * `t.ref` / `t.refMany` field reaches the documents it names, an entity name the documents whose
 * ref field (named with `via` when several) points back.
 */
function normalizeRelatedFilter(
  collection: CollectionSpec,
  key: string,
  filter: { readonly where: unknown; readonly via?: unknown },
  specOf: (field: string) => FieldSpec | undefined,
  context: WhereContext,
  path: string,
): DatabaseResult<RelatedFilter> {
  const name = collection.name;
  for (const option of Object.keys(filter)) {
    if (option !== "where" && option !== "via")
      return invalid(name, `${path}: a relational filter takes where (and via), got "${option}".`, { field: key });
  }
  const { collections } = context;
  if (collections === undefined)
    return invalid(name, `${path}: relational filters need the schema's collections.`, { field: key });
  if (context.relationDepth + 1 > MAX_RELATION_DEPTH)
    return invalid(name, `${path}: relational filters nest at most ${MAX_RELATION_DEPTH} deep.`, { field: key });
  const link = resolveLink(collection, key, filter.via, collections);
  if (typeof link === "string") return invalid(name, `${path}${link}`, { field: key });
  // The forward link is a field of this collection: its read rule travels with the query's.
  if (link.direction === "forward") specOf(key);
  const target = collections[link.collection]!;
  const specs: Record<string, FieldSpec> = {};
  const targetSpecOf = (field: string): FieldSpec | undefined => {
    const spec = fieldSpecOf(target, field);
    if (spec !== undefined) specs[field] = spec;
    return spec;
  };
  const nested = normalizeWhere(
    target,
    filter.where,
    targetSpecOf,
    { collections, relationDepth: context.relationDepth + 1 },
    `${path}.where`,
  );
  if (nested.error) return nested;
  return ok({ ...link, where: nested.data, specs });
}

function normalizeCondition(
  collection: string,
  where: string,
  field: string,
  spec: FieldSpec,
  op: string,
  operand: unknown,
): DatabaseResult<FieldCondition> {
  if (!OPERATORS.has(op as Operator)) {
    return invalid(
      collection,
      `${where} has unknown operator "${op}" (expected one of ${[...OPERATORS].join(", ")}).`,
      { field },
    );
  }
  const operator = op as Operator;
  if (operator === "isDefined" || operator === "isUndefined") {
    if (typeof operand !== "boolean") return invalid(collection, `${where}.${op} takes true or false.`, { field });
    return ok({ field, op: operator, operand });
  }
  if (spec.type === "json")
    return invalid(collection, `${where}: JSON fields can only be filtered with isDefined / isUndefined.`, { field });
  if (spec.type === "refMany" && !SET_OPERATORS.has(operator)) {
    return invalid(
      collection,
      `${where}: a refMany field takes equals, notEquals, in, notIn (membership) or isDefined.`,
      { field },
    );
  }
  if (STRING_OPERATORS.has(operator) && spec.type !== "string" && spec.type !== "ref") {
    return invalid(collection, `${where}.${op} works on strings only.`, { field });
  }
  if (RANGE_OPERATORS.has(operator) && !["number", "string", "date", "ref"].includes(spec.type)) {
    return invalid(collection, `${where}.${op} works on numbers, strings and dates only.`, { field });
  }
  if (operator === "in" || operator === "notIn") {
    if (!Array.isArray(operand))
      return invalid(collection, `${where}.${op} takes an array, got ${describe(operand)}.`, { field });
    const members: unknown[] = [];
    for (const each of operand) {
      const converted = toComparable(spec, each);
      if (converted === INVALID)
        return invalid(collection, `${where}.${op} contains ${describe(each)}, expected ${expected(spec)}.`, { field });
      members.push(converted);
    }
    return ok({ field, op: operator, operand: members });
  }
  const converted = toComparable(spec, operand);
  if (converted === INVALID)
    return invalid(collection, `${where}.${op} expects ${expected(spec)}, got ${describe(operand)}.`, { field });
  return ok({ field, op: operator, operand: converted });
}

const INVALID = Symbol("invalid");

function toComparable(spec: FieldSpec, value: unknown): unknown {
  switch (spec.type) {
    case "string":
    case "ref":
    case "refMany":
      return typeof value === "string" ? value : INVALID;
    case "number":
      return typeof value === "number" && !Number.isNaN(value) ? value : INVALID;
    case "boolean":
      return typeof value === "boolean" ? value : INVALID;
    case "date":
      return value instanceof Date && Number.isFinite(value.getTime()) ? value.getTime() : INVALID;
    default:
      return INVALID;
  }
}

function expected(spec: FieldSpec): string {
  if (spec.type === "date") return "a valid Date";
  if (spec.type === "ref" || spec.type === "refMany") return "an id string";
  return `a ${spec.type}`;
}

function normalizeOrderBy(
  collection: CollectionSpec,
  orderBy: unknown,
  specOf: (field: string) => FieldSpec | undefined,
): DatabaseResult<Array<readonly [string, Direction]>> {
  if (orderBy === undefined) return ok([]);
  if (!Array.isArray(orderBy))
    return invalid(collection.name, `orderBy must be ["field", "asc" | "desc"] or a list of those.`);
  const tuples: unknown[] = typeof orderBy[0] === "string" ? [orderBy] : orderBy;
  const result: Array<readonly [string, Direction]> = [];
  for (const tuple of tuples) {
    if (
      !Array.isArray(tuple) ||
      typeof tuple[0] !== "string" ||
      (tuple[1] !== "asc" && tuple[1] !== "desc") ||
      tuple.length !== 2
    ) {
      return invalid(
        collection.name,
        `orderBy entries must be ["field", "asc" | "desc"], got ${JSON.stringify(tuple)}.`,
      );
    }
    const field = tuple[0];
    const spec = specOf(field);
    if (spec === undefined)
      return invalid(collection.name, `orderBy: ${field} is not a field of ${collection.name}.`, { field });
    if (spec.type === "json" || spec.type === "refMany") {
      return invalid(collection.name, `orderBy: ${field} is a ${spec.type} field and cannot be sorted on.`, { field });
    }
    result.push([field, tuple[1]]);
  }
  return ok(result);
}
