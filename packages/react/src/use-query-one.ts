import type { CollectionApi, PreloadData, SubscriptionState } from "@trellis/client";
import type {
  AggregateQueryDef,
  AggregateRow,
  EntitiesDef,
  EntityDef,
  QueryDef,
  QueryResultDoc,
  StrictAggregateQuery,
  StrictQuery,
} from "@trellis/client";
import { useLiveQuery } from "./use-live-query.js";

/**
 * Follows preloaded data (from `preloadOne`) with the provider's client: rendered at once with
 * `loading: false`, then live.
 *
 * @example
 * const { data: preloadedTodo } = await client.database.todos.preloadOne({ where: { done: false } }); // on the server
 * const { data: todo } = useQueryOne(preloadedTodo!); // in the browser, inside <TrellisProvider>
 */
export function useQueryOne<T>(preloaded: PreloadData<T, "one">): SubscriptionState<T | undefined>;
/**
 * Follows preloaded data (from `preloadOne`) with the given collection.
 *
 * @example
 * const { data: preloadedTodo } = await client.database.todos.preloadOne({ where: { done: false } }); // on the server
 * const { data: todo } = useQueryOne(client.database.todos, preloadedTodo!); // in the browser
 */
export function useQueryOne<E extends EntityDef, A extends EntitiesDef, T>(
  collection: CollectionApi<E, A>,
  preloaded: PreloadData<T, "one">,
): SubscriptionState<T | undefined>;
/**
 * Follows the first row of an aggregate query.
 *
 * @example
 * const { data } = useQueryOne(client.database.todos, { aggregations: { total: { count: "*" } } });
 */
export function useQueryOne<E extends EntityDef, A extends EntitiesDef, const Q extends AggregateQueryDef<E, A>>(
  collection: CollectionApi<E, A>,
  query: Q & StrictAggregateQuery<E, Q, A>,
): SubscriptionState<AggregateRow<E, Q> | undefined>;
/**
 * Follows the first match of a query (undefined when nothing matches).
 *
 * @example
 * function TodoTitle({ id }: { id: string }) {
 *   const { data: todo } = useQueryOne(client.database.todos, { where: { id }, fields: { text: true } });
 *   return <h1>{todo?.text ?? "Not found"}</h1>;
 * }
 */
export function useQueryOne<E extends EntityDef, A extends EntitiesDef, const Q extends QueryDef<E, A> = {}>(
  collection: CollectionApi<E, A>,
  query?: Q & StrictQuery<E, Q, A>,
): SubscriptionState<QueryResultDoc<E, Q, A> | undefined>;
export function useQueryOne(...args: unknown[]): SubscriptionState<unknown> {
  return useLiveQuery("subscribeOne", args, "useQueryOne");
}
