import type {
  AggregateQueryDef,
  AggregateRow,
  EntitiesDef,
  EntityDef,
  QueryDef,
  QueryResultDoc,
  Schema,
  StrictAggregateQuery,
  StrictQuery,
} from "@trellis/client";
import type { CollectionApi, PreloadData, TrellisClient } from "@trellis/client";
import { type ReactiveQuery, subscribedQuery } from "./reactive-query.js";
import type { MaybeGetter } from "./resolve-input.js";

/**
 * Follows preloaded data (from `preloadOne`): the preloaded document at once, with `loading`
 * false, then live. The client is the one of `setTrellisClient` unless given.
 *
 * @example
 * // In a SvelteKit load (+page.ts): the todo, rendered on the server
 * const { data: preloaded, error } = await client.database.todos.preloadOne({ where: { id: "t1" } });
 * if (error) throw error;
 * // In +page.svelte, given it as `data.todo`: that todo at once, then live
 * const todo = queryOne(() => preloaded);
 * todo.data?.text;
 */
export function queryOne<T>(
  preloaded: MaybeGetter<PreloadData<T, "one">>,
  client?: TrellisClient<Schema>,
): ReactiveQuery<T | undefined>;
/**
 * Follows the first row of an aggregate query.
 *
 * @example
 * const remaining = queryOne(client.database.todos, { aggregations: { n: { count: "*" } }, where: { done: false } });
 * remaining.data?.n; // the number of todos left, kept current
 */
export function queryOne<E extends EntityDef, A extends EntitiesDef, const Q extends AggregateQueryDef<E, A>>(
  collection: CollectionApi<E, A>,
  query: MaybeGetter<Q & StrictAggregateQuery<E, Q, A>>,
): ReactiveQuery<AggregateRow<E, Q> | undefined>;
/**
 * Follows the first match of a query (`data` is undefined when nothing matches); reactive in
 * templates and a store, like {@link query}.
 *
 * @example
 * <script lang="ts">
 *   let { id }: { id: string } = $props();
 *   const todo = queryOne(client.database.todos, () => ({ where: { id } }));
 * </script>
 * <h1>{todo.data?.text}</h1>
 */
export function queryOne<E extends EntityDef, A extends EntitiesDef, const Q extends QueryDef<E, A> = {}>(
  collection: CollectionApi<E, A>,
  query?: MaybeGetter<Q & StrictQuery<E, Q, A>>,
): ReactiveQuery<QueryResultDoc<E, Q, A> | undefined>;
export function queryOne(...args: unknown[]): ReactiveQuery<unknown> {
  return subscribedQuery("queryOne", args, "subscribeOne");
}
