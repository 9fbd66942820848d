import { toUserValue } from "../schema/read.js";
import { compileOrder, type Keyed, sortKeyed } from "./order.js";
import { compileWhere, linkedRowsOf } from "./predicate.js";
import type { NormalizedQuery, NormalizedRelation } from "./normalized-query.js";
import { CostMeter, maxQueryCostOf, type QueryCostOptions } from "./query-cost.js";
import { type FieldReader, fieldReader } from "./read-field.js";
import type { Source, SourceTable } from "./source.js";

/**
 * Materializes documents within one pass: a related document reached through the same relation
 * of the query is built once per pass and the same object is shared by every parent linking it,
 * and the pass's relations examine at most `maxQueryCost` linked documents together.
 */
export type MaterializePass = (table: SourceTable, row: number) => Record<string, unknown>;

/**
 * Builds result documents of a query: the selected fields in the form users see. Called directly,
 * it builds one document in a pass of its own; `pass()` starts a pass for all documents of one
 * result, so that they share related documents and one cost limit.
 */
export interface Materializer {
  (table: SourceTable, row: number): Record<string, unknown>;
  /** Starts a pass (see {@link MaterializePass}). */
  pass(): MaterializePass;
}

/** What a pass shares between the documents built in it. */
interface PassState {
  readonly meter: CostMeter;
  /**
   * Related documents built in the pass, by relation node and row (`row * nodes + node`). One
   * map, made on first use: most passes of a live query rebuild one document.
   */
  shared: Map<number, Record<string, unknown>> | undefined;
}

type Level = (table: SourceTable, row: number, pass: PassState) => Record<string, unknown>;

/**
 * Compiles the selection of a query into a row-to-document function. Relations are resolved
 * through `source` (required when the query selects any). A result's documents form a DAG rather
 * than a tree: whoever walks one must treat it as read-only and visit shared objects once
 * (see `resultDocuments`). `topLevelRows` may supply how a top-level relation finds its rows
 * (a live query keeps them per parent, see `RelationWatch`).
 *
 * @example
 * const table = store.table(normalized.collection)!;
 * const materialize = compileMaterializer(normalized, store).pass();
 * const docs = runQuery(store, normalized).map((row) => materialize(table, row));
 */
export function compileMaterializer(
  query: NormalizedQuery,
  source?: Source,
  options?: QueryCostOptions,
  topLevelRows?: (relation: NormalizedRelation) => RelatedRows | undefined,
): Materializer {
  const limit = maxQueryCostOf(options, "compileMaterializer");
  const nodes = { count: 0 };
  const level = compileLevel(query, source, nodes, topLevelRows);
  const pass = (): MaterializePass => {
    const state: PassState = { meter: new CostMeter(limit, query.collection), shared: undefined };
    return (table, row) => level(table, row, state);
  };
  return Object.assign((table: SourceTable, row: number) => pass()(table, row), { pass });
}

function compileLevel(
  query: NormalizedQuery,
  source: Source | undefined,
  nodes: { count: number },
  rowsOf?: (relation: NormalizedRelation) => RelatedRows | undefined,
): Level {
  const fields: Array<{ name: string; read: FieldReader; spec: (typeof query.specs)[string] }> = query.select.map(
    (name) => ({
      name,
      read: fieldReader(name, query.specs[name]!),
      spec: query.specs[name]!,
    }),
  );
  const relations = (query.relations ?? []).map((relation) => ({
    name: relation.name,
    resolve: compileRelation(relation, source, nodes, rowsOf?.(relation)),
  }));
  return (table, row, pass) => {
    const doc: Record<string, unknown> = {};
    for (const { name, read, spec } of fields) doc[name] = toUserValue(spec, read(table, row));
    for (const { name, resolve } of relations) doc[name] = resolve(table, row, pass);
    return doc;
  };
}

/** Rows of the related collection for one parent row, as the relation's nested query selects them. */
export type RelatedRows = (
  table: SourceTable,
  row: number,
  meter?: CostMeter,
) => { table: SourceTable; rows: number[] } | undefined;

/**
 * Compiles how to find, filter, order and limit the related rows of a parent row. With a `meter`,
 * the linked rows examined are charged to it first.
 */
export function compileRelatedRows(relation: NormalizedRelation, source: Source): RelatedRows {
  const nested = relation.query;
  const test = compileWhere(nested.where, nested.specs, source);
  const ordering = compileOrder(nested.orderBy, nested.specs);
  const linked = linkedRowsOf(relation);
  return (table, row, meter) => {
    const related = source.table(nested.collection);
    if (related === undefined) return undefined;
    const entries: Keyed[] = [];
    const charge = meter === undefined ? undefined : (examined: number) => meter.charge(examined, relation.name);
    for (const candidate of linked(related, table, row, charge)) {
      if (test(related, candidate)) entries.push(ordering.keyOf(related, candidate));
    }
    // A single relation returns at most one document, none with `limit: 0`.
    const limit = relation.cardinality === "one" ? Math.min(nested.limit ?? 1, 1) : nested.limit;
    return { table: related, rows: sortKeyed(entries, ordering.compare, limit).map((entry) => entry.row) };
  };
}

function compileRelation(
  relation: NormalizedRelation,
  source: Source | undefined,
  nodes: { count: number },
  relatedRows: RelatedRows | undefined,
): (table: SourceTable, row: number, pass: PassState) => unknown {
  if (source === undefined) throw new TypeError(`compileMaterializer: relation "${relation.name}" needs a source.`);
  // Each relation of the compiled tree is one node: the same related row reached through it in
  // one pass reads the same (its nested query is the same), so it is built once and shared.
  const node = nodes.count++;
  // Except where no row can be reached twice: a pass resolves a relation once per parent row
  // (parents are shared too), and a child's single ref names one parent.
  const isShared = relation.direction === "forward" || relation.linkSpec.type !== "ref";
  const rowsOf = relatedRows ?? compileRelatedRows(relation, source);
  const materialize = compileLevel(relation.query, source, nodes);
  return (table, row, pass) => {
    const related = rowsOf(table, row, pass.meter);
    if (related === undefined) return relation.cardinality === "one" ? undefined : [];
    const docOf = (child: number) => {
      if (!isShared) return materialize(related.table, child, pass);
      const shared = (pass.shared ??= new Map());
      const key = child * nodes.count + node;
      let doc = shared.get(key);
      if (doc === undefined) shared.set(key, (doc = materialize(related.table, child, pass)));
      return doc;
    };
    if (relation.cardinality === "one") {
      const first = related.rows[0];
      return first === undefined ? undefined : docOf(first);
    }
    return related.rows.map(docOf);
  };
}
