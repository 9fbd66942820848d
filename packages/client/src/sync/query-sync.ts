import { type ReadonlySignal, signal } from "@preact/signals-core";
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

/** One use of a followed query: pair every `follow` with one `release`. */
export interface FollowedQuery {
  /**
   * True while the query's first result is unknown: until the server's snapshot for it arrives
   * or the client goes offline. False from the start for a query synced before (it has a
   * cursor). Once false it stays false.
   */
  readonly isLoading: ReadonlySignal<boolean>;
  /**
   * Whether the server has answered the query: true from the start for one synced before (it
   * has a cursor, from an earlier run or preloaded data), else once its snapshot (or refusal)
   * arrives. Once true it stays true.
   */
  readonly hasSynced: ReadonlySignal<boolean>;
  /** Resolves once local data answers the query: its snapshot arrived while followed, or the client is offline. */
  answered(): Promise<void>;
  /** Stops this use; the last one unsubscribes. Idempotent. */
  release(): void;
}

/**
 * What live queries, pagination and preload need from sync. A local-only client uses
 * {@link LOCAL_SYNC}; a client with a server, its sync engine.
 */
export interface QuerySync {
  /** Whether a server is behind this client. */
  readonly hasServer: boolean;
  /** Starts syncing a query (shared by identical ones); `cursor` comes from preloaded data. */
  follow(query: NormalizedQuery, cursor?: string | null): FollowedQuery;
  /**
   * Resolves once local data can answer a one-shot query: at once when what the client syncs
   * covers it or the client is offline, else once the server has answered it.
   */
  settle(query: NormalizedQuery): Promise<void>;
  /** Runs a query on the server and applies its result locally; `null` without a server. */
  load(query: NormalizedQuery): Promise<DatabaseResult<SyncPayload | null>>;
  /** Applies triples that came from the server some other way (preloaded data). */
  applyRemote(triples: readonly Triple[]): void;
}

const LOCAL_QUERY: FollowedQuery = {
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
 * const todos = schema.collections.todos!;
 * const aggregate = normalizeAggregateQuery(todos, { aggregations: { n: { count: "*" } }, where: { done: false } });
 * syncedAggregateQuery(aggregate.data!);
 * // { collection: "todos", select: ["id"], where: [{ field: "done", op: "equals", operand: false }], orderBy: [], … }
 */
export function syncedAggregateQuery(query: NormalizedAggregateQuery): NormalizedQuery {
  const specs: Record<string, FieldSpec> = { id: AUTO_FIELD_SPECS.id! };
  for (const field of whereFields(query.where)) specs[field] = query.specs[field]!;
  return { collection: query.collection, select: ["id"], where: query.where, orderBy: [], limit: undefined, specs };
}
