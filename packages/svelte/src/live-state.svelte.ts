import { untrack } from "svelte";
import { createSubscriber } from "svelte/reactivity";

/** A client-side source of state: its current value, and a way to follow its changes. */
export interface Feed<S> {
  /** The current state; may open and close a one-off subscription when not followed. */
  current(): S;
  /** Starts following: `onChange` runs after each change (not at once). Returns a stop. */
  follow(onChange: () => void): () => void;
}

/** The reactive face of a {@link Feed} that follows a query which may change. */
export interface LiveState<S> {
  /** The current state: reactive in effects and templates (which keep the feed followed). */
  read(): S;
  /** The Svelte store contract: `run` at once, then after every change; returns an unsubscribe. */
  subscribe(run: (state: S) => void): () => void;
}

/**
 * Wraps a client subscription for Svelte: reading `read()` inside an effect or template follows
 * the feed (via `createSubscriber`) until the last reader is destroyed; outside effects (SSR,
 * event handlers) it answers from the feed at once. `getKey` names the input: when its (reactive)
 * value changes, the feed is replaced by `createFeed()`; an equal key keeps it.
 *
 * @example
 * import { queryKey } from "@trellis/client";
 * import { subscriptionFeed } from "./subscription-feed.js";
 * const filter = { done: false }; // in a component, `$state({ done: false })`
 * const live = createLiveState(
 *   () => queryKey({ where: filter }),
 *   () => subscriptionFeed((callback) => client.database.todos.subscribe({ where: filter }, callback)),
 * );
 * live.read().data; // reactive: read in a template or `$effect`, it keeps the subscription open
 */
export function createLiveState<S>(getKey: () => string, createFeed: () => Feed<S>): LiveState<S> {
  const key = $derived(getKey());
  let feedKey = untrack(() => key);
  let feed = untrack(createFeed);
  let notify: (() => void) | undefined;
  let stopFollowing: (() => void) | undefined;

  const track = createSubscriber((update) => {
    notify = update;
    stopFollowing = feed.follow(update);
    return () => {
      stopFollowing?.();
      stopFollowing = notify = undefined;
    };
  });

  function read(): S {
    // Reading `key` makes the reader re-run when the input changes; the feed is swapped here,
    // lazily, so an unchanged key never resubscribes.
    const currentKey = key;
    if (currentKey !== feedKey) {
      untrack(() => {
        stopFollowing?.();
        stopFollowing = undefined;
        feed = createFeed();
        feedKey = currentKey;
        if (notify !== undefined) stopFollowing = feed.follow(notify);
      });
    }
    track();
    return feed.current();
  }

  return {
    read,
    subscribe: (run) => subscribeReactive(read, run),
  };
}

/**
 * The Svelte store contract over a reactive read: `run` gets `read()` at once (synchronously) and
 * again whenever what it read changes, until the returned unsubscribe is called.
 *
 * @example
 * import { query } from "./query.js";
 * const todos = query(client.database.todos, { where: { done: false } });
 * const remaining = {
 *   subscribe: (run: (count: number) => void) => subscribeReactive(() => todos.data?.length ?? 0, run),
 * };
 * // `$remaining` in a component: the number of todos left, kept current
 */
export function subscribeReactive<S>(read: () => S, run: (state: S) => void): () => void {
  if (typeof run !== "function") throw new TypeError("subscribe: pass a callback (state) => ….");
  // `$effect.pre` is a render effect: it runs at once inside the root, then on every change.
  return $effect.root(() => {
    $effect.pre(() => {
      const state = read();
      untrack(() => run(state));
    });
  });
}
