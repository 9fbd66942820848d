import type {
  AggregateRow,
  EntitiesDef,
  EntityDef,
  PaginatedAggregateQueryDef,
  QueryResultDoc,
  Schema,
  StrictPaginatedAggregateQuery,
} from "@trellis/client";
import {
  type CollectionApi,
  type PaginatedController,
  type PaginatedQueryDef,
  type PaginatedState,
  type PreloadData,
  queryKey,
  type StrictPaginatedQuery,
  type TrellisClient,
} from "@trellis/client";
import { untrack } from "svelte";
import { createLiveState } from "./live-state.svelte.js";
import { type MaybeGetter, resolveInput } from "./resolve-input.js";
import { laterCalls } from "./subscription-feed.js";

/**
 * A live, paginated query for Svelte: the page state is reactive in templates, `next` and
 * `previous` move between pages, and `subscribe` is the store contract (`$pages` is the
 * {@link PaginatedState} snapshot).
 */
export interface ReactivePaginated<T> extends PaginatedState<T> {
  /** Shows the page after the current one; resolves once it is shown. */
  next(): Promise<void>;
  /** Shows the page before the current one; resolves once it is shown. */
  previous(): Promise<void>;
  subscribe(run: (state: PaginatedState<T>) => void): () => void;
}

/**
 * Continues a page preloaded by `preloadPaginated`: its first state is the preloaded page, with
 * `loading` false. The client is the one of `setTrellisClient` unless given.
 *
 * @example
 * // In a SvelteKit load (+page.ts): the first page, rendered on the server
 * const { data: firstPage, error } = await client.database.todos.preloadPaginated({
 *   orderBy: ["createdAt", "desc"],
 *   pageSize: 20,
 * });
 * if (error) throw error;
 * // In +page.svelte, given it as `data.firstPage`: that page at once, then live
 * const pages = paginated(() => firstPage);
 * await pages.next();
 */
export function paginated<T>(
  preloaded: MaybeGetter<PreloadData<T, "paginated">>,
  client?: TrellisClient<Schema>,
): ReactivePaginated<T>;
/**
 * Pages through the aggregated rows of an aggregate query (its groups in `orderBy` order),
 * `pageSize` rows at a time, live and keyset-based. A getter follows reactive state.
 *
 * @example
 * const pages = paginated(client.database.todos, {
 *   aggregations: { n: { count: "*" } },
 *   groupBy: ["text"],
 *   orderBy: ["n", "desc"],
 *   pageSize: 10,
 * });
 */
export function paginated<E extends EntityDef, A extends EntitiesDef, const Q extends PaginatedAggregateQueryDef<E, A>>(
  collection: CollectionApi<E, A>,
  query: MaybeGetter<Q & StrictPaginatedAggregateQuery<E, Q, A>>,
): ReactivePaginated<AggregateRow<E, Q>>;
/**
 * Pages through a query, `pageSize` documents at a time, live and keyset-based. A getter follows
 * reactive state: a changed query (compared by value) starts again from its first page.
 *
 * @example
 * <script lang="ts">
 *   const pages = paginated(client.database.todos, { orderBy: ["text", "asc"], pageSize: 20 });
 * </script>
 * {#each pages.data ?? [] as todo (todo.id)}<li>{todo.text}</li>{/each}
 * <button disabled={!pages.hasNext} onclick={() => pages.next()}>Next</button>
 */
export function paginated<E extends EntityDef, A extends EntitiesDef, const Q extends PaginatedQueryDef<E, A>>(
  collection: CollectionApi<E, A>,
  query: MaybeGetter<Q & StrictPaginatedQuery<E, Q, A>>,
): ReactivePaginated<QueryResultDoc<E, Q, A>>;
export function paginated(...args: unknown[]): ReactivePaginated<unknown> {
  const { collection, input } = resolveInput("paginated", args);
  let controller: PaginatedController<unknown> | undefined;
  const live = createLiveState(
    () => queryKey(input()),
    () => {
      controller = collection().paginated(input() as never) as PaginatedController<unknown>;
      const opened = controller;
      return {
        current: () => opened.getCurrentState(),
        follow: (onChange) => laterCalls((callback) => opened.subscribe(callback), onChange),
      };
    },
  );
  // Reading the state first swaps in the controller of the current query, if it changed.
  const current = () => {
    untrack(live.read);
    return controller!;
  };
  return {
    get data() {
      return live.read().data;
    },
    get currentPage() {
      return live.read().currentPage;
    },
    get estimatedTotalPages() {
      return live.read().estimatedTotalPages;
    },
    get estimatedTotalCount() {
      return live.read().estimatedTotalCount;
    },
    get hasNext() {
      return live.read().hasNext;
    },
    get hasPrevious() {
      return live.read().hasPrevious;
    },
    get loading() {
      return live.read().loading;
    },
    get hasSynced() {
      return live.read().hasSynced;
    },
    get error() {
      return live.read().error;
    },
    next: () => current().next(),
    previous: () => current().previous(),
    subscribe: live.subscribe,
  };
}
