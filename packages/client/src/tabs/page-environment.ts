/**
 * What the page does to a tab that its leader election must react to: `freeze` (the browser
 * stops the page's tasks: background tabs on phones, memory savers), `resume`, and `pagehide`
 * and `pageshow` (leaving for and returning from the back/forward cache, or unloading).
 */
export type PageEvent = "freeze" | "resume" | "hide" | "show";

/** The page a tab runs in: its lifecycle events, its visibility and its timers. */
export interface PageEnvironment {
  /** Whether the page is hidden (`document.visibilityState`), read on every check of the leader's silence. */
  isHidden(): boolean;
  /** Hears the page's lifecycle events; returns an unsubscribe. */
  listen(listener: (event: PageEvent) => void): () => void;
  /**
   * Calls `callback` every `ms` with the page's own timers, which a frozen page or one whose
   * main thread is busy does not run: what a heartbeat must be driven by. Returns a cancel.
   */
  every(callback: () => void, ms: number): () => void;
}

/** A simulated page, for tests that run several tabs in one process (see {@link simulatePage}). */
export interface SimulatedPage extends PageEnvironment {
  /** Fires `freeze`, then runs none of the page's timers until {@link resume}. */
  freeze(): void;
  /** Runs the page's timers again, then fires `resume`. */
  resume(): void;
  /** As a long task does: the page's timers stop (no event fires) until {@link unblock}, then run once. */
  block(): void;
  unblock(): void;
  /** Forgets the simulation: tabs opened with this id later see the real page. */
  dispose(): void;
}

const simulated = new Map<string, SimulatedPage>();

/**
 * The environment of the tab `tabId`: the page it runs in, or the page a test simulates for it
 * ({@link simulatePage}), since tabs simulated in one process share one global object.
 *
 * @example
 * const page = pageEnvironment(tabId);
 * const cancel = page.every(() => console.log("beat"), 1_000); // not while the page is frozen or busy
 * const stop = page.listen((event) => console.log(`page ${event}`)); // "freeze", "resume", "hide", "show"
 */
export function pageEnvironment(tabId: string): PageEnvironment {
  return simulated.get(tabId) ?? PAGE;
}

type EventHost = {
  addEventListener?: (type: string, listener: (event: Event) => void) => void;
  removeEventListener?: (type: string, listener: (event: Event) => void) => void;
};

const PAGE: PageEnvironment = {
  isHidden: () => (globalThis as { document?: { visibilityState?: string } }).document?.visibilityState === "hidden",
  listen(listener) {
    const page = globalThis as EventHost;
    const document = (globalThis as { document?: EventHost }).document;
    if (typeof page.addEventListener !== "function") return () => {};
    const handlers: [EventHost, string, (event: Event) => void][] = [
      [document ?? page, "freeze", () => listener("freeze")],
      [document ?? page, "resume", () => listener("resume")],
      [page, "pagehide", () => listener("hide")],
      // Only a page coming back from the back/forward cache: a fresh load starts the election anyway.
      [page, "pageshow", (event) => (event as PageTransitionEvent).persisted && listener("show")],
    ];
    for (const [target, type, handler] of handlers) target.addEventListener?.(type, handler);
    return () => {
      for (const [target, type, handler] of handlers) target.removeEventListener?.(type, handler);
    };
  },
  every(callback, ms) {
    const timer = setInterval(callback, ms);
    return () => clearInterval(timer);
  },
};

/**
 * Simulates the page of the tab `tabId` (a client's `clientId`) until disposed: tests of several
 * tabs in one process freeze, resume or block one of them. Test support; apps never need it.
 *
 * @example
 * const page = simulatePage("tab-a");
 * const a = createClient({ schema, clientId: "tab-a", storage: "indexeddb", serverUrl });
 * page.freeze();
 */
export function simulatePage(tabId: string): SimulatedPage {
  const listeners = new Set<(event: PageEvent) => void>();
  const late = new Set<() => void>();
  let isFrozen = false;
  let isBlocked = false;
  const emit = (event: PageEvent) => {
    for (const listener of [...listeners]) listener(event);
  };
  const page: SimulatedPage = {
    isHidden: () => false,
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    every(callback, ms) {
      const timer = setInterval(() => {
        if (isFrozen || isBlocked) late.add(callback);
        else callback();
      }, ms);
      return () => {
        clearInterval(timer);
        late.delete(callback);
      };
    },
    freeze() {
      emit("freeze");
      isFrozen = true;
    },
    resume() {
      isFrozen = false;
      page.unblock();
      emit("resume");
    },
    block() {
      isBlocked = true;
    },
    unblock() {
      isBlocked = false;
      if (isFrozen) return;
      const due = [...late];
      late.clear();
      for (const callback of due) callback();
    },
    dispose() {
      if (simulated.get(tabId) === page) simulated.delete(tabId);
    },
  };
  simulated.set(tabId, page);
  return page;
}
