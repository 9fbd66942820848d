import type { SubscribeCallback, Subscription, SubscriptionState } from "@trellis/client";
import type { Feed } from "./live-state.svelte.js";

/**
 * A {@link Feed} over `collection.subscribe`/`subscribeOne`: followed, it keeps one subscription
 * open; otherwise `current()` opens one, reads its state and closes it (the answer a local client
 * or preloaded data give at once).
 *
 * @example
 * const feed = subscriptionFeed((callback) => client.database.todos.subscribe({}, callback));
 */
export function subscriptionFeed<T>(
  open: (callback: SubscribeCallback<T>) => Subscription<T>,
): Feed<SubscriptionState<T>> {
  let subscription: Subscription<T> | undefined;
  return {
    current() {
      if (subscription !== undefined) return subscription.getCurrentState();
      const once = open(() => {});
      const state = once.getCurrentState();
      once.unsubscribe();
      return state;
    },
    follow(onChange) {
      const opened = (subscription = laterCalls(open, onChange));
      return () => {
        opened.unsubscribe();
        if (subscription === opened) subscription = undefined;
      };
    },
  };
}

/**
 * Subscribes with a callback the client also calls at once (a subscription, a paginated
 * controller): `onChange` hears only the calls after that first one, which `current()` answers.
 *
 * @example
 * const controller = client.database.todos.paginated({ orderBy: ["createdAt", "desc"], pageSize: 20 });
 * const stop = laterCalls((callback) => controller.subscribe(callback), () => console.log("the page changed"));
 * controller.getCurrentState(); // what the first call had: answered now, not heard as a change
 * stop();
 */
export function laterCalls<R>(subscribe: (callback: () => void) => R, onChange: () => void): R {
  let isFirstCall = true;
  const subscribed = subscribe(() => {
    if (!isFirstCall) onChange();
  });
  isFirstCall = false;
  return subscribed;
}
