import { effect, untracked } from "@preact/signals-core";
import {
  type AggregateAnchor,
  AggregatePages,
  type AggregateResultRow,
  type LiveQueryRegistry,
  type NormalizedAggregateQuery,
  type ResultDoc,
} from "@trellis/core";
import { LOADING_STATE, PaginatedListeners, stateOf } from "./paginated-state.js";
import type { PaginatedState } from "./paginated-types.js";
import type { Followed, QueryService } from "./query-service.js";

/**
 * The controller behind `paginated()` of an aggregate query: pages of its aggregated rows
 * (groups in `orderBy` order), keyset-based like document pages. Every page is a window of one
 * live aggregate of all the groups, the one a subscription of the query would follow (and sync:
 * the documents it aggregates), so `next()` and `previous()` switch at once from local data and
 * a group whose aggregates change moves to the page its new place falls on.
 *
 * A page after a row's cursor that empties while groups remain becomes the last page; one
 * before a cursor becomes the first. Started from preloaded rows (whose documents did not come
 * along), a client with a server shows them until the server has answered the documents.
 */
export class PaginatedAggregate extends PaginatedListeners {
  /** Every group's row: pages are windows of it. */
  private readonly query: NormalizedAggregateQuery;
  private readonly pages: AggregatePages;
  private readonly isPreloaded: boolean;
  private anchor: AggregateAnchor = {};
  private followed: (Followed & { readonly stop: () => void }) | undefined;
  /** Every group's row, once the live aggregate shows (preloaded rows may stand before). */
  private rows: readonly AggregateResultRow[] | undefined;
  private hasSynced = false;

  constructor(
    private readonly queries: QueryService,
    private readonly registry: LiveQueryRegistry,
    query: NormalizedAggregateQuery,
    pageSize: number,
    /** The preloaded first page, when started from preloaded data. */
    preloaded?: PaginatedState<ResultDoc>,
  ) {
    super(preloaded ?? LOADING_STATE);
    this.query = { ...query, limit: undefined };
    this.pages = new AggregatePages(this.query, pageSize);
    this.hasPreloadedState = this.isPreloaded = preloaded !== undefined;
  }

  readonly next = (): Promise<void> => this.turn(true);

  readonly previous = (): Promise<void> => this.turn(false);

  protected get isOpen(): boolean {
    return this.followed !== undefined;
  }

  protected get hasQuery(): boolean {
    return true;
  }

  protected open(): void {
    if (this.followed !== undefined) return;
    const { view, synced } = this.queries.followQuery(this.query).data!;
    const waitsForServer = this.isPreloaded && this.queries.sync.hasServer;
    const stop = effect(() => {
      if (synced.isLoading.value || (waitsForServer && !synced.hasSynced.value)) return;
      this.rows = view.result.value as readonly AggregateResultRow[];
      this.hasSynced = this.isPreloaded || synced.hasSynced.value;
      untracked(() => this.render());
    });
    this.followed = { view, synced, stop };
  }

  protected close(): void {
    const followed = this.followed;
    if (followed === undefined) return;
    this.followed = this.rows = undefined;
    followed.stop();
    this.registry.release(followed.view);
    followed.synced.release();
  }

  private async turn(isNext: boolean): Promise<void> {
    this.hasPreloadedState = false;
    const wasOpen = this.isOpen;
    this.open();
    const followed = this.followed!;
    if (followed.synced.isLoading.peek()) await followed.synced.answered();
    const { data, hasNext, hasPrevious } = this.state;
    // Pages turn only over live rows: preloaded rows still standing have none behind them.
    if (this.followed === followed && this.rows !== undefined && (isNext ? hasNext : hasPrevious)) {
      this.anchor = isNext ? { after: this.pages.cursorOf(data!.at(-1)!) } : { before: this.pages.cursorOf(data![0]!) };
      this.render();
    }
    if (!wasOpen && this.followed === followed && !this.hasListeners) this.close();
  }

  private render(): void {
    let page = this.pages.pageOf(this.rows!, this.anchor);
    if (page.rows.length === 0 && page.total > 0) {
      // The page emptied while groups remain: after a cursor nothing follows it any more, so
      // show the last page; before a cursor, the first.
      this.anchor = this.anchor.after !== undefined ? { isLast: true } : {};
      page = this.pages.pageOf(this.rows!, this.anchor);
    }
    this.publish(stateOf(page.rows, page, this.pages.size, this.hasSynced));
  }
}
