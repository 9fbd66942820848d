import {
  createPreloadData,
  type DatabaseResult,
  isNormalizedAggregate,
  type LiveQueryRegistry,
  ok,
  type PreloadData,
  type PreloadKind,
  type ResultDoc,
} from "@trellis/core";
import type { QueryService } from "./query-service.js";

// Making preloaded data is what server rendering does: this module loads on its first use, so
// a browser's first load does not carry it. It imports no module of the client (only types):
// a module shared with the first load would be split into a chunk of its own.

/**
 * Preloads `input` as `kind` for `collection`: what `preload`, `preloadOne` and
 * `preloadPaginated` of a collection answer.
 *
 * @example
 * // What client.database.users.preload(query) runs, once this module has loaded:
 * const { data: preloaded } = await client.database.users.preload({ where: { isAdult: true } });
 */
export function preload<K extends PreloadKind>(
  queries: QueryService,
  registry: LiveQueryRegistry,
  collection: string,
  input: unknown,
  kind: K,
): Promise<DatabaseResult<PreloadData<ResultDoc, K>>> {
  return (
    kind === "paginated"
      ? preloadPaginated(queries, registry, collection, input)
      : preloadQuery(queries, collection, input, kind as "many" | "one")
  ) as Promise<DatabaseResult<PreloadData<ResultDoc, K>>>;
}

/**
 * Preloads a query's result (`many`) or first match (`one`) as plain, serialisable data. With
 * a server, the server answers it (its documents are applied locally first) and the data
 * carries the server's triples and cursor; an aggregate query's data carries only its rows.
 *
 */
async function preloadQuery(
  queries: QueryService,
  collection: string,
  input: unknown,
  kind: "many" | "one",
): Promise<DatabaseResult<PreloadData<ResultDoc>>> {
  // The first match: `limit: 1` (anything but an object is left for the normalizer to refuse).
  const one = kind === "one" && typeof input === "object" && input !== null ? { ...input, limit: 1 } : input;
  const query = queries.normalizeAny(collection, one);
  if (query.error) return query;
  const loaded = await queries.sync.load(queries.syncedQuery(query.data));
  if (loaded.error) return loaded;
  // A document query's data is the server's answer alone (see `QueryService.preloadedResult`).
  const result = isNormalizedAggregate(query.data)
    ? queries.run(collection, one)
    : queries.preloadedResult(query.data, loaded.data);
  return result.error ? result : ok(createPreloadData(kind, queries.appId, query.data, result.data, null, loaded.data));
}

/**
 * Preloads the first page of `paginated(input)`: the page's documents, the query, the page
 * size and the total match count. With a server, the server answers the page plus one document
 * (so `hasNext` is right), and the page and its count are that answer's alone (see
 * `QueryService.preloadedResult`): the count is an estimate.
 * An aggregate query's page holds aggregated rows and its count every group: the server
 * answers the documents they aggregate, which stay behind.
 */
async function preloadPaginated(
  queries: QueryService,
  registry: LiveQueryRegistry,
  collection: string,
  input: unknown,
): Promise<DatabaseResult<PreloadData<ResultDoc, "paginated">>> {
  const paginated = queries.normalizePaginated(collection, input);
  if (paginated.error) return paginated;
  const { query, pageSize } = paginated.data;
  let docs: readonly ResultDoc[];
  let total: number;
  // For a document query: what a paginated controller syncs for its first page, so it continues from this cursor.
  const loaded = await queries.sync.load(
    isNormalizedAggregate(query) ? queries.syncedQuery(query) : { ...query, limit: pageSize + 1 },
  );
  if (loaded.error) return loaded;
  if (isNormalizedAggregate(query)) {
    const rows = queries.aggregateRows({ ...query, limit: undefined });
    docs = rows.slice(0, pageSize);
    total = rows.length;
  } else if (loaded.data === null) {
    const view = registry.acquire(query);
    docs = view.result.peek();
    total = view.window.peek().total;
    registry.release(view);
  } else {
    // The server's answer alone, as for `preload`: it holds the page and one document more.
    const answered = queries.preloadedResult({ ...query, limit: undefined }, loaded.data);
    if (answered.error) return answered;
    docs = answered.data.slice(0, pageSize);
    total = answered.data.length;
  }
  const page = { pageSize, totalCount: total };
  return ok(
    createPreloadData("paginated", queries.appId, query, docs, page, loaded.data) as PreloadData<
      ResultDoc,
      "paginated"
    >,
  );
}
