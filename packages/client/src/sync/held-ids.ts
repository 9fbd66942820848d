import { MAX_HELD_IDS, type NormalizedQuery, QueryCostError, runQuery, type Source } from "@trellis/core";
import type { Outbox } from "./outbox.js";

/** At most this many characters of ids in all: the subscribe frame stays far below the server's frame limit. */
const MAX_HELD_CHARACTERS = 256 * 1024;

/**
 * What a client resuming `query` tells the server it holds (`SubscribeMessage.held`): the ids of
 * the documents of the query's collection in `source` that match it, leaving out those with
 * writes in the outbox (the server may not have them yet). The server answers, under permission
 * rules, which of them the user may no longer read, so a client that lost access while it was
 * offline drops them, however it lost it. Undefined when there are none, or too many to list (or
 * too costly to find: see `QueryCostOptions`).
 *
 * @example
 * const held = heldIds(store, outbox, normalized); // sent as `held` of the `subscribe` that resumes it
 */
export function heldIds(source: Source, outbox: Outbox, query: NormalizedQuery): string[] | undefined {
  const table = source.table(query.collection);
  if (table === undefined) return undefined;
  const pending = new Set<string>();
  for (const entry of outbox.entries())
    for (const triple of entry.triples) if (triple.collection === query.collection) pending.add(triple.id);
  const ids: string[] = [];
  let characters = 0;
  let rows: number[];
  try {
    // Every local match, not only a page of them: any of them may be one the user lost.
    rows = runQuery(source, { ...query, limit: undefined, after: undefined, before: undefined });
  } catch (error) {
    if (error instanceof QueryCostError) return undefined;
    throw error;
  }
  for (const row of rows) {
    const id = table.idOf(row);
    if (pending.has(id)) continue;
    characters += id.length;
    if (ids.length === MAX_HELD_IDS || characters > MAX_HELD_CHARACTERS) return undefined;
    ids.push(id);
  }
  return ids.length === 0 ? undefined : ids;
}
