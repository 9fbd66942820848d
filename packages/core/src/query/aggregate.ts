import { type DatabaseResult, fail, ok } from "../errors.js";
import type { FieldSpec } from "../schema/field.js";
import type { CollectionSpec } from "../schema/types.js";
import { describe } from "../schema/validate.js";
import { type Group, GroupAggregator } from "./aggregate-groups.js";
import type {
  AggregateFunction,
  AggregateResultRow,
  NormalizedAggregate,
  NormalizedAggregateQuery,
} from "./aggregate-query.js";
import { normalizeQuery } from "./normalize.js";
import { candidateRows } from "./plan.js";
import { compileWhere } from "./predicate.js";
import { type Direction, fieldSpecOf } from "./normalized-query.js";
import type { Source } from "./source.js";

const QUERY_KEYS = new Set(["aggregations", "where", "groupBy", "orderBy", "limit"]);
const FUNCTIONS = new Set<AggregateFunction>(["count", "sum", "avg", "min", "max"]);
/** Field types each function takes (`count` takes any field, and "*"). */
const OPERAND_TYPES: Record<Exclude<AggregateFunction, "count">, ReadonlySet<string>> = {
  sum: new Set(["number"]),
  avg: new Set(["number"]),
  min: new Set(["number", "string", "date", "ref"]),
  max: new Set(["number", "string", "date", "ref"]),
};

type Invalid = { readonly data: undefined; readonly error: NonNullable<DatabaseResult<never>["error"]> };

function invalid(collection: string, message: string, details?: Record<string, unknown>): Invalid {
  return fail("VALIDATION", `${collection} aggregate query: ${message}`, details);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

/**
 * Checks an aggregate query (one with `aggregations` or `groupBy`) against its collection and
 * reduces it to a {@link NormalizedAggregateQuery}. `where` is normalized exactly as in
 * `normalizeQuery` (relational filters need `collections`); `orderBy` names group fields or aggregates.
 *
 * @example
 * normalizeAggregateQuery(schema.collections.posts!, {
 *   aggregations: { n: { count: "*" }, views: { sum: "viewCount" } },
 *   groupBy: ["authorId"],
 *   orderBy: ["views", "desc"],
 * });
 */
export function normalizeAggregateQuery(
  collection: CollectionSpec,
  input: unknown,
  collections?: Readonly<Record<string, CollectionSpec>>,
): DatabaseResult<NormalizedAggregateQuery> {
  const name = collection.name;
  if (!isPlainObject(input)) return invalid(name, `expected a query object, got ${describe(input)}.`);
  if (input.fields !== undefined) {
    return invalid(
      name,
      "fields cannot be combined with aggregations or groupBy: the rows hold the group fields and aggregate values; drop fields.",
    );
  }
  for (const key of Object.keys(input)) {
    if (key !== "fields" && !QUERY_KEYS.has(key)) {
      return invalid(name, `unknown option "${key}" (expected aggregations, where, groupBy, orderBy, limit).`);
    }
  }
  // `where` goes through the one normalizer of filters; its specs start ours.
  const filter = normalizeQuery(collection, { fields: {}, where: input.where }, collections);
  if (filter.error) return filter;
  const specs: Record<string, FieldSpec> = { ...filter.data.specs };
  const specOf = (field: string): FieldSpec | undefined => {
    const spec = fieldSpecOf(collection, field);
    if (spec !== undefined) specs[field] = spec;
    return spec;
  };

  const groupBy = normalizeGroupBy(name, input.groupBy, specOf);
  if (groupBy.error) return groupBy;
  const aggregations = normalizeAggregations(name, input.aggregations, groupBy.data, specOf);
  if (aggregations.error) return aggregations;
  if (groupBy.data.length === 0 && aggregations.data.length === 0) {
    return invalid(name, "name at least one aggregate in aggregations or one field in groupBy.");
  }
  const orderBy = normalizeOrderBy(name, input.orderBy, groupBy.data, aggregations.data);
  if (orderBy.error) return orderBy;
  const limit = input.limit;
  if (limit !== undefined && !(typeof limit === "number" && Number.isInteger(limit) && limit >= 0)) {
    return invalid(name, `limit must be a whole number >= 0, got ${describe(limit)}.`);
  }
  return ok({
    collection: name,
    where: filter.data.where,
    groupBy: groupBy.data,
    aggregations: aggregations.data,
    orderBy: orderBy.data,
    limit,
    specs,
  });
}

function normalizeGroupBy(
  collection: string,
  groupBy: unknown,
  specOf: (field: string) => FieldSpec | undefined,
): DatabaseResult<string[]> {
  if (groupBy === undefined) return ok([]);
  if (!Array.isArray(groupBy))
    return invalid(collection, `groupBy must be a list of field names like ["tag"], got ${describe(groupBy)}.`);
  const fields: string[] = [];
  for (const field of groupBy) {
    if (typeof field !== "string") return invalid(collection, `groupBy must list field names, got ${describe(field)}.`);
    const spec = specOf(field);
    if (spec === undefined) return invalid(collection, `groupBy: ${field} is not a field of ${collection}.`, { field });
    if (spec.type === "json" || spec.type === "refMany") {
      return invalid(collection, `groupBy: ${field} is a ${spec.type} field and cannot be grouped by.`, { field });
    }
    if (fields.includes(field)) return invalid(collection, `groupBy lists ${field} twice.`, { field });
    fields.push(field);
  }
  return ok(fields);
}

function normalizeAggregations(
  collection: string,
  aggregations: unknown,
  groupBy: readonly string[],
  specOf: (field: string) => FieldSpec | undefined,
): DatabaseResult<NormalizedAggregate[]> {
  if (aggregations === undefined) return ok([]);
  if (!isPlainObject(aggregations)) {
    return invalid(
      collection,
      `aggregations must be an object like { n: { count: "*" } }, got ${describe(aggregations)}.`,
    );
  }
  const result: NormalizedAggregate[] = [];
  for (const [name, definition] of Object.entries(aggregations)) {
    const at = `aggregations.${name}`;
    if (name === "__proto__") return invalid(collection, `${at}: choose another name.`, { name });
    if (groupBy.includes(name)) {
      return invalid(collection, `${at}: ${name} is also a groupBy field; give the aggregate another name.`, { name });
    }
    const entries = isPlainObject(definition) ? Object.entries(definition) : [];
    const [fn, field] = entries[0] ?? [];
    if (entries.length !== 1 || !FUNCTIONS.has(fn as AggregateFunction) || typeof field !== "string") {
      return invalid(
        collection,
        `${at} must be one of { count: "*" | "field" }, { sum: "field" }, { avg: "field" }, { min: "field" }, { max: "field" }, got ${JSON.stringify(definition)}.`,
        { name },
      );
    }
    const aggregate = fn as AggregateFunction;
    if (aggregate === "count" && field === "*") {
      result.push({ name, fn: aggregate, field: null });
      continue;
    }
    const spec = specOf(field);
    if (spec === undefined)
      return invalid(collection, `${at}: ${field} is not a field of ${collection}.`, { name, field });
    if (aggregate !== "count" && !OPERAND_TYPES[aggregate].has(spec.type)) {
      const takes = aggregate === "sum" || aggregate === "avg" ? "numbers" : "numbers, strings and dates";
      return invalid(collection, `${at}: ${aggregate} works on ${takes}; ${field} is a ${spec.type} field.`, {
        name,
        field,
      });
    }
    result.push({ name, fn: aggregate, field });
  }
  return ok(result);
}

function normalizeOrderBy(
  collection: string,
  orderBy: unknown,
  groupBy: readonly string[],
  aggregations: readonly NormalizedAggregate[],
): DatabaseResult<Array<readonly [string, Direction]>> {
  if (orderBy === undefined) return ok([]);
  if (!Array.isArray(orderBy))
    return invalid(collection, `orderBy must be ["name", "asc" | "desc"] or a list of those.`);
  const tuples: unknown[] = typeof orderBy[0] === "string" ? [orderBy] : orderBy;
  const result: Array<readonly [string, Direction]> = [];
  for (const tuple of tuples) {
    if (
      !Array.isArray(tuple) ||
      typeof tuple[0] !== "string" ||
      (tuple[1] !== "asc" && tuple[1] !== "desc") ||
      tuple.length !== 2
    ) {
      return invalid(collection, `orderBy entries must be ["name", "asc" | "desc"], got ${JSON.stringify(tuple)}.`);
    }
    const name = tuple[0];
    if (!groupBy.includes(name) && !aggregations.some((aggregate) => aggregate.name === name)) {
      return invalid(collection, `orderBy: ${name} is neither a groupBy field nor an aggregate name.`, { name });
    }
    result.push([name, tuple[1]]);
  }
  return ok(result);
}

/**
 * Runs a normalized aggregate query against a source: without `groupBy` exactly one row (before
 * `limit`), otherwise one row per group, ordered and limited.
 *
 * @example
 * runAggregate(store, normalizedAggregate); // [{ tag: "a", n: 3, views: 120 }, …]
 */
export function runAggregate(source: Source, query: NormalizedAggregateQuery): AggregateResultRow[] {
  const aggregator = new GroupAggregator(query);
  const groups = new Map<unknown, Group>();
  const table = source.table(query.collection);
  if (table !== undefined) {
    const test = compileWhere(query.where, query.specs, source);
    for (const row of candidateRows(table, query)) {
      if (!test(table, row)) continue;
      const mapKey = aggregator.mapKeyOfRow(table, row);
      let group = groups.get(mapKey);
      if (group === undefined) groups.set(mapKey, (group = aggregator.createGroup(aggregator.keyOf(table, row))));
      aggregator.addRow(group, table, row);
    }
  }
  // Without groupBy there is one row even over no documents (count 0, sum 0, the rest undefined).
  if (!aggregator.isGrouped && groups.size === 0) groups.set(undefined, aggregator.createGroup([]));
  const ranked = [...groups.values()].map((group) => ({ group, sortKey: aggregator.sortKeyOf(group) }));
  ranked.sort((a, b) => aggregator.compare(a.sortKey, a.group.key, b.sortKey, b.group.key));
  const limit = Math.min(query.limit ?? Infinity, ranked.length);
  const rows: AggregateResultRow[] = new Array(limit);
  for (let i = 0; i < limit; i++) rows[i] = aggregator.rowOf(ranked[i]!.group);
  return rows;
}
