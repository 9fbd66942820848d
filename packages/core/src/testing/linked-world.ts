/**
 * The worst case of relations for tests: documents whose `links` (a `t.refMany`) each point at
 * every document, queried through `links` as deep as relations nest. Unfolded as a tree, the
 * result of `depth` levels over `n` documents has n^(depth+1) nodes; shared, it has
 * n × (depth + 1). Test support only; not exported from the package.
 */
import { createClock } from "../hlc.js";
import { normalizeQuery } from "../query/normalize.js";
import type { NormalizedQuery } from "../query/normalized-query.js";
import { createSchema } from "../schema/create-schema.js";
import { t } from "../schema/t.js";
import { TripleStore } from "../store/triple-store.js";

export const linkedSchema = createSchema({
  entities: { nodes: { name: t.string({ fallback: "" }), links: t.refMany("nodes") } },
});

/** A store holding `ids`, each linking to all of them, and a way to link or unlink one pair. */
export function createLinkedWorld(ids: readonly string[]) {
  const store = new TripleStore();
  const clock = createClock({ node: "test", wallClock: () => 1_700_000_000_000 });
  const setLink = (from: string, to: string, isLinked: boolean) =>
    store.setElement("nodes", from, "links", to, isLinked, clock.now());
  const add = (id: string, links: readonly string[]) =>
    store.transact(() => {
      store.setField("nodes", id, "name", `node ${id}`, clock.now());
      for (const to of links) setLink(id, to, true);
    });
  store.transact(() => {
    for (const id of ids) add(id, ids);
  });
  return { store, setLink, add };
}

/** `{ id, name, links: { id, name, links: … } }`, `depth` relations deep, normalized. */
export function linkedQuery(depth: number, nested: Record<string, unknown> = {}): NormalizedQuery {
  let query: Record<string, unknown> = { fields: { id: true, name: true } };
  for (let level = 0; level < depth; level++)
    query = { fields: { id: true, name: true, links: { ...query, ...nested } } };
  const normalized = normalizeQuery(linkedSchema.collections.nodes!, query, linkedSchema.collections);
  if (normalized.error) throw new Error(normalized.error.message);
  return normalized.data;
}

/**
 * The distinct document objects of a `linkedQuery` result at each level (roots first), counted
 * by identity, and how many documents the result shows when unfolded as a tree.
 */
export function countLinked(docs: readonly Record<string, unknown>[]): { distinct: number[]; unfolded: number } {
  const distinct: number[] = [];
  const subtree = new Map<Record<string, unknown>, number>();
  const unfoldedOf = (doc: Record<string, unknown>): number => {
    let size = subtree.get(doc);
    if (size === undefined) {
      size = 1;
      for (const child of (doc.links as Record<string, unknown>[] | undefined) ?? []) size += unfoldedOf(child);
      subtree.set(doc, size);
    }
    return size;
  };
  let level = new Set(docs);
  while (level.size > 0) {
    distinct.push(level.size);
    const next = new Set<Record<string, unknown>>();
    for (const doc of level)
      for (const child of (doc.links as Record<string, unknown>[] | undefined) ?? []) next.add(child);
    level = next;
  }
  return { distinct, unfolded: docs.reduce((sum, doc) => sum + unfoldedOf(doc), 0) };
}
