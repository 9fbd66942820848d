import type { SubscriptionState } from "@trellis/client";
import type { LiveState } from "./live-state.svelte.js";

/**
 * A live query result for Svelte: `data`, `error` and `loading` are reactive in templates and
 * effects, and `subscribe` is the store contract, so `$todos` works too (its value is the
 * `{ data, error, loading }` snapshot).
 */
export interface ReactiveQuery<T> extends SubscriptionState<T> {
  subscribe(run: (state: SubscriptionState<T>) => void): () => void;
}

/**
 * The object `query`/`queryOne` return, over a live subscription state.
 *
 * @example
 * const todos = reactiveQuery(createLiveState(key, () => subscriptionFeed(open)));
 */
export function reactiveQuery<T>(live: LiveState<SubscriptionState<T>>): ReactiveQuery<T> {
  return {
    get data() {
      return live.read().data;
    },
    get error() {
      return live.read().error;
    },
    get loading() {
      return live.read().loading;
    },
    subscribe: live.subscribe,
  };
}
