import { signal } from "@preact/signals-core";
import {
  AUTO_FIELD_SPECS,
  type DatabaseResult,
  type FieldSpec,
  type NormalizedAggregateQuery,
  type NormalizedQuery,
  ok,
  type Triple,
  whereFields,
} from "@trellis/core";
import type { SyncPayload } from "./http.js";
import type { SyncedQuery } from "./synced-queries.js";

/**
 * What live queries, pagination and preload need from sync. A local-only client uses
 * {@link LOCAL_SYNC}; a client with a server, its sync engine.
 */
export interface QuerySync {
  /** Whether a server is behind this client. */
  readonly hasServer: boolean;
  /** Starts syncing a query (shared by identical ones); `cursor` comes from preloaded data. */
  follow(query: NormalizedQuery, cursor?: string | null): SyncedQuery;
  /**
   * Resolves once local data can answer a one-shot query: at once when what the client syncs
   * covers it or the client is offline, else once the server has answered it (SPEC §5).
   */
  settle(query: NormalizedQuery): Promise<void>;
  /** Runs a query on the server and applies its result locally; `null` without a server. */
  load(query: NormalizedQuery): Promise<DatabaseResult<SyncPayload | null>>;
  /** Applies triples that came from the server some other way (preloaded data). */
  applyRemote(triples: readonly Triple[]): void;
}

const LOCAL_QUERY: SyncedQuery = {
  isLoading: signal(false),
  hasSynced: signal(false),
  answered: () => Promise.resolve(),
  release: () => {},
};

/** Sync of a local-only client: nothing to wait for, ever. */
export const LOCAL_SYNC: QuerySync = {
  hasServer: false,
  follow: () => LOCAL_QUERY,
  settle: () => Promise.resolve(),
  load: () => Promise.resolve(ok(null)),
  applyRemote: () => {},
};

/**
 * The query to sync for an aggregate: the documents it aggregates (same collection and `where`,
 * no order or limit). The server sends matching documents whole, so every aggregated field
 * arrives with them.
 *
 * @example
 * syncedAggregateQuery(normalizeAggregateQuery(spec, { aggregations: { n: { count: "*" } }, where: { done: false } }).data!)
 * // { collection, select: ["id"], where: [{ field: "done", op: "equals", operand: false }], orderBy: [], limit: undefined, specs: { id, done } }
 */
export function syncedAggregateQuery(query: NormalizedAggregateQuery): NormalizedQuery {
  const specs: Record<string, FieldSpec> = { id: AUTO_FIELD_SPECS.id! };
  for (const field of whereFields(query.where)) specs[field] = query.specs[field]!;
  return { collection: query.collection, select: ["id"], where: query.where, orderBy: [], limit: undefined, specs };
}
