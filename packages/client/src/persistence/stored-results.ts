import type { LiveQuery, LiveQueryRegistry } from "@trellis/core";
import type { StoredResult } from "./storage.js";
import type { WorkingSet } from "./working-set.js";

/** Results with more documents than this are not stored: reading them back would cost what it saves. */
export const MAX_STORED_RESULT = 500;

/** Query keys (their JSON) by live query: computed once, as results are gathered on every commit. */
const keys = new WeakMap<LiveQuery, string>();

/**
 * The results of the live queries worth storing with a commit that changes `changed` (all of
 * them when `isEveryQuery`: queries were followed since the last commit), so that the next run
 * can answer them before reading their collection (design 016). Only queries of one collection
 * (no relations), on their first page, whose collection's stored version this client's memory
 * is known to hold; each names the version its collection will have once the commit is in, and
 * the storage drops it if that is not so. A query whose collection the commit does not change
 * keeps the result stored before, still current.
 *
 * @example
 * // Gathered as a commit that changes todos is written, stored with it.
 * const results = storedResults(registry, workingSet, new Set(["todos"]), false);
 */
export function storedResults(
  registry: LiveQueryRegistry,
  workingSet: WorkingSet,
  changed: ReadonlySet<string>,
  isEveryQuery: boolean,
): StoredResult[] {
  const results: StoredResult[] = [];
  for (const live of registry.liveQueries()) {
    const { query } = live;
    if (!isEveryQuery && !changed.has(query.collection)) continue;
    if (!canAnswerEarly(query)) continue;
    const version = workingSet.versions.of(query.collection);
    if (version === undefined) continue;
    const ids = live.visibleIds(MAX_STORED_RESULT);
    if (ids === undefined) continue;
    let key = keys.get(live);
    if (key === undefined) keys.set(live, (key = JSON.stringify(query)));
    results.push({
      key,
      documents: ids.map((id) => [query.collection, id] as const),
      versions: { [query.collection]: version + (changed.has(query.collection) ? 1 : 0) },
    });
  }
  return results;
}

/** Whether a query can be answered from a stored result: what {@link storedResults} stores. */
export function canAnswerEarly(query: {
  readonly relations?: unknown;
  readonly after?: unknown;
  readonly before?: unknown;
}): boolean {
  return query.relations === undefined && query.after === undefined && query.before === undefined;
}
