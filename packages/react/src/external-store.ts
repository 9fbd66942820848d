/** A source opened by an {@link ExternalStore}: its current snapshot, and how to close it. */
export interface OpenedSource<S> {
  /** The current snapshot: the same value until the source called `onChange`. */
  read(): S;
  close(): void;
}

/** What `useSyncExternalStore` takes: a subscribe and snapshot getters; and the open source. */
export interface ExternalStore<S> {
  subscribe(onStoreChange: () => void): () => void;
  getSnapshot(): S;
  /** On a server (no `document`): opens the source just to read it, then closes it. Elsewhere {@link getSnapshot}. */
  getServerSnapshot(): S;
  /** The open source, opened now (as by a render) if it is not. */
  source(): OpenedSource<S>;
}

/**
 * How long a source opened for a render stays open waiting for that render to commit and
 * subscribe; a render React throws away releases it then.
 */
const UNCLAIMED_MS = 10_000;

/**
 * Adapts a client subscription (or `RoomStore`, or paginated controller) to `useSyncExternalStore`.
 * The source opens on the first snapshot read, so the first render already shows local (or
 * preloaded) data, and is shared by every subscriber. It closes once the last subscriber left,
 * a microtask later: StrictMode's unsubscribe-resubscribe keeps the same source, so no
 * subscription leaks or doubles and no extra render follows.
 *
 * @example
 * import { useSyncExternalStore } from "react";
 * const todos = client.database.todos;
 * const store = createExternalStore((onChange) => {
 *   const subscription = todos.subscribe({}, onChange);
 *   return { read: subscription.getCurrentState, close: subscription.unsubscribe };
 * });
 * const state = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
 */
export function createExternalStore<S>(open: (onChange: () => void) => OpenedSource<S>): ExternalStore<S> {
  let source: OpenedSource<S> | undefined;
  let serverSnapshot: { readonly value: S } | undefined;
  const listeners = new Set<() => void>();
  // Bumped on every subscribe and scheduled release: a release runs only if nothing happened since.
  let generation = 0;
  const onChange = () => {
    for (const listener of [...listeners]) listener();
  };
  const ensureOpen = (): OpenedSource<S> => (source ??= open(onChange));
  const releaseIfUnused = (at: number) => {
    if (at !== generation || listeners.size > 0 || source === undefined) return;
    const closing = source;
    source = undefined;
    closing.close();
  };
  return {
    subscribe(listener) {
      generation++;
      listeners.add(listener);
      ensureOpen();
      let isSubscribed = true;
      return () => {
        if (!isSubscribed) return;
        isSubscribed = false;
        listeners.delete(listener);
        if (listeners.size > 0) return;
        const at = ++generation;
        queueMicrotask(() => releaseIfUnused(at));
      };
    },
    getSnapshot: () => openForRender().read(),
    getServerSnapshot() {
      if (typeof document !== "undefined" || source !== undefined) return openForRender().read();
      // Server rendering never subscribes: read once and close, and keep the value for the rest
      // of this render so React sees the same snapshot.
      if (serverSnapshot === undefined) {
        const peeked = open(() => {});
        serverSnapshot = { value: peeked.read() };
        peeked.close();
      }
      return serverSnapshot.value;
    },
    source: () => openForRender(),
  };

  function openForRender(): OpenedSource<S> {
    if (source !== undefined) return source;
    const opened = ensureOpen();
    if (listeners.size === 0) {
      const at = ++generation;
      setTimeout(() => releaseIfUnused(at), UNCLAIMED_MS);
    }
    return opened;
  }
}
