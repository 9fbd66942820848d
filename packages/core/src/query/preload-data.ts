import { type DatabaseResult, fail, ok } from "../errors.js";
import { isNormalizedAggregate, type NormalizedAggregateQuery } from "./aggregate-query.js";
import { codecQuery, encodeDocs, type EncodedDoc } from "./preload-codec.js";
import type { NormalizedQuery } from "./normalized-query.js";
import type { ResultDoc } from "./live-query.js";
import type { Triple } from "../triples.js";

/** What was preloaded: a query's result, its first match, or the first page of a paginated query. */
export type PreloadKind = "many" | "one" | "paginated";

/** The format marker of {@link PreloadData}; a new format gets a new marker. */
export const PRELOAD_FORMAT = "trellis/preload@1";

/** Type-level only: carries the document type through serialisation. Never present at runtime. */
declare const documentType: unique symbol;

/** Page facts of a paginated preload. */
export interface PreloadPage {
  readonly pageSize: number;
  /** Every match of the query when it was preloaded (for `estimatedTotalCount`). */
  readonly totalCount: number;
}

/**
 * Preloaded query results: plain JSON (no Dates, functions or class instances), so they survive
 * `JSON.stringify`/`JSON.parse`, `structuredClone`, React Server Component props and SvelteKit's
 * devalue. Pass them to `subscribe`, `subscribeOne` or `paginated` of the same app's client.
 *
 * @example
 * const { data: preloaded } = await client.database.users.preload({ where: { isAdult: true } });
 * client.database.users.subscribe(preloaded!, (users) => render(users)); // first call: the preloaded users
 */
export interface PreloadData<T, K extends PreloadKind = PreloadKind> {
  readonly format: typeof PRELOAD_FORMAT;
  readonly kind: K;
  /** The app (tenant) the data belongs to; a client of another app refuses it. */
  readonly appId: string;
  readonly collection: string;
  /**
   * The normalized query (`limit: 1` for `one`, `limit: pageSize` for `paginated`): a document
   * query, or an aggregate query (one with `aggregations` and `groupBy`).
   */
  readonly query: NormalizedQuery | NormalizedAggregateQuery;
  /**
   * The result documents (aggregate rows for an aggregate query), encoded by the preload codec
   * (see docs/preload.md); at most one for `one`.
   */
  readonly data: readonly EncodedDoc[];
  /** Page size and total match count of a paginated preload; null otherwise. */
  readonly page: PreloadPage | null;
  /**
   * Where sync continues from: the server's cursor for this query, or `null` when a local-only
   * client preloaded the data. Always `null` for an aggregate query: its documents do not travel,
   * so a client syncs them from the start.
   */
  readonly cursor: string | null;
  /**
   * The server's triples behind `data` (each document in full), which a client applies before it
   * follows the query from `cursor`; empty when a local-only client preloaded the data, and for
   * an aggregate query.
   */
  readonly triples: readonly Triple[];
  readonly [documentType]?: T;
}

/**
 * Whether a value claims to be preloaded data (it may still be malformed: parse it).
 *
 * @example
 * const { data: preloaded } = await client.database.users.preload({ where: { isAdult: true } });
 * isPreloadData(preloaded); // true
 * isPreloadData({ where: { isAdult: true } }); // false: a query
 */
export function isPreloadData(value: unknown): value is PreloadData<unknown> {
  return typeof value === "object" && value !== null && (value as { format?: unknown }).format === PRELOAD_FORMAT;
}

/**
 * Builds preloaded data from a normalized query, its result documents (or aggregate rows) and
 * (preloaded from a server) the server's answer, which an aggregate query leaves out.
 *
 * @example
 * const docs = registry.acquire(normalized).result.value;
 * createPreloadData("many", "my-app", normalized, docs, null, null);
 * // { format, kind: "many", appId: "my-app", …, cursor: null, triples: [] }
 */
export function createPreloadData(
  kind: PreloadKind,
  appId: string,
  query: NormalizedQuery | NormalizedAggregateQuery,
  docs: readonly ResultDoc[],
  page: PreloadPage | null,
  sync: { readonly triples: readonly Triple[]; readonly cursor: string } | null,
): PreloadData<ResultDoc> {
  // An aggregate's documents stay on the server: the client syncs them itself, from the start.
  const server = isNormalizedAggregate(query) ? null : sync;
  return {
    format: PRELOAD_FORMAT,
    kind,
    appId,
    collection: query.collection,
    query,
    data: encodeDocs(codecQuery(query), docs),
    page,
    cursor: server?.cursor ?? null,
    triples: server?.triples ?? [],
  };
}

/**
 * A paginated query (`{ ...query, pageSize }`) split into the user query of its first page
 * (`limit: pageSize`) and its page size; VALIDATION naming `what` (e.g. "todos.paginated") for
 * anything else.
 *
 * @example
 * firstPageQuery("todos.paginated", { orderBy: ["text", "asc"], pageSize: 20 }) // ok({ query: { orderBy, limit: 20 }, pageSize: 20 })
 */
export function firstPageQuery(
  what: string,
  input: unknown,
): DatabaseResult<{ query: Record<string, unknown>; pageSize: number }> {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return fail(
      "VALIDATION",
      `${what}: pass a query with a pageSize, like { orderBy: ["name", "asc"], pageSize: 20 }.`,
    );
  }
  const { pageSize, ...query } = input as { pageSize?: unknown; limit?: unknown };
  if (typeof pageSize !== "number" || !Number.isSafeInteger(pageSize) || pageSize < 1) {
    return fail("VALIDATION", `${what}: pageSize must be a whole number >= 1, got ${String(pageSize)}.`);
  }
  if (query.limit !== undefined) return fail("VALIDATION", `${what}: use pageSize instead of limit.`);
  return ok({ query: { ...query, limit: pageSize }, pageSize });
}
