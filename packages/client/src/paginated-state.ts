import { type ResultDoc, sameResult } from "@trellis/core";
import type { PaginatedController, PaginatedState } from "./paginated-types.js";

type Listener = (state: PaginatedState<ResultDoc>) => void;

/** Where a page sits among every match (documents or aggregated rows). */
interface PagePosition {
  readonly total: number;
  readonly before: number;
  readonly after: number;
}

/**
 * What every paginated controller shares: its listeners, the state they were last given, and
 * when the controller is live (while it has listeners; once, to look, without any). Preloaded
 * state goes to the first listener as is.
 */
export abstract class PaginatedListeners implements PaginatedController<ResultDoc> {
  private readonly listeners = new Set<Listener>();
  /** Preloaded data not yet delivered: the first subscriber gets it as is. */
  protected hasPreloadedState = false;

  constructor(protected state: PaginatedState<ResultDoc>) {}

  /** Starts following the current page (`isPrefetching`: with its neighbours, for listeners). */
  protected abstract open(isPrefetching: boolean): void;
  protected abstract close(): void;
  /** Whether the current page is followed now. */
  protected abstract get isOpen(): boolean;
  /** Whether there is a query to follow (not a controller of an error). */
  protected abstract get hasQuery(): boolean;
  abstract readonly next: () => Promise<void>;
  abstract readonly previous: () => Promise<void>;

  // The public methods are bound: adapters pass them around on their own (useSyncExternalStore).
  readonly subscribe = (listener: Listener): (() => void) => {
    if (typeof listener !== "function") throw new TypeError("paginated().subscribe: pass a callback (state) => ….");
    const isFirst = this.listeners.size === 0;
    if (isFirst && this.hasPreloadedState) {
      // The preloaded page first, exactly as preloaded; the live page follows only if it differs.
      this.hasPreloadedState = false;
      this.listeners.add(listener);
      deliver(listener, this.state);
      this.open(true);
    } else {
      if (isFirst) this.open(true);
      this.listeners.add(listener);
      deliver(listener, this.state);
    }
    let isSubscribed = true;
    return () => {
      if (!isSubscribed) return;
      isSubscribed = false;
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.close();
    };
  };

  readonly getCurrentState = (): PaginatedState<ResultDoc> => {
    // Unsubscribed: look at the current page once (the state object is kept while it reads the same).
    if (!this.isOpen && this.hasQuery && !this.hasPreloadedState) {
      this.open(false);
      this.close();
    }
    return this.state;
  };

  protected get hasListeners(): boolean {
    return this.listeners.size > 0;
  }

  protected publish(state: PaginatedState<ResultDoc>): void {
    if (sameState(this.state, state)) return;
    this.state = state;
    for (const listener of [...this.listeners]) deliver(listener, state);
  }
}

export const LOADING_STATE: PaginatedState<ResultDoc> = {
  data: undefined,
  currentPage: 1,
  estimatedTotalPages: 1,
  estimatedTotalCount: 0,
  hasNext: false,
  hasPrevious: false,
  loading: true,
  hasSynced: false,
  error: undefined,
};

export function failedState(error: NonNullable<PaginatedState<ResultDoc>["error"]>): PaginatedState<ResultDoc> {
  return { ...LOADING_STATE, loading: false, error };
}

/** The state of a page of `docs` at `position`. */
export function stateOf(
  docs: readonly ResultDoc[],
  position: PagePosition,
  pageSize: number,
  hasSynced: boolean,
): PaginatedState<ResultDoc> {
  const currentPage = 1 + Math.ceil(position.before / pageSize);
  return {
    data: docs,
    currentPage,
    estimatedTotalPages: currentPage + Math.ceil(position.after / pageSize),
    estimatedTotalCount: position.total,
    hasNext: position.after > 0,
    hasPrevious: position.before > 0,
    loading: false,
    hasSynced,
    error: undefined,
  };
}

function sameState(a: PaginatedState<ResultDoc>, b: PaginatedState<ResultDoc>): boolean {
  return (
    a.currentPage === b.currentPage &&
    a.estimatedTotalPages === b.estimatedTotalPages &&
    a.estimatedTotalCount === b.estimatedTotalCount &&
    a.hasNext === b.hasNext &&
    a.hasPrevious === b.hasPrevious &&
    a.loading === b.loading &&
    a.hasSynced === b.hasSynced &&
    a.error === b.error &&
    (a.data === b.data || sameResult(a.data, b.data))
  );
}

function deliver(listener: Listener, state: PaginatedState<ResultDoc>): void {
  try {
    listener(state);
  } catch (error) {
    console.error("Trellis: a paginated subscriber threw", error);
  }
}
