import { compileWhere, linkedRowsOf, type RowTest } from "./predicate.js";
import { type NormalizedQuery, type RelatedFilter, relatedFilters } from "./normalized-query.js";
import type { Source, SourceTable } from "./source.js";

/** Result documents, as `compileMaterializer` builds them. */
type Doc = Readonly<Record<string, unknown>>;

/**
 * Every document a result of `query` shows, its related documents at every level included, as
 * `[collection, id]`, each once. Results share related documents (a DAG, see
 * `compileMaterializer`), so each shared object is visited once: the walk costs the size of the
 * DAG, not of the tree it unfolds to. Documents are named by their `id` field, so the query must
 * select `id` at every level; a document without one is not yielded (its relations still are).
 *
 * With a `source`, the documents its relational filters reach from each result document come too
 * (see {@link filterDocuments}): whoever runs the query on a copy holding only these documents
 * gets the same result.
 *
 * @example
 * const live = registry.acquire(normalized);
 * const shown = Array.from(resultDocuments(live.query, live.result.value, store));
 * // [["posts", "p1"], ["users", "u1"], …]
 */
export function* resultDocuments(
  query: NormalizedQuery,
  docs: readonly Doc[],
  source?: Source,
): Generator<[collection: string, id: string]> {
  // Visited objects by the (sub)query that built them: an object always belongs to one relation
  // of the query, but the walk does not rely on it.
  const visited = new Map<NormalizedQuery, Set<Doc>>();
  const yielded = new Map<string, Set<string>>();
  // Only levels whose `where` has relational filters reach anything: the others pay nothing.
  const filtered = source === undefined ? new Set<NormalizedQuery>() : levelsWithFilters(query);
  const reach = filtered.size === 0 ? undefined : filterReach(source!, yielded);
  const stack: Array<[NormalizedQuery, Doc]> = [];
  const push = (level: NormalizedQuery, list: readonly Doc[]) => {
    for (let i = list.length - 1; i >= 0; i--) stack.push([level, list[i]!]);
  };
  push(query, docs);
  while (stack.length > 0) {
    const [level, doc] = stack.pop()!;
    let seen = visited.get(level);
    if (seen === undefined) visited.set(level, (seen = new Set()));
    if (seen.has(doc)) continue;
    seen.add(doc);
    const id = doc.id;
    if (typeof id === "string") {
      let ids = yielded.get(level.collection);
      if (ids === undefined) yielded.set(level.collection, (ids = new Set()));
      if (!ids.has(id)) {
        ids.add(id);
        yield [level.collection, id];
      }
      if (reach !== undefined && filtered.has(level)) yield* reach(level, id);
    }
    const relations = level.relations ?? [];
    for (let r = relations.length - 1; r >= 0; r--) {
      const relation = relations[r]!;
      const related = doc[relation.name];
      if (related === undefined || related === null) continue;
      push(relation.query, Array.isArray(related) ? (related as Doc[]) : [related as Doc]);
    }
  }
}

/** The levels of a query (itself and its relations' queries) with a client's relational filter in their `where`. */
function levelsWithFilters(query: NormalizedQuery): Set<NormalizedQuery> {
  const levels = new Set<NormalizedQuery>();
  const visit = (level: NormalizedQuery) => {
    if (relatedFilters(level.where).some(({ filter }) => !filter.isRule)) levels.add(level);
    for (const relation of level.relations ?? []) visit(relation.query);
  };
  visit(query);
  return levels;
}

/**
 * What the relational filters of `query` reach from its document `id` (see {@link filterReach}),
 * as `[collection, id]`, each once: after a document left a result because of a document it
 * reaches, whoever holds it needs that document to see it leave.
 *
 * @example
 * const reached = Array.from(reachedDocuments(normalized, "t1", store));
 * // [["users", "u1"]]: the author its filter looked at
 */
export function* reachedDocuments(
  query: NormalizedQuery,
  id: string,
  source: Source,
): Generator<[collection: string, id: string]> {
  yield* filterReach(source, new Map())(query, id);
}

/**
 * The documents a result document's relational filters reach and that decide its match: for a
 * filter the documents it links that match the filter's `where` (one is enough to match, all are
 * sent so any one changing keeps the answer), and under a `not` every linked document (the
 * absence of a match must be visible too), at every nesting level. Filters a permission rule
 * added reach nothing here.
 */
function filterReach(source: Source, yielded: Map<string, Set<string>>) {
  const tests = new Map<RelatedFilter, RowTest>();
  const links = new Map<RelatedFilter, ReturnType<typeof linkedRowsOf>>();
  const walked = new Map<RelatedFilter, Set<number>>();
  function* walk(
    where: NormalizedQuery["where"],
    table: SourceTable,
    row: number,
    isNegated: boolean,
  ): Generator<[string, string]> {
    for (const each of relatedFilters(where)) {
      const { filter } = each;
      if (filter.isRule) continue;
      const negated = isNegated || each.isNegated;
      const related = source.table(filter.collection);
      if (related === undefined) continue;
      let link = links.get(filter);
      if (link === undefined) links.set(filter, (link = linkedRowsOf(filter)));
      let test = tests.get(filter);
      if (test === undefined) tests.set(filter, (test = compileWhere(filter.where, filter.specs, source)));
      let seen = walked.get(filter);
      if (seen === undefined) walked.set(filter, (seen = new Set()));
      for (const child of link(related, table, row)) {
        if (seen.has(child) || (!negated && !test(related, child))) continue;
        seen.add(child);
        const id = related.idOf(child);
        let ids = yielded.get(filter.collection);
        if (ids === undefined) yielded.set(filter.collection, (ids = new Set()));
        if (!ids.has(id)) {
          ids.add(id);
          yield [filter.collection, id];
        }
        yield* walk(filter.where, related, child, negated);
      }
    }
  }
  return function* (level: NormalizedQuery, id: string): Generator<[string, string]> {
    const table = source.table(level.collection);
    const row = table?.rowOf(id);
    if (row !== undefined) yield* walk(level.where, table!, row, false);
  };
}
