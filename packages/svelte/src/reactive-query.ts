import { queryKey, type Subscription, type SubscriptionState } from "@trellis/client";
import { createLiveState, type LiveState } from "./live-state.svelte.js";
import { resolveInput } from "./resolve-input.js";
import { subscriptionFeed } from "./subscription-feed.js";

/**
 * A live query result for Svelte: `data`, `error`, `loading` and `hasSynced` are reactive in
 * templates and effects, and `subscribe` is the store contract, so `$todos` works too (its value
 * is the `{ data, error, loading, hasSynced }` snapshot).
 */
export interface ReactiveQuery<T> extends SubscriptionState<T> {
  subscribe(run: (state: SubscriptionState<T>) => void): () => void;
}

/**
 * The object `query`/`queryOne` return, over a live subscription state.
 *
 * @example
 * import { queryKey } from "@trellis/client";
 * import { createLiveState } from "./live-state.svelte.js";
 * import { subscriptionFeed } from "./subscription-feed.js";
 * const openTodos = { where: { done: false } };
 * const todos = reactiveQuery(
 *   createLiveState(
 *     () => queryKey(openTodos),
 *     () => subscriptionFeed((callback) => client.database.todos.subscribe(openTodos, callback)),
 *   ),
 * );
 * todos.data; // reactive, and `$todos` works as a store
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
    get hasSynced() {
      return live.read().hasSynced;
    },
    subscribe: live.subscribe,
  };
}

/**
 * `query` and `queryOne` from their arguments (a collection and a query, or preloaded data; each
 * may be a getter): one subscription, `subscribe` or `subscribeOne`, made again when the
 * query's key changes.
 *
 * @example
 * // What `queryOne(client.database.todos, () => ({ where: { id } }))` does:
 * const id = "t1"; // in a component, a prop or `$state`
 * const todo = subscribedQuery("queryOne", [client.database.todos, () => ({ where: { id } })], "subscribeOne");
 * todo.data; // the todo, or undefined; a changed `id` subscribes again
 */
export function subscribedQuery<T>(
  name: string,
  args: readonly unknown[],
  method: "subscribe" | "subscribeOne",
): ReactiveQuery<T> {
  const { collection, input } = resolveInput(name, args);
  return reactiveQuery(
    createLiveState(
      () => queryKey(input()),
      () => {
        const target = collection();
        const current = input() ?? {};
        // Loosely typed here: `query` and `queryOne` check their arguments in their own signatures.
        const open = target[method].bind(target) as unknown as (query: unknown, callback: unknown) => Subscription<T>;
        return subscriptionFeed<T>((callback) => open(current, callback));
      },
    ),
  );
}
