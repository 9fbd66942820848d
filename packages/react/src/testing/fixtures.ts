/**
 * Shared fixtures of the React tests: a spy that counts a collection's live subscriptions, and a
 * wait for queued work. Test support only; not exported. (Each test file declares its schema: an
 * exported inferred schema trips the type checker's declaration portability check.)
 */
/** Something with `subscribe`/`subscribeOne` returning `{ unsubscribe }`. */
type Subscribable = Record<"subscribe" | "subscribeOne", (...args: never[]) => { unsubscribe(): void }>;

/**
 * Wraps a collection's `subscribe` and `subscribeOne` to count the subscriptions opened and the
 * ones still live.
 *
 * @example
 * const counts = countSubscriptions(client.database.todos); render(<List />); counts.live; // 1
 */
export function countSubscriptions(collection: Subscribable): { readonly opened: number; readonly live: number } {
  let opened = 0;
  let live = 0;
  for (const method of ["subscribe", "subscribeOne"] as const) {
    const original = collection[method].bind(collection) as (...args: unknown[]) => { unsubscribe(): void };
    (collection as Record<string, unknown>)[method] = (...args: unknown[]) => {
      const subscription = original(...args);
      opened++;
      live++;
      let isLive = true;
      return {
        ...subscription,
        unsubscribe() {
          if (isLive) live--;
          isLive = false;
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
  };
}

/** Lets queued microtasks run (a hook leaves its subscription one microtask after unmount). */
export const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
