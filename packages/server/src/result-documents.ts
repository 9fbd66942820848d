import {
  AUTO_FIELD_SPECS,
  type LiveQuery,
  type NormalizedQuery,
  resultDocuments,
  type TripleStore,
} from "@trellis/core";
import { docKey } from "./peer-state.js";

/** The query with `id` selected at every level, so the server can tell which documents a result holds. *
 * @example
 * ```ts
 * const query = withIds(normalized);
 * ```
 */
export function withIds(query: NormalizedQuery): NormalizedQuery {
  const select = query.select.includes("id") ? query.select : [...query.select, "id"];
  const specs = Object.hasOwn(query.specs, "id") ? query.specs : { ...query.specs, id: AUTO_FIELD_SPECS.id! };
  const relations = query.relations?.map((relation) => ({ ...relation, query: withIds(relation.query) }));
  return relations === undefined ? { ...query, select, specs } : { ...query, select, specs, relations };
}

/** The keys of every document a live result shows. */
export function* shownBy(live: LiveQuery, store: TripleStore): Generator<string> {
  for (const [collection, id] of neededDocs(live, store)) yield docKey(collection, id);
}

/**
 * Every document a client needs to run a live result's query itself, as [collection, id], each
 * once: the documents it shows (related ones included) and those its relational filters reach.
 */
export function neededDocs(live: LiveQuery, store: TripleStore): Generator<[string, string]> {
  return resultDocuments(live.query, live.result.value, store);
}
