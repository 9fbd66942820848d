import type { ClientStorage } from "./storage.js";

/** A reading of the browser's storage estimate for this origin, in bytes. */
export interface QuotaEstimate {
  /** Bytes this origin stores (all its databases and caches, not only Trellis'). */
  readonly usage: number;
  /** Bytes the browser lets this origin store. */
  readonly quota: number;
  /** `usage / quota`, from 0 to 1. */
  readonly ratio: number;
}

/** What `navigator.storage.estimate()` resolves to. */
export interface StorageEstimateLike {
  readonly usage?: number | undefined;
  readonly quota?: number | undefined;
}

/** Options of {@link createQuotaWatcher}; every side effect is injectable for tests. */
export interface QuotaWatcherOptions {
  /** Reads usage and quota. Default: `navigator.storage.estimate` where it exists, else nothing is ever read. */
  readonly estimate?: (() => Promise<StorageEstimateLike>) | undefined;
  /** The share of the quota above which a warning is emitted. Default 0.8. */
  readonly threshold?: number;
  /** The least time between two readings after commits, in ms. Default 10 000. */
  readonly intervalMs?: number;
  /** The time in ms. Default `Date.now`. */
  readonly now?: () => number;
  /** Schedules a call; returns its cancel. Default `setTimeout`. */
  readonly setTimer?: (callback: () => void, ms: number) => () => void;
}

/** Watches the storage estimate; `client.storage.onQuota` and `client.storage.estimate` come from it. */
export interface QuotaWatcher {
  /** Reads the estimate unless it was read less than `intervalMs` ago, in which case it reads once that time is up. */
  check(): void;
  /** Calls `listener` each time usage crosses above the threshold (again only after it fell below); returns an unsubscribe. */
  onQuota(listener: (estimate: QuotaEstimate) => void): () => void;
  /** Reads the estimate now; undefined where there is no estimate API (or it fails). */
  estimate(): Promise<QuotaEstimate | undefined>;
  /** Cancels a scheduled reading; later checks do nothing. */
  close(): void;
}

/** The browser's estimate function, where there is one. */
function browserEstimate(): (() => Promise<StorageEstimateLike>) | undefined {
  const storage =
    typeof navigator === "undefined"
      ? undefined
      : (navigator as { storage?: { estimate?: () => Promise<StorageEstimateLike> } }).storage;
  return typeof storage?.estimate === "function" ? () => storage.estimate!() : undefined;
}

/**
 * Watches how much of the origin's storage quota is used: reads the estimate at most once every
 * `intervalMs` (a reading asked for sooner is deferred, so the last commit of a burst is always
 * read) and emits a warning when usage crosses above `threshold`, once per crossing. Without an
 * estimate API it never reads and never emits.
 *
 * @example
 * const watcher = createQuotaWatcher({ threshold: 0.9 });
 * watcher.onQuota(({ ratio }) => console.warn(`storage ${Math.round(ratio * 100)}% full`));
 * watcher.check(); // after a commit
 */
export function createQuotaWatcher(options: QuotaWatcherOptions = {}): QuotaWatcher {
  const read = "estimate" in options ? options.estimate : browserEstimate();
  const threshold = options.threshold ?? 0.8;
  const intervalMs = options.intervalMs ?? 10_000;
  const now = options.now ?? Date.now;
  const setTimer =
    options.setTimer ??
    ((callback: () => void, ms: number) => {
      const timer = setTimeout(callback, ms);
      return () => clearTimeout(timer);
    });
  const listeners = new Set<(estimate: QuotaEstimate) => void>();
  let isAbove = false;
  let isClosed = false;
  let lastRead = Number.NEGATIVE_INFINITY;
  let cancelTimer: (() => void) | undefined;

  const estimate = async (): Promise<QuotaEstimate | undefined> => {
    if (read === undefined) return undefined;
    let raw: StorageEstimateLike;
    try {
      raw = await read();
    } catch {
      return undefined; // an estimate is advice; its failure must not break writes
    }
    const { usage, quota } = raw;
    if (typeof usage !== "number" || typeof quota !== "number" || !(quota > 0)) return undefined;
    const reading: QuotaEstimate = { usage, quota, ratio: usage / quota };
    // Emit on the way up only: one warning per crossing, re-armed once usage falls below.
    if (reading.ratio < threshold) isAbove = false;
    else if (!isAbove && !isClosed) {
      isAbove = true;
      for (const listener of [...listeners]) listener(reading);
    }
    return reading;
  };

  const readNow = (): void => {
    lastRead = now();
    void estimate();
  };

  return {
    check() {
      if (read === undefined || isClosed || cancelTimer !== undefined) return;
      const wait = lastRead + intervalMs - now();
      if (wait <= 0) return readNow();
      cancelTimer = setTimer(() => {
        cancelTimer = undefined;
        if (!isClosed) readNow();
      }, wait);
    },
    onQuota(listener) {
      if (typeof listener !== "function")
        throw new TypeError("client.storage.onQuota: pass a function (estimate) => void.");
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    estimate,
    close() {
      isClosed = true;
      cancelTimer?.();
      cancelTimer = undefined;
      listeners.clear();
    },
  };
}

/**
 * Wires a watcher to a storage: the returned storage checks the quota once it opened and after
 * every commit that succeeded, and stops the watcher when closed. Only IndexedDB is watched (the
 * estimate is the origin's); without storage, or with another kind, the watcher never reads.
 *
 * @example
 * const { storage: watched, quota } = watchQuota(storage, { threshold: 0.8 }); // open and commit through `watched`
 * quota.onQuota(({ ratio }) => showToast(`Storage ${Math.round(ratio * 100)}% full`));
 */
export function watchQuota(
  storage: ClientStorage | undefined,
  options: QuotaWatcherOptions = {},
): { readonly storage: ClientStorage | undefined; readonly quota: QuotaWatcher } {
  if (storage === undefined || storage.kind !== "indexeddb")
    return { storage, quota: createQuotaWatcher({ ...options, estimate: undefined }) };
  const quota = createQuotaWatcher(options);
  // Spread, so members added to ClientStorage pass through (both backends are closures, not classes).
  const watched: ClientStorage = {
    ...storage,
    async open(identity) {
      const opened = await storage.open(identity);
      if (!opened.error) quota.check();
      return opened;
    },
    async commit(commit) {
      const result = await storage.commit(commit);
      if (!result.error) quota.check();
      return result;
    },
    async close() {
      quota.close();
      await storage.close();
    },
  };
  return { storage: watched, quota };
}
