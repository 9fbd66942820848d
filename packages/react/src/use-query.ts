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
 * Follows preloaded data (from `preload`) with the provider's client: the first render shows
 * it with `loading: false` (on the server too), then the result stays live.
 *
 * @example
 * type Todo = { id: string; text: string };
 * function Todos({ preloaded }: { preloaded: PreloadData<Todo, "many"> }) {
 *   const { data } = useQuery(preloaded); // inside <TrellisProvider client={client}>
 *   return <ul>{data?.map((todo) => <li key={todo.id}>{todo.text}</li>)}</ul>;
 * }
 */
export function useQuery<T>(preloaded: PreloadData<T, "many">): SubscriptionState<readonly T[]>;
/**
 * Follows preloaded data (from `preload`) with the given collection of the browser's client.
 *
 * @example
 * const { data: preloaded } = await client.database.todos.preload({ where: { done: false } }); // on the server
 * const { data } = useQuery(client.database.todos, preloaded!); // in the browser
 */
export function useQuery<E extends EntityDef, A extends EntitiesDef, T>(
  collection: CollectionApi<E, A>,
  preloaded: PreloadData<T, "many">,
): SubscriptionState<readonly T[]>;
/**
 * Follows an aggregate query.
 *
 * @example
 * const { data } = useQuery(client.database.todos, { aggregations: { open: { count: "*" } }, where: { done: false } });
 */
export function useQuery<E extends EntityDef, A extends EntitiesDef, const Q extends AggregateQueryDef<E, A>>(
  collection: CollectionApi<E, A>,
  query: Q & StrictAggregateQuery<E, Q, A>,
): SubscriptionState<readonly AggregateRow<E, Q>[]>;
/**
 * Follows a query: `{ data, loading, error }`, re-rendering only when the result changes. The
 * query may be written inline: it is compared by value, not identity. `loading` is true only
 * while a server has not answered a query the client does not sync yet.
 *
 * @example
 * function OpenTodos() {
 *   const { data, loading, error } = useQuery(client.database.todos, { where: { done: false }, orderBy: ["text", "asc"] });
 *   if (error) return <p>{error.message}</p>;
 *   return loading ? <p>Loading…</p> : <ul>{data!.map((todo) => <li key={todo.id}>{todo.text}</li>)}</ul>;
 * }
 */
export function useQuery<E extends EntityDef, A extends EntitiesDef, const Q extends QueryDef<E, A> = {}>(
  collection: CollectionApi<E, A>,
  query?: Q & StrictQuery<E, Q, A>,
): SubscriptionState<readonly QueryResultDoc<E, Q, A>[]>;
export function useQuery(...args: unknown[]): SubscriptionState<unknown> {
  return useLiveQuery("subscribe", args, "useQuery");
}
