import { readStored, toUserValue } from "../schema/read.js";
import { compileOrder, type Keyed, sortKeyed } from "./order.js";
import { compileWhere } from "./predicate.js";
import type { NormalizedQuery, NormalizedRelation } from "./query.js";
import { type FieldReader, fieldReader } from "./read-field.js";
import type { Source, SourceTable } from "./source.js";

/** Builds result documents of a query: the selected fields in the form users see. */
export type Materializer = (table: SourceTable, row: number) => Record<string, unknown>;

/**
 * Compiles the selection of a query into a row-to-document function. Relations are resolved
 * through `source` (required when the query selects any).
 */
export function compileMaterializer(query: NormalizedQuery, source?: Source): Materializer {
  const fields: Array<{ name: string; read: FieldReader; spec: (typeof query.specs)[string] }> = query.select.map((name) => ({
    name,
    read: fieldReader(name, query.specs[name]!),
    spec: query.specs[name]!,
  }));
  const relations = (query.relations ?? []).map((relation) => ({ name: relation.name, resolve: compileRelation(relation, source) }));
  return (table, row) => {
    const doc: Record<string, unknown> = {};
    for (const { name, read, spec } of fields) doc[name] = toUserValue(spec, read(table, row));
    for (const { name, resolve } of relations) doc[name] = resolve(table, row);
    return doc;
  };
}

/** Rows of the related collection for one parent row, as the relation's nested query selects them. */
export type RelatedRows = (table: SourceTable, row: number) => { table: SourceTable; rows: number[] } | undefined;

/** Compiles how to find, filter, order and limit the related rows of a parent row. */
export function compileRelatedRows(relation: NormalizedRelation, source: Source): RelatedRows {
  const nested = relation.query;
  const test = compileWhere(nested.where, nested.specs);
  const ordering = compileOrder(nested.orderBy, nested.specs);
  return (table, row) => {
    const related = source.table(nested.collection);
    if (related === undefined) return undefined;
    const entries: Keyed[] = [];
    for (const candidate of linkedRows(relation, related, table, row)) {
      if (test(related, candidate)) entries.push(ordering.keyOf(related, candidate));
    }
    // A single relation returns at most one document, none with `limit: 0`.
    const limit = relation.cardinality === "one" ? Math.min(nested.limit ?? 1, 1) : nested.limit;
    return { table: related, rows: sortKeyed(entries, ordering.compare, limit).map((entry) => entry.row) };
  };
}

/** Live rows of the related collection linked to a parent row (before the nested filter). */
function linkedRows(relation: NormalizedRelation, related: SourceTable, table: SourceTable, row: number): Iterable<number> {
  if (relation.direction === "forward") {
    const linked = readStored(relation.linkSpec, table.get(row, relation.link), undefined);
    const ids = typeof linked === "string" ? [linked] : Array.isArray(linked) ? (linked as string[]) : [];
    const rows: number[] = [];
    for (const id of ids) {
      const child = related.rowOf(id);
      if (child !== undefined) rows.push(child);
    }
    return rows;
  }
  const parentId = table.idOf(row);
  const linksBack = (child: number) => {
    const linked = readStored(relation.linkSpec, related.get(child, relation.link), undefined);
    return linked === parentId || (Array.isArray(linked) && linked.includes(parentId));
  };
  // The index holds stored values, wrong-typed ones too (a ref stored as ["id"], a set field
  // holding one plain id), which read as no link: candidates are re-checked as read.
  if (related.equalityIndex) return [...related.equalityIndex(relation.link).get(parentId)].filter(linksBack);
  return related.liveRows().filter(linksBack);
}

function compileRelation(relation: NormalizedRelation, source: Source | undefined): Materializer extends (...args: infer A) => unknown ? (...args: A) => unknown : never {
  if (source === undefined) throw new TypeError(`compileMaterializer: relation "${relation.name}" needs a source.`);
  const rowsOf = compileRelatedRows(relation, source);
  const materialize = compileMaterializer(relation.query, source);
  return (table, row) => {
    const related = rowsOf(table, row);
    if (relation.cardinality === "one") {
      const first = related?.rows[0];
      return first === undefined ? undefined : materialize(related!.table, first);
    }
    return related === undefined ? [] : related.rows.map((child) => materialize(related.table, child));
  };
}
