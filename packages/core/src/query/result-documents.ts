import type { NormalizedQuery } from "./query.js";

/** Result documents, as `compileMaterializer` builds them. */
type Doc = Readonly<Record<string, unknown>>;

/**
 * Every document a result of `query` shows, its related documents at every level included, as
 * `[collection, id]`, each once. Results share related documents (a DAG, see
 * `compileMaterializer`), so each shared object is visited once: the walk costs the size of the
 * DAG, not of the tree it unfolds to. Documents are named by their `id` field, so the query must
 * select `id` at every level; a document without one is not yielded (its relations still are).
 *
 * @example
 * for (const [collection, id] of resultDocuments(live.query, live.result.value)) send(collection, id);
 */
export function* resultDocuments(query: NormalizedQuery, docs: readonly Doc[]): Generator<[collection: string, id: string]> {
  // Visited objects by the (sub)query that built them: an object always belongs to one relation
  // of the query, but the walk does not rely on it.
  const visited = new Map<NormalizedQuery, Set<Doc>>();
  const yielded = new Map<string, Set<string>>();
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
