import { effect, untracked } from "@preact/signals-core";
import {
  type Cursor,
  isNormalizedAggregate,
  type LiveQuery,
  type LiveQueryRegistry,
  type NormalizedQuery,
  type ResultDoc,
  type ResultWindow,
} from "@trellis/core";
import { PaginatedAggregate } from "./paginated-aggregate.js";
import { failedState, LOADING_STATE, PaginatedListeners, stateOf } from "./paginated-state.js";
import type { PaginatedController, PaginatedState } from "./paginated-types.js";
import type { QueryService } from "./query-service.js";
import type { FollowedQuery, QuerySync } from "./sync/query-sync.js";

/** Where the current page starts: after a cursor, before one, or (neither) at the beginning. */
interface Anchor {
  readonly after?: Cursor;
  readonly before?: Cursor;
}

interface ShownPage {
  readonly view: LiveQuery;
  readonly synced: FollowedQuery;
  stop: () => void;
  /** True while `show` runs: a reanchor found then waits until `show` can stop this page. */
  isShowing: boolean;
  /** Set while the page's first render, during `show`, finds it empty with matches elsewhere. */
  reanchor: Anchor | undefined;
}

interface Neighbour {
  readonly view: LiveQuery;
  readonly synced: FollowedQuery;
  readonly cursor: Cursor;
}

/**
 * The controller behind `paginated()`. Each page is the window of a shared live query after
 * (or before) a cursor: the sort keys and id of the last (first) document of the page it was
 * reached from, so inserts and deletes elsewhere never shift it. While subscribed, the pages
 * before and after are live too, so `next()` and `previous()` switch at once from local data.
 *
 * When the current page empties (its documents deleted or changed away) while the query still
 * matches documents, the controller moves on its own: a page after a cursor becomes the page
 * ending at that cursor (the previous page, now the last), and a page before a cursor becomes
 * the first page.
 *
 * With a server every live page is synced (see `syncedQuery`); a page shows once the server has
 * answered it (the first one is `loading` until then), and the previous page stays on show
 * meanwhile.
 */
export class PaginatedQuery extends PaginatedListeners {
  private anchor: Anchor = {};
  private page: ShownPage | undefined;
  private previousPage: Neighbour | undefined;
  private nextPage: Neighbour | undefined;
  private isPrefetching = false;

  /** The sync cursor of preloaded data, for the first page. */
  private preloadedCursor: string | null = null;
  /** Started from preloaded data: its first page counts as synced, as a preloaded subscription does. */
  private isPreloaded = false;

  private constructor(
    private readonly registry: LiveQueryRegistry,
    private readonly sync: QuerySync,
    private readonly base: NormalizedQuery | undefined,
    private readonly pageSize: number,
    initial: PaginatedState<ResultDoc>,
  ) {
    super(initial);
  }

  /**
   * A controller for `paginated(input)`: a query with `pageSize`, or data from
   * `preloadPaginated`; over aggregated rows for an aggregate query.
   */
  static create(
    queries: QueryService,
    registry: LiveQueryRegistry,
    collection: string,
    input: unknown,
  ): PaginatedController<ResultDoc> {
    const { sync } = queries;
    const preloaded = queries.parsePreloaded(collection, input, "paginated");
    if (preloaded !== undefined) {
      if (preloaded.error) return new PaginatedQuery(registry, sync, undefined, 1, failedState(preloaded.error));
      const { query, docs, page, cursor } = preloaded.data;
      const window = { total: page!.totalCount, before: 0, after: Math.max(0, page!.totalCount - docs.length) };
      const initial = stateOf(docs, window, page!.pageSize, true);
      if (isNormalizedAggregate(query))
        return new PaginatedAggregate(queries, registry, query, page!.pageSize, initial);
      const controller = new PaginatedQuery(registry, sync, query, page!.pageSize, initial);
      controller.hasPreloadedState = true;
      controller.preloadedCursor = cursor;
      controller.isPreloaded = true;
      return controller;
    }
    const base = queries.normalizePaginated(collection, input);
    if (base.error) return new PaginatedQuery(registry, sync, undefined, 1, failedState(base.error));
    const { query, pageSize } = base.data;
    return isNormalizedAggregate(query)
      ? new PaginatedAggregate(queries, registry, query, pageSize)
      : new PaginatedQuery(registry, sync, query, pageSize, LOADING_STATE);
  }

  protected get isOpen(): boolean {
    return this.page !== undefined;
  }

  protected get hasQuery(): boolean {
    return this.base !== undefined;
  }

  readonly next = async (): Promise<void> => {
    await this.turn((window) => (window.after > 0 && window.last !== undefined ? { after: window.last } : undefined));
  };

  readonly previous = async (): Promise<void> => {
    await this.turn((window) =>
      window.before > 0 && window.first !== undefined ? { before: window.first } : undefined,
    );
  };

  private async turn(target: (window: ResultWindow) => Anchor | undefined): Promise<void> {
    if (this.base === undefined) return;
    this.hasPreloadedState = false;
    const isOpen = this.page !== undefined;
    if (!isOpen) this.open(false);
    const anchor = target(this.page!.view.window.peek());
    if (anchor !== undefined) this.show(anchor);
    const shown = this.page!;
    // A page the server has not answered yet shows once it has.
    if (shown.synced.isLoading.peek()) await shown.synced.answered();
    if (!isOpen && this.page === shown && !this.hasListeners) this.close();
  }

  protected open(isPrefetching: boolean): void {
    if (this.base === undefined || this.page !== undefined) return;
    this.isPrefetching = isPrefetching;
    this.show(this.anchor);
  }

  protected close(): void {
    const page = this.page;
    if (page === undefined) return;
    this.page = undefined;
    page.stop();
    this.registry.release(page.view);
    page.synced.release();
    this.setNeighbours(undefined, undefined);
  }

  /** Shows the page at `anchor`: acquires its live query first, then lets the old one go. */
  private show(anchor: Anchor): void {
    const old = this.page;
    this.anchor = anchor;
    const query = this.pageQuery(anchor);
    const view = this.registry.acquire(query);
    // Only the first page continues from preloaded data.
    const isFirstPage = anchor.after === undefined && anchor.before === undefined;
    const cursor = isFirstPage ? this.preloadedCursor : null;
    const isPreloadedPage = isFirstPage && this.isPreloaded;
    const synced = this.sync.follow(this.syncedQuery(query), cursor);
    const page: ShownPage = { view, synced, stop: () => {}, isShowing: true, reanchor: undefined };
    this.page = page;
    let isFirstRender = true;
    page.stop = effect(() => {
      if (synced.isLoading.value) return;
      const docs = view.result.value;
      const window = view.window.value;
      const hasSynced = isPreloadedPage || synced.hasSynced.value;
      untracked(() => this.render(page, docs, window, hasSynced, isFirstRender));
      isFirstRender = false;
    });
    page.isShowing = false;
    if (old !== undefined) {
      old.stop();
      this.registry.release(old.view);
      old.synced.release();
    }
    // Moving on from an empty page waits until this page's effect exists, so it can be stopped.
    if (page.reanchor !== undefined && this.page === page) this.show(page.reanchor);
  }

  private render(
    page: ShownPage,
    docs: readonly ResultDoc[],
    window: ResultWindow,
    hasSynced: boolean,
    isFirstRender: boolean,
  ): void {
    if (page !== this.page) return;
    if (docs.length === 0 && window.total > 0) {
      // The page emptied but the query still matches. After a cursor, nothing follows it any
      // more: show the last page, the one ending with the cursor's position (inclusive: the id
      // plus "\0" is the smallest id above it). Before a cursor, show the first page.
      const after = this.anchor.after;
      const anchor: Anchor = after !== undefined ? { before: { keys: after.keys, id: `${after.id}\u0000` } } : {};
      if (page.isShowing) page.reanchor = anchor;
      else this.show(anchor);
      return;
    }
    if (this.isPrefetching) {
      // Neighbours are anchored at the page's edges when it is shown. Later edge changes keep
      // them (re-anchoring would rescan the match set on every write at the page's edge); they
      // still hold nearly the right documents, and next()/previous() anchor exactly.
      const previous = this.previousPage === undefined || isFirstRender ? window.first : this.previousPage.cursor;
      const next = this.nextPage === undefined || isFirstRender ? window.last : this.nextPage.cursor;
      this.setNeighbours(window.before > 0 ? previous : undefined, window.after > 0 ? next : undefined);
    }
    this.publish(stateOf(docs, window, this.pageSize, hasSynced));
  }

  /** Keeps the adjacent pages live at these cursors: acquires new ones before releasing old ones. */
  private setNeighbours(before: Cursor | undefined, after: Cursor | undefined): void {
    const previous = this.previousPage;
    const next = this.nextPage;
    if (!sameCursor(previous?.cursor, before)) {
      this.previousPage = before === undefined ? undefined : this.neighbour({ before }, before);
      if (previous !== undefined) this.releaseNeighbour(previous);
    }
    if (!sameCursor(next?.cursor, after)) {
      this.nextPage = after === undefined ? undefined : this.neighbour({ after }, after);
      if (next !== undefined) this.releaseNeighbour(next);
    }
  }

  private neighbour(anchor: Anchor, cursor: Cursor): Neighbour {
    const query = this.pageQuery(anchor);
    return { view: this.registry.acquire(query), synced: this.sync.follow(this.syncedQuery(query)), cursor };
  }

  /**
   * What to sync for a page: one document more than the page, so the client knows whether a
   * page follows (or, before a cursor, precedes) it. It holds only what it syncs.
   */
  private syncedQuery(page: NormalizedQuery): NormalizedQuery {
    return { ...page, limit: this.pageSize + 1 };
  }

  private releaseNeighbour(neighbour: Neighbour): void {
    this.registry.release(neighbour.view);
    neighbour.synced.release();
  }

  private pageQuery(anchor: Anchor): NormalizedQuery {
    const base = this.base!;
    if (anchor.after !== undefined) return { ...base, after: anchor.after };
    if (anchor.before !== undefined) return { ...base, before: anchor.before };
    return base;
  }
}

function sameCursor(a: Cursor | undefined, b: Cursor | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && JSON.stringify(a) === JSON.stringify(b));
}
