import {
  type Condition,
  type Cursor,
  type Direction,
  type FieldCondition,
  type NormalizedQuery,
  type NormalizedRelation,
  OPERATORS,
  type RelatedFilter,
  whereFields,
} from "../query/normalized-query.js";
import type { FieldSpec, FieldType } from "../schema/field.js";
import {
  describe,
  Invalid,
  readArray,
  readKnownKeys,
  readList,
  readRecord,
  schema,
  type WireSchema,
} from "./wire-schema.js";
import { MAX_STRING_ID, readJsonValue, readName, readOneOf, readString } from "./wire-values.js";

// A normalized query is read by hand, not composed: its limits count across levels (relations
// and conditions of the whole query) and nest (relations in relations, filters in filters). The
// server has no schema, so only its shape is checked, and the read rules of the fields it uses.

/** Nesting limit of relations (the one `normalizeQuery` enforces) and of object/array specs. */
const MAX_DEPTH = 8;
/** Relations in one query, at every level together: each one multiplies the work of a result. */
const MAX_RELATIONS = 32;
/** Conditions, selected fields and sort keys of one query level. */
const MAX_CONDITIONS = 64;
const MAX_FIELDS = 512;
const MAX_ORDER_KEYS = 16;

const FIELD_TYPES = new Set<FieldType>([
  "string",
  "number",
  "boolean",
  "date",
  "json",
  "ref",
  "refMany",
  "object",
  "array",
]);

type Obj = Record<string, unknown>;

function readBoolean(value: unknown, path: string): boolean {
  if (typeof value !== "boolean") throw new Invalid(path, `expected true or false, got ${describe(value)}`);
  return value;
}

function fieldSpec(value: unknown, path: string, depth: number): FieldSpec {
  if (depth > MAX_DEPTH) throw new Invalid(path, `field specs nest at most ${MAX_DEPTH} deep`);
  const raw = readKnownKeys(value, path, ["type", "optional", "fallback", "target", "fields", "items"]);
  const spec: { -readonly [K in keyof FieldSpec]: FieldSpec[K] } = {
    type: readOneOf(raw.type, `${path}.type`, FIELD_TYPES),
    optional: readBoolean(raw.optional, `${path}.optional`),
  };
  if (raw.fallback !== undefined) spec.fallback = readJsonValue(raw.fallback, `${path}.fallback`);
  if (raw.target !== undefined) spec.target = readName(raw.target, `${path}.target`);
  if (raw.fields !== undefined) spec.fields = specs(raw.fields, `${path}.fields`, depth + 1);
  if (raw.items !== undefined) spec.items = fieldSpec(raw.items, `${path}.items`, depth + 1);
  return spec;
}

function specs(value: unknown, path: string, depth: number): Record<string, FieldSpec> {
  const raw = readRecord(value, path);
  const count = Object.keys(raw).length;
  if (count > MAX_FIELDS) throw new Invalid(path, `at most ${MAX_FIELDS} field specs, got ${count}`);
  const out: Record<string, FieldSpec> = {};
  for (const [key, each] of Object.entries(raw))
    out[readName(key, `${path} key`)] = fieldSpec(each, `${path}.${key}`, depth);
  return out;
}

/** How deep `or` and `not` may nest in one `where` (as `normalizeQuery` allows). */
const MAX_WHERE_DEPTH = 8;

/**
 * The conditions of a `where` (one level of a query, `or` and `not` included), counted in
 * `shape`; `level` is how deep in relations and relational filters the `where` sits.
 */
function conditions(value: unknown, path: string, shape: QueryShape, level: number, depth = 0): Condition[] {
  if (depth > MAX_WHERE_DEPTH) throw new Invalid(path, `or and not nest at most ${MAX_WHERE_DEPTH} deep`);
  return readList(value, path, MAX_CONDITIONS, "conditions").map((each, index) =>
    condition(each, `${path}[${index}]`, shape, level, depth),
  );
}

function condition(value: unknown, path: string, shape: QueryShape, level: number, depth: number): Condition {
  if (++shape.conditions > MAX_CONDITIONS * 4)
    throw new Invalid(path, `a query has at most ${MAX_CONDITIONS * 4} conditions at all levels together`);
  const keys = typeof value === "object" && value !== null ? Object.keys(value) : [];
  if (keys.length === 1 && keys[0] === "or") {
    const branches = readList((value as Obj).or, `${path}.or`, MAX_CONDITIONS, "branches");
    if (branches.length === 0) throw new Invalid(`${path}.or`, "expected at least one branch");
    return { or: branches.map((branch, index) => conditions(branch, `${path}.or[${index}]`, shape, level, depth + 1)) };
  }
  if (keys.length === 1 && keys[0] === "not")
    return { not: conditions((value as Obj).not, `${path}.not`, shape, level, depth + 1) };
  if (keys.length === 1 && keys[0] === "related")
    return { related: relatedFilter((value as Obj).related, `${path}.related`, shape, level) };
  return fieldCondition(value, path);
}

/** A relational filter: it counts as a relation of the query, and nests as relations do. */
function relatedFilter(value: unknown, path: string, shape: QueryShape, level: number): RelatedFilter {
  if (level + 1 > MAX_DEPTH) throw new Invalid(path, `relations and relational filters nest at most ${MAX_DEPTH} deep`);
  if (++shape.relations > MAX_RELATIONS)
    throw new Invalid(
      path,
      `a query has at most ${MAX_RELATIONS} relations and relational filters at all levels together`,
    );
  const raw = readKnownKeys(value, path, ["direction", "link", "linkSpec", "collection", "where", "specs"]);
  const where = conditions(raw.where, `${path}.where`, shape, level + 1);
  const filterSpecs = specs(raw.specs, `${path}.specs`, 0);
  const unspecified = whereFields(where).find((field) => !Object.hasOwn(filterSpecs, field));
  if (unspecified !== undefined)
    throw new Invalid(`${path}.specs`, `no spec for the field ${JSON.stringify(unspecified)} the filter uses`);
  return {
    direction: readOneOf(raw.direction, `${path}.direction`, LINK_DIRECTIONS),
    link: readName(raw.link, `${path}.link`),
    linkSpec: fieldSpec(raw.linkSpec, `${path}.linkSpec`, 0),
    collection: readName(raw.collection, `${path}.collection`),
    where,
    specs: filterSpecs,
  };
}

function fieldCondition(value: unknown, path: string): FieldCondition {
  const raw = readKnownKeys(value, path, ["field", "op", "operand"]);
  if (!Object.hasOwn(raw, "operand")) throw new Invalid(`${path}.operand`, "missing");
  const op = readOneOf(raw.op, `${path}.op`, OPERATORS);
  // The engine relies on these operand kinds; normalizeQuery guarantees them on the client.
  if ((op === "in" || op === "notIn") && !Array.isArray(raw.operand))
    throw new Invalid(`${path}.operand`, `"${op}" takes a list, got ${describe(raw.operand)}`);
  if ((op === "isDefined" || op === "isUndefined") && typeof raw.operand !== "boolean") {
    throw new Invalid(`${path}.operand`, `"${op}" takes true or false, got ${describe(raw.operand)}`);
  }
  return { field: readName(raw.field, `${path}.field`), op, operand: readJsonValue(raw.operand, `${path}.operand`) };
}

const DIRECTIONS = new Set<Direction>(["asc", "desc"]);

function orderEntry(value: unknown, path: string): readonly [string, Direction] {
  const raw = readArray(value, path);
  if (raw.length !== 2) throw new Invalid(path, `expected a [field, "asc" | "desc"] pair, got ${raw.length} entries`);
  return [readName(raw[0], `${path}[0]`), readOneOf(raw[1], `${path}[1]`, DIRECTIONS)];
}

function cursor(value: unknown, path: string): Cursor {
  const raw = readKnownKeys(value, path, ["keys", "id"]);
  return {
    keys: [...readList(readJsonValue(raw.keys, `${path}.keys`), `${path}.keys`, MAX_ORDER_KEYS, "keys")],
    id: readString(raw.id, `${path}.id`, MAX_STRING_ID),
  };
}

const CARDINALITIES = new Set(["one", "many"] as const);
const LINK_DIRECTIONS = new Set(["forward", "reverse"] as const);

/** Counts the relations of one query across its levels. */
interface QueryShape {
  relations: number;
  conditions: number;
}

function relation(value: unknown, path: string, depth: number, shape: QueryShape): NormalizedRelation {
  if (++shape.relations > MAX_RELATIONS)
    throw new Invalid(path, `a query has at most ${MAX_RELATIONS} relations at all levels together`);
  const raw = readKnownKeys(value, path, ["name", "cardinality", "direction", "link", "linkSpec", "query"]);
  return {
    name: readName(raw.name, `${path}.name`),
    cardinality: readOneOf(raw.cardinality, `${path}.cardinality`, CARDINALITIES),
    direction: readOneOf(raw.direction, `${path}.direction`, LINK_DIRECTIONS),
    link: readName(raw.link, `${path}.link`),
    linkSpec: fieldSpec(raw.linkSpec, `${path}.linkSpec`, 0),
    query: query(raw.query, `${path}.query`, depth + 1, shape),
  };
}

function query(
  value: unknown,
  path: string,
  depth: number,
  shape: QueryShape = { relations: 0, conditions: 0 },
): NormalizedQuery {
  if (depth > MAX_DEPTH) throw new Invalid(path, `relations nest at most ${MAX_DEPTH} deep`);
  const raw = readKnownKeys(value, path, [
    "collection",
    "select",
    "where",
    "orderBy",
    "limit",
    "specs",
    "relations",
    "after",
    "before",
  ]);
  const limit = raw.limit;
  if (limit !== undefined && !(typeof limit === "number" && Number.isSafeInteger(limit) && limit >= 0)) {
    throw new Invalid(`${path}.limit`, `expected a whole number >= 0 or no limit, got ${describe(limit)}`);
  }
  const out: {
    -readonly [K in keyof NormalizedQuery]: NormalizedQuery[K];
  } = {
    collection: readName(raw.collection, `${path}.collection`),
    select: readList(raw.select, `${path}.select`, MAX_FIELDS, "fields").map((each, index) =>
      readName(each, `${path}.select[${index}]`),
    ),
    where: conditions(raw.where, `${path}.where`, shape, depth),
    orderBy: readList(raw.orderBy, `${path}.orderBy`, MAX_ORDER_KEYS, "sort keys").map((each, index) =>
      orderEntry(each, `${path}.orderBy[${index}]`),
    ),
    limit,
    specs: specs(raw.specs, `${path}.specs`, 0),
  };
  if (raw.relations !== undefined) {
    out.relations = readList(raw.relations, `${path}.relations`, MAX_RELATIONS, "relations").map((each, index) =>
      relation(each, `${path}.relations[${index}]`, depth, shape),
    );
  }
  if (raw.after !== undefined) out.after = cursor(raw.after, `${path}.after`);
  if (raw.before !== undefined) out.before = cursor(raw.before, `${path}.before`);
  // The engine reads a field through its spec; a field without one would read an inherited property.
  const fields = [...out.select, ...whereFields(out.where), ...out.orderBy.map(([field]) => field)];
  const unspecified = fields.find((field) => !Object.hasOwn(out.specs, field));
  if (unspecified !== undefined)
    throw new Invalid(`${path}.specs`, `no spec for the field ${JSON.stringify(unspecified)} the query uses`);
  return out;
}

/** A normalized query as a client sends it in `subscribe` (see {@link NormalizedQuery}). */
export const normalizedQuery: WireSchema<NormalizedQuery> = schema((value, path) => query(value, path, 0));
