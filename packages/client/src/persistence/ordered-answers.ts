import {
  compileWhere,
  CREATED_AT_FIELD,
  type FieldSpec,
  linkedCollectionsOf,
  type NormalizedQuery,
  TripleStore,
} from "@trellis/core";
import { type OrderedRead, orderKeyOf } from "./ordered-scan.js";
import type { StoredDocument } from "./storage.js";

/** Larger first pages are not read through the order index: a stored result covers at most as many. */
const MAX_ORDERED_LIMIT = 500;
/** Documents an ordered read examines at most before the whole collection is read instead. */
export const MAX_EXAMINED = 2_000;

/**
 * How a query's first page can be read from storage in its order, before its collection is in
 * memory (see {@link OrderedRead}), or undefined when that read would not be exact or not pay:
 * no `limit` (or a large one), no `orderBy`, relational filters (other collections), or a first
 * order field whose values the order index does not hold in the engine's order. A field's
 * documents without a value read as its fallback, which the index does not hold: ascending
 * without a fallback they sort first, so that order is not read; `t.date({ fallback: "now" })`
 * reads as the creation time, so neither is. The filter is the query engine's own, run on each
 * document read.
 *
 * @example
 * const read = orderedReadOf(normalized);
 * // for { orderBy: ["createdAt", "desc"], limit: 50 }: { field: "createdAt", direction: "desc", missing: "none", … }
 */
export function orderedReadOf(query: NormalizedQuery): OrderedRead | undefined {
  const { limit, orderBy } = query;
  if (limit === undefined || limit < 1 || limit > MAX_ORDERED_LIMIT || orderBy.length === 0) return undefined;
  if (linkedCollectionsOf(query).size > 0) return undefined;
  const [field, direction] = orderBy[0]!;
  const keys = field === CREATED_AT_FIELD ? CREATION_KEYS : keysOf(field, query.specs[field], direction);
  if (keys === undefined) return undefined;
  return { field, direction, ...keys, limit, maxExamined: MAX_EXAMINED, matches: matcherOf(query) };
}

type IndexKeys = Pick<OrderedRead, "type" | "missing">;

/** Every live document is in the index by `createdAt` (see `orderKeys`). */
const CREATION_KEYS: IndexKeys = { type: "number", missing: "none" };

function keysOf(field: string, spec: FieldSpec | undefined, direction: "asc" | "desc"): IndexKeys | undefined {
  // Read from the row's clock or its id, not from a stored value.
  if (spec === undefined || field === "id" || field === "updatedAt") return undefined;
  const type =
    (spec.type === "number" || spec.type === "date") && spec.fallback !== "now"
      ? "number"
      : spec.type === "string" || spec.type === "ref"
        ? "string"
        : undefined;
  if (type === undefined) return undefined;
  if (spec.fallback === undefined) return direction === "desc" ? { type, missing: "last" } : undefined;
  const at = typeof spec.fallback === type ? orderKeyOf(spec.fallback) : undefined;
  return at === undefined ? undefined : { type, missing: { at } };
}

/**
 * The query's filter on a stored document: the engine's compiled `where`, run on the document
 * put alone in a store of its own (unloaded after, so the store stays one document large).
 */
function matcherOf(query: NormalizedQuery): (document: StoredDocument) => boolean {
  // Deleted documents are not in the order index.
  if (query.where.length === 0) return () => true;
  const test = compileWhere(query.where, query.specs);
  const scratch = new TripleStore();
  return ({ collection, id, triples }) => {
    scratch.transact(() => {
      for (const triple of triples) scratch.applyTriple(triple);
    });
    const table = scratch.table(collection)!;
    const row = table.rowOf(id);
    if (row === undefined) return false;
    const matches = table.isLive(row) && test(table, row);
    scratch.unload(collection, [row]);
    return matches;
  };
}
