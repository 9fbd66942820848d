import { type DatabaseResult, fail, ok } from "../errors.js";
import type { FieldSpec } from "../schema/field.js";
import { describe, isJson } from "../schema/validate.js";
import { isNormalizedAggregate, type NormalizedAggregateQuery } from "./aggregate-query.js";
import type { NormalizedQuery } from "./normalized-query.js";

/** A result document in the preload codec's form: plain JSON. */
export type EncodedDoc = { readonly [field: string]: unknown };

/**
 * The preload codec (format 1) turns a query's result documents into plain JSON and back, so
 * preloaded data survives `JSON.stringify`/`JSON.parse`, `structuredClone`, React Server
 * Component props and devalue alike. It is directed by the normalized query (which travels
 * with the data), so no value needs a type tag:
 * - each document holds the query's selected fields, then its relations, by name;
 * - `t.date` values are epoch milliseconds; strings, numbers, booleans, ref ids, refMany id
 *   arrays and `t.json` values are as read;
 * - a field that reads as `undefined` is left out (JSON drops `undefined` anyway);
 * - a relation holds an encoded document (single, left out when there is none) or an array
 *   of them (many), encoded by the relation's nested query.
 *
 * @example
 * const docs = registry.acquire(normalized).result.value;
 * const encoded = encodeDocs(normalized, docs); // [{ id: "u1", lastLogin: 1700000000000 }]
 * const decoded = decodeDocs(normalized, JSON.parse(JSON.stringify(encoded))); // Dates again
 */
export function encodeDocs(query: NormalizedQuery, docs: readonly Record<string, unknown>[]): EncodedDoc[] {
  return docs.map((doc) => encodeDoc(query, doc));
}

function encodeDoc(query: NormalizedQuery, doc: Record<string, unknown>): EncodedDoc {
  const encoded: Record<string, unknown> = {};
  for (const field of query.select) {
    const value = doc[field];
    if (value === undefined) continue;
    encoded[field] = value instanceof Date ? value.getTime() : value;
  }
  for (const relation of query.relations ?? []) {
    const value = doc[relation.name];
    if (value === undefined) continue;
    encoded[relation.name] =
      relation.cardinality === "many"
        ? (value as Record<string, unknown>[]).map((child) => encodeDoc(relation.query, child))
        : encodeDoc(relation.query, value as Record<string, unknown>);
  }
  return encoded;
}

/**
 * Decodes what {@link encodeDocs} made for the same query: Dates restored, every selected key
 * present (`undefined` where left out), in the order live results have. Input that does not
 * fit the query (wrong types, unknown keys) is a VALIDATION error.
 *
 * @example
 * const { data: preloaded } = await client.database.users.preload({ where: { isAdult: true } });
 * const { data: docs, error } = decodeDocs(codecQuery(preloaded!.query), preloaded!.data);
 */
export function decodeDocs(query: NormalizedQuery, encoded: unknown): DatabaseResult<Record<string, unknown>[]> {
  if (!Array.isArray(encoded))
    return fail("VALIDATION", `Preloaded data must be an array of documents, got ${describe(encoded)}.`);
  const docs: Record<string, unknown>[] = [];
  for (let i = 0; i < encoded.length; i++) {
    const doc = decodeDoc(query, encoded[i], `data[${i}]`);
    if (doc.error) return doc;
    docs.push(doc.data);
  }
  return ok(docs);
}

function decodeDoc(query: NormalizedQuery, encoded: unknown, path: string): DatabaseResult<Record<string, unknown>> {
  if (typeof encoded !== "object" || encoded === null || Array.isArray(encoded)) {
    return invalid(`${path} must be a document object, got ${describe(encoded)}.`);
  }
  const source = encoded as Record<string, unknown>;
  const relations = query.relations ?? [];
  for (const key of Object.keys(source)) {
    if (!query.select.includes(key) && !relations.some((relation) => relation.name === key)) {
      return invalid(`${path}.${key} is not selected by the preloaded query.`);
    }
  }
  const doc: Record<string, unknown> = {};
  for (const field of query.select) {
    const value = decodeValue(query.specs[field], source[field]);
    if (value === INVALID)
      return invalid(`${path}.${field} is ${describe(source[field])}, which does not fit the field.`);
    doc[field] = value;
  }
  for (const relation of relations) {
    const value = source[relation.name];
    const where = `${path}.${relation.name}`;
    if (relation.cardinality === "one") {
      if (value === undefined) {
        doc[relation.name] = undefined;
        continue;
      }
      const child = decodeDoc(relation.query, value, where);
      if (child.error) return child;
      doc[relation.name] = child.data;
      continue;
    }
    if (!Array.isArray(value)) return invalid(`${where} must be an array of documents, got ${describe(value)}.`);
    const children: Record<string, unknown>[] = [];
    for (let i = 0; i < value.length; i++) {
      const child = decodeDoc(relation.query, value[i], `${where}[${i}]`);
      if (child.error) return child;
      children.push(child.data);
    }
    doc[relation.name] = children;
  }
  return ok(doc);
}

/**
 * The query the codec encodes a result by. Aggregate rows are encoded as documents whose fields
 * are the group fields, then the aggregates: a min or max reads as the field it takes (a date as
 * epoch ms), the other aggregates as numbers, and an undefined one is left out.
 *
 * @example
 * const rows = runAggregate(store, normalizedAggregate); // [{ tag: "a", n: 2, last: Date }]
 * const encoded = encodeDocs(codecQuery(normalizedAggregate), rows); // [{ tag: "a", n: 2, last: 1700000000000 }]
 */
export function codecQuery(query: NormalizedQuery | NormalizedAggregateQuery): NormalizedQuery {
  if (!isNormalizedAggregate(query)) return query;
  const specs: Record<string, FieldSpec> = {};
  const select = [...query.groupBy];
  for (const field of select) specs[field] = query.specs[field]!;
  for (const { name, fn, field } of query.aggregations) {
    specs[name] = fn === "min" || fn === "max" ? query.specs[field!]! : AGGREGATE_NUMBER;
    select.push(name);
  }
  return { collection: query.collection, select, where: [], orderBy: [], limit: undefined, specs };
}

const AGGREGATE_NUMBER: FieldSpec = { type: "number", optional: true };

const INVALID = Symbol("invalid");

function decodeValue(spec: FieldSpec | undefined, value: unknown): unknown {
  if (value === undefined) return undefined;
  switch (spec?.type) {
    case "string":
    case "ref":
      return typeof value === "string" ? value : INVALID;
    case "number":
      return typeof value === "number" && Number.isFinite(value) ? value : INVALID;
    case "boolean":
      return typeof value === "boolean" ? value : INVALID;
    case "date":
      return typeof value === "number" && Number.isFinite(value) ? new Date(value) : INVALID;
    case "refMany":
      return Array.isArray(value) && value.every((id) => typeof id === "string") ? value.slice() : INVALID;
    case "json":
      // A copy: documents handed to subscribers must not alias the preloaded input.
      return isJson(value) ? structuredClone(value) : INVALID;
    default:
      return INVALID;
  }
}

function invalid(message: string) {
  return fail("VALIDATION", `Preloaded data: ${message}`);
}
