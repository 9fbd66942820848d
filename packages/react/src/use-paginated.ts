import {
  isPreloadData,
  type CollectionApi,
  type PaginatedController,
  type PaginatedQueryDef,
  type PaginatedState,
  type PreloadData,
  queryKey,
  type StrictPaginatedQuery,
} from "@trellis/client";
import type {
  AggregateRow,
  EntitiesDef,
  EntityDef,
  PaginatedAggregateQueryDef,
  QueryResultDoc,
  StrictPaginatedAggregateQuery,
} from "@trellis/client";
import { useMemo, useSyncExternalStore } from "react";
import { type AnyCollection, collectionOf } from "./collection-of.js";
import { createExternalStore } from "./external-store.js";
import { useOptionalClient } from "./trellis-provider.js";

/** The state of a paginated query plus the calls that turn its pages (stable for one query). */
export interface PaginatedResult<T> extends PaginatedState<T> {
  /** Shows the next page; resolves once it is shown. */
  readonly next: () => Promise<void>;
  /** Shows the previous page; resolves once it is shown. */
  readonly previous: () => Promise<void>;
}

/**
 * Continues a page preloaded by `preloadPaginated`, with the provider's client: the first render
 * shows it with `loading: false`.
 *
 * @example
 * const { data: preloadedPage } = await client.database.todos.preloadPaginated({ orderBy: ["text", "asc"], pageSize: 20 }); // on the server
 * const { data, hasNext, next } = usePaginated(preloadedPage!); // in the browser, inside <TrellisProvider>
 */
export function usePaginated<T>(preloaded: PreloadData<T, "paginated">): PaginatedResult<T>;
/**
 * Continues a page preloaded by `preloadPaginated`, with the given collection.
 *
 * @example
 * const { data: preloadedPage } = await client.database.todos.preloadPaginated({ orderBy: ["text", "asc"], pageSize: 20 }); // on the server
 * const page = usePaginated(client.database.todos, preloadedPage!); // in the browser
 */
export function usePaginated<E extends EntityDef, A extends EntitiesDef, T>(
  collection: CollectionApi<E, A>,
  preloaded: PreloadData<T, "paginated">,
): PaginatedResult<T>;
/**
 * Pages through the aggregated rows of an aggregate query (its groups in `orderBy` order),
 * `pageSize` rows at a time, live and keyset-based.
 *
 * @example
 * const { data, hasNext, next } = usePaginated(client.database.todos, {
 *   aggregations: { n: { count: "*" } },
 *   groupBy: ["text"],
 *   orderBy: ["n", "desc"],
 *   pageSize: 10,
 * });
 */
export function usePaginated<
  E extends EntityDef,
  A extends EntitiesDef,
  const Q extends PaginatedAggregateQueryDef<E, A>,
>(
  collection: CollectionApi<E, A>,
  query: Q & StrictPaginatedAggregateQuery<E, Q, A>,
): PaginatedResult<AggregateRow<E, Q>>;
/**
 * Pages through a query, `pageSize` documents at a time, live and keyset-based: the page's
 * state plus `next` and `previous`. The query may be written inline (it is compared by value);
 * a different query starts again at the first page.
 *
 * @example
 * function TodoPages() {
 *   const { data, currentPage, hasNext, hasPrevious, next, previous } = usePaginated(client.database.todos, { orderBy: ["text", "asc"], pageSize: 20 });
 *   return <>
 *     <ul>{data?.map((todo) => <li key={todo.id}>{todo.text}</li>)}</ul>
 *     <button disabled={!hasPrevious} onClick={previous}>Back</button> {currentPage}
 *     <button disabled={!hasNext} onClick={next}>Next</button>
 *   </>;
 * }
 */
export function usePaginated<E extends EntityDef, A extends EntitiesDef, const Q extends PaginatedQueryDef<E, A>>(
  collection: CollectionApi<E, A>,
  query: Q & StrictPaginatedQuery<E, Q, A>,
): PaginatedResult<QueryResultDoc<E, Q, A>>;
export function usePaginated(...args: unknown[]): PaginatedResult<unknown> {
  const client = useOptionalClient();
  const [first, second] = args;
  const isPreloadedOnly = args.length === 1 && isPreloadData(first);
  const collection = isPreloadedOnly ? collectionOf(client, first, "usePaginated") : (first as AnyCollection);
  const input = isPreloadedOnly ? first : second;
  const key = queryKey(input);
  // One controller (it holds the current page) per collection and query value.
  const { store, next, previous } = useMemo(() => {
    const controller = collection.paginated(input) as PaginatedController<unknown>;
    const store = createExternalStore<PaginatedState<unknown>>((onChange) => ({
      read: controller.getCurrentState,
      close: controller.subscribe(onChange),
    }));
    return { store, next: controller.next, previous: controller.previous };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [collection, key]);
  const state = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getServerSnapshot);
  return useMemo(() => ({ ...state, next, previous }), [state, next, previous]);
}
