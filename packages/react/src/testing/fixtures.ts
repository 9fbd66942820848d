/**
 * Shared fixtures of the React tests: a spy that counts a collection's live subscriptions, and a
 * wait for queued work. Test support only; not exported. (Each test file declares its schema: an
 * exported inferred schema trips the type checker's declaration portability check.)
 */
export { countSubscriptions } from "../../../client/src/testing/count-subscriptions.js";

/** Lets queued microtasks run (a hook leaves its subscription one microtask after unmount). */
export const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
