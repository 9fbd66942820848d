import {
  type DatabaseResult,
  decodeHlc,
  DELETED_FIELD,
  fail,
  type NormalizedQuery,
  ok,
  QueryCostError,
  type QueryCostOptions,
  runQuery,
  TICKS_PER_MS,
  type Triple,
  type TripleStore,
} from "@trellis/core";
import { ruleConditions } from "../permissions/permissions.js";
import { parseFilter, RulesError } from "../permissions/rules.js";

/** A document as the dashboard lists it: its id and its fields as stored (a set field as its members). */
export interface BrowsedDocument {
  readonly id: string;
  readonly fields: Record<string, unknown>;
}

/** One stored cell of a document, with when and by which client it was written. */
export interface BrowsedCell {
  readonly field: string;
  /** The member of a set field (`t.refMany`) this cell says is in or out. */
  readonly element?: string;
  readonly value: unknown;
  readonly hlc: string;
  /** The HLC's wall-clock part, in epoch ms. */
  readonly writtenAt: number;
  /** The client whose clock stamped it ("server" for the server's own). */
  readonly client: string;
  /** The user that client connected as, when this process saw it connect (null: anonymous). */
  readonly userId?: string | null;
}

/** The most documents one page may ask for. */
export const MAX_PAGE_SIZE = 200;
const DEFAULT_PAGE_SIZE = 50;

/** Each collection of the replica with its live documents, by name. */
export function collectionCounts(store: TripleStore): Array<{ readonly name: string; readonly documents: number }> {
  return [...store.allTables()]
    .map((table) => ({ name: table.name, documents: table.liveCount }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** What the dashboard asks for: a collection, a filter in the rules' language (JSON text), a page size and the id to continue after. */
export interface PageRequest {
  readonly collection: string;
  readonly where?: string | undefined;
  readonly limit?: string | undefined;
  readonly after?: string | undefined;
}

/**
 * A page of a collection's documents in id order, filtered, run by the shared query engine with
 * no permission rule applied. `next` is the id to ask the next page after, null on the last page.
 * A filter with a mistake is VALIDATION naming its path; one over the cost limit is refused as
 * queries are.
 */
export function documentPage(
  store: TripleStore,
  request: PageRequest,
  options: QueryCostOptions,
): DatabaseResult<{ documents: BrowsedDocument[]; next: string | null }> {
  const limit = request.limit === undefined ? DEFAULT_PAGE_SIZE : Number(request.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE)
    return fail("VALIDATION", `limit must be a whole number from 1 to ${MAX_PAGE_SIZE}.`, { field: "limit" });
  const where = filterOf(request.where, request.collection);
  if (where.error) return where;
  const query: NormalizedQuery = {
    collection: request.collection,
    select: [],
    where: where.data,
    orderBy: [],
    limit: limit + 1,
    specs: {},
    ...(request.after === undefined ? {} : { after: { keys: [], id: request.after } }),
  };
  const table = store.table(request.collection);
  if (table === undefined) return ok({ documents: [], next: null });
  let rows: number[];
  try {
    rows = runQuery(store, query, options);
  } catch (error) {
    if (error instanceof QueryCostError) return fail(error.code, error.message, { ...error.details });
    throw error;
  }
  const documents = rows.slice(0, limit).map((row) => {
    const id = table.idOf(row);
    return { id, fields: fieldsOf(store.documentTriples(request.collection, id)) };
  });
  return ok({ documents, next: rows.length > limit ? documents[documents.length - 1]!.id : null });
}

/**
 * A document's stored cells, oldest write first; `userOf` names the user of a client when known.
 * A deleted document has its tombstone only; NOT_FOUND for one never written.
 */
export function documentCells(
  store: TripleStore,
  collection: string,
  id: string,
  userOf: (client: string) => string | null | undefined,
): DatabaseResult<{ id: string; isDeleted: boolean; cells: BrowsedCell[] }> {
  const triples = store.documentTriples(collection, id);
  if (triples.length === 0) return fail("NOT_FOUND", `No document "${id}" in ${collection}.`, { collection, id });
  const cells = triples
    .map((triple): BrowsedCell => {
      const hlc = decodeHlc(triple.hlc);
      const client = hlc.data?.node ?? "";
      const userId = userOf(client);
      const element = triple.element === undefined ? {} : { element: triple.element };
      return {
        field: triple.field,
        ...element,
        value: triple.value,
        hlc: triple.hlc,
        writtenAt: Math.floor((hlc.data?.ticks ?? 0) / TICKS_PER_MS),
        client,
        ...(userId === undefined ? {} : { userId }),
      };
    })
    .sort((a, b) => (a.hlc < b.hlc ? -1 : a.hlc > b.hlc ? 1 : 0));
  return ok({ id, isDeleted: triples.some((triple) => triple.field === DELETED_FIELD), cells });
}

/** A document's fields from its cells: values as stored, a set field as the list of its members. */
function fieldsOf(triples: readonly Triple[]): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const triple of triples) {
    if (triple.element === undefined) fields[triple.field] = triple.value;
    else if (triple.value === true) ((fields[triple.field] ??= []) as string[]).push(triple.element);
  }
  return fields;
}

function filterOf(text: string | undefined, collection: string): DatabaseResult<NormalizedQuery["where"]> {
  if (text === undefined || text.trim() === "") return ok([]);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return fail("VALIDATION", `The filter is not JSON: ${(error as Error).message}`, { path: "where" });
  }
  try {
    // No user: a `$user` value matches nothing.
    return ok(ruleConditions(parseFilter(value, collection), { id: null, claims: {} }));
  } catch (error) {
    if (error instanceof RulesError) return fail("VALIDATION", `${error.path}: ${error.reason}.`, { path: error.path });
    throw error;
  }
}
