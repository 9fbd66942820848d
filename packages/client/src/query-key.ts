import { isPreloadData } from "./preload.js";

/** Preloaded inputs are keyed by identity: their JSON (documents and triples) can be large. */
const preloadedIds = new WeakMap<object, number>();
let nextPreloadedId = 0;

/**
 * A string naming a query (or preloaded data) by value, so adapters can tell whether a query
 * object written afresh on every render is the same query: equal queries give equal keys.
 * Dates count by their instant; `undefined` properties count as absent. Preloaded data is
 * keyed by identity.
 *
 * @example
 * queryKey({ where: { done: false } }) === queryKey({ where: { done: false } }); // true
 * queryKey({ where: { due: new Date(0) } }) !== queryKey({ where: { due: new Date(1) } }); // true
 */
export function queryKey(query: unknown): string {
  if (isPreloadData(query)) {
    let id = preloadedIds.get(query);
    if (id === undefined) preloadedIds.set(query, (id = ++nextPreloadedId));
    return `preloaded:${id}`;
  }
  if (query === undefined) return "query:{}";
  return `query:${JSON.stringify(query, function (this: Record<string, unknown>, key, value: unknown) {
    // `this[key]` is the value before `Date#toJSON` ran: tag Dates so they never equal a string.
    const raw = this[key];
    return raw instanceof Date ? { "\u0000date": raw.getTime() } : value;
  })}`;
}
