import type { DatabaseResult } from "@trellis/core";
export type { PaginatedQueryDef, StrictPaginatedQuery } from "@trellis/core";

/** What a paginated query shows: one page of documents and where it sits. */
export interface PaginatedState<T> {
  /** The current page's documents, in query order (undefined while loading or on error). */
  readonly data: readonly T[] | undefined;
  /** 1-based: one more than the number of full pages before this one. */
  readonly currentPage: number;
  /** The current page plus the pages after it (at least 1). */
  readonly estimatedTotalPages: number;
  /** Every document the query matches now. */
  readonly estimatedTotalCount: number;
  readonly hasNext: boolean;
  readonly hasPrevious: boolean;
  /** True only while the first page is unknown (never for a local client). */
  readonly loading: boolean;
  /**
   * Whether the server has answered the shown page's query: false for a page shown from local
   * data only (offline, or a server that cannot be reached) and always for a local client.
   */
  readonly hasSynced: boolean;
  readonly error: DatabaseResult<never>["error"] | undefined;
}

/**
 * A live, keyset-paginated query: `client.database.users.paginated({ ...query, pageSize })`.
 * It is live while it has subscribers; `getCurrentState`, `next` and `previous` also work
 * without any.
 *
 * @example
 * const pages = client.database.users.paginated({ orderBy: ["name", "asc"], pageSize: 20 });
 * const stop = pages.subscribe((state) => render(state.data, state.currentPage, state.hasNext));
 * await pages.next();
 */
export interface PaginatedController<T> {
  /** Calls `listener` at once with the current state, then whenever it changes; returns an unsubscribe. */
  subscribe(listener: (state: PaginatedState<T>) => void): () => void;
  /** Shows the page after the current one (nothing happens on the last page). Resolves once it is shown. */
  next(): Promise<void>;
  /** Shows the page before the current one (nothing happens on the first page). Resolves once it is shown. */
  previous(): Promise<void>;
  getCurrentState(): PaginatedState<T>;
}
