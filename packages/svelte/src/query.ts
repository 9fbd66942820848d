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
 * Follows preloaded data (from `preload`, e.g. a SvelteKit load): the preloaded documents at once,
 * with `loading` false (also during SSR), then live. The client is the one of `setTrellisClient`
 * unless given.
 *
 * @example
 * <script lang="ts">
 *   // data.todos: what `client.database.todos.preload()` answered in the page's load
 *   let { data }: { data: { todos: PreloadedTodos } } = $props();
 *   const todos = query(() => data.todos);
 * </script>
 * {#each todos.data ?? [] as todo (todo.id)}<li>{todo.text}</li>{/each}
 */
export function query<T>(
  preloaded: MaybeGetter<PreloadData<T, "many">>,
  client?: TrellisClient<Schema>,
): ReactiveQuery<readonly T[]>;
/**
 * Follows an aggregate query: one row, or one per group with `groupBy`.
 *
 * @example
 * const byTag = query(client.database.posts, { aggregations: { views: { sum: "viewCount" } }, groupBy: ["tag"] });
 * byTag.data; // [{ tag, views }, …]: one row per tag, kept current
 */
export function query<E extends EntityDef, A extends EntitiesDef, const Q extends AggregateQueryDef<E, A>>(
  collection: CollectionApi<E, A>,
  query: MaybeGetter<Q & StrictAggregateQuery<E, Q, A>>,
): ReactiveQuery<readonly AggregateRow<E, Q>[]>;
/**
 * Follows a query: `data`, `error` and `loading` are reactive, and the object is a store
 * (`$todos`). Pass a getter to follow reactive state; the subscription changes only when the
 * query does (compared by value). Unsubscribes when the last component reading it is destroyed.
 *
 * @example
 * <script lang="ts">
 *   let done = $state(false);
 *   const todos = query(client.database.todos, () => ({ where: { done }, orderBy: ["text", "asc"] }));
 * </script>
 * <label><input type="checkbox" bind:checked={done} /> done</label>
 * {#if todos.loading}…{:else}{#each todos.data ?? [] as todo (todo.id)}<li>{todo.text}</li>{/each}{/if}
 */
export function query<E extends EntityDef, A extends EntitiesDef, const Q extends QueryDef<E, A> = {}>(
  collection: CollectionApi<E, A>,
  query?: MaybeGetter<Q & StrictQuery<E, Q, A>>,
): ReactiveQuery<readonly QueryResultDoc<E, Q, A>[]>;
export function query(...args: unknown[]): ReactiveQuery<readonly unknown[]> {
  return subscribedQuery("query", args, "subscribe");
}
