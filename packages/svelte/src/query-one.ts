import type { AggregateQueryDef, AggregateRow, EntitiesDef, EntityDef, QueryDef, QueryResultDoc, Schema, StrictAggregateQuery, StrictQuery } from "@trellis/client";
import { type CollectionApi, type PreloadData, queryKey, type TrellisClient } from "@trellis/client";
import { createLiveState } from "./live-state.svelte.js";
import { reactiveQuery, type ReactiveQuery } from "./reactive-query.js";
import { type MaybeGetter, resolveInput } from "./resolve-input.js";
import { subscriptionFeed } from "./subscription-feed.js";

/**
 * Follows preloaded data (from `preloadOne`): the preloaded document at once, with `loading`
 * false, then live. The client is the one of `setTrellisClient` unless given.
 *
 * @example
 * const todo = queryOne(() => data.todo);
 */
export function queryOne<T>(preloaded: MaybeGetter<PreloadData<T, "one">>, client?: TrellisClient<Schema>): ReactiveQuery<T | undefined>;
/**
 * Follows the first row of an aggregate query.
 *
 * @example
 * const total = queryOne(client.database.todos, { aggregate: { n: { fn: "count" } } });
 */
export function queryOne<E extends EntityDef, A extends EntitiesDef, const Q extends AggregateQueryDef<E>>(
  collection: CollectionApi<E, A>,
  query: MaybeGetter<Q & StrictAggregateQuery<E, Q>>,
): ReactiveQuery<AggregateRow<E, Q> | undefined>;
/**
 * Follows the first match of a query (`data` is undefined when nothing matches); reactive in
 * templates and a store, like {@link query}.
 *
 * @example
 * <script>
 *   let { id } = $props();
 *   const todo = queryOne(client.database.todos, () => ({ where: { id } }));
 * </script>
 * <h1>{todo.data?.title}</h1>
 */
export function queryOne<E extends EntityDef, A extends EntitiesDef, const Q extends QueryDef<E, A> = {}>(
  collection: CollectionApi<E, A>,
  query?: MaybeGetter<Q & StrictQuery<E, Q, A>>,
): ReactiveQuery<QueryResultDoc<E, Q, A> | undefined>;
export function queryOne(...args: unknown[]): ReactiveQuery<unknown> {
  const { collection, input } = resolveInput("queryOne", args);
  return reactiveQuery(
    createLiveState(
      () => queryKey(input()),
      () => {
        const target = collection();
        const current = input() ?? {};
        return subscriptionFeed<unknown>((callback) => target.subscribeOne(current as never, callback as never));
      },
    ),
  );
}
