import { isPreloadData, queryKey, type SubscriptionState } from "@trellis/client";
import { useMemo, useSyncExternalStore } from "react";
import { type AnyCollection, collectionOf } from "./collection-of.js";
import { createExternalStore } from "./external-store.js";
import { useOptionalClient } from "./trellis-provider.js";

/**
 * What `useQuery` and `useQueryOne` share: `collection.subscribe(input)` (or `subscribeOne`) as
 * an external store, kept while the collection and the query's key stay the same.
 *
 * @example
 * const state = useLiveQuery("subscribe", [client.database.todos, { where: { done: false } }], "useQuery");
 */
export function useLiveQuery<T>(
  method: "subscribe" | "subscribeOne",
  args: readonly unknown[],
  hook: string,
): SubscriptionState<T> {
  const client = useOptionalClient();
  const [first, second] = args;
  const isPreloadedOnly = args.length === 1 && isPreloadData(first);
  const collection = isPreloadedOnly ? collectionOf(client, first, hook) : (first as AnyCollection);
  const input = isPreloadedOnly ? first : second;
  const key = queryKey(input);
  // `input` is read only when the key changes: equal keys are equal queries, so an inline query
  // object does not resubscribe on every render.
  const store = useMemo(
    () =>
      createExternalStore<SubscriptionState<T>>((onChange) => {
        const subscription = collection[method](input, onChange);
        return { read: subscription.getCurrentState as () => SubscriptionState<T>, close: subscription.unsubscribe };
      }),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [collection, method, key],
  );
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getServerSnapshot);
}
