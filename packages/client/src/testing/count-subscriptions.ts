/**
 * Wraps a collection's `subscribe` and `subscribeOne` to count the subscriptions opened and the
 * ones still live, for the binding tests (React, Svelte). Test support only; not exported.
 *
 * @example
 * const counts = countSubscriptions(client.database.todos);
 * const subscription = client.database.todos.subscribe({ where: { done: false } }, render);
 * counts.live; // 1
 * subscription.unsubscribe();
 * counts.live; // 0
 */
export function countSubscriptions(collection: object): {
  readonly opened: number;
  readonly live: number;
  readonly queries: unknown[];
} {
  let opened = 0;
  let live = 0;
  const queries: unknown[] = [];
  const target = collection as Record<
    "subscribe" | "subscribeOne",
    (...args: unknown[]) => { getCurrentState(): unknown; unsubscribe(): void }
  >;
  for (const method of ["subscribe", "subscribeOne"] as const) {
    const original = target[method].bind(collection);
    target[method] = (...args: unknown[]) => {
      const subscription = original(...args);
      opened++;
      live++;
      queries.push(args[0]);
      let isOpen = true;
      return {
        getCurrentState: () => subscription.getCurrentState(),
        unsubscribe: () => {
          if (isOpen) live--;
          isOpen = false;
          subscription.unsubscribe();
        },
      };
    };
  }
  return {
    get opened() {
      return opened;
    },
    get live() {
      return live;
    },
    queries,
  };
}
