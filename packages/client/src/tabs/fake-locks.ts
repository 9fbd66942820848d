/**
 * An in-process lock manager with the Web Locks semantics the election uses, for tests of
 * several tabs in one process (Node has no `navigator.locks`). Test support only; not exported
 * from the package.
 */
import type { LockManagerLike, LockRequestOptions } from "./leader-election.js";

interface Request {
  readonly callback: (lock: unknown) => Promise<void>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  /** Its lock was stolen: its request rejected, and its callback's end releases nothing. */
  isBroken: boolean;
}

/**
 * Exclusive locks granted in request order; a waiting request leaves when its `signal` aborts;
 * `steal` takes the lock from its holder at once (the holder's request rejects with an
 * `AbortError`, as in browsers, while its callback goes on), ahead of the waiting requests.
 *
 * @example
 * const locks = createFakeLocks(); // one per test: the tabs of an app share it, as they share a browser's
 * await locks.request(`trellis-leader:${appId}`, { mode: "exclusive" }, async () => {
 *   // leads until this settles, or another request steals the lock
 * });
 */
export function createFakeLocks(): LockManagerLike {
  const holders = new Map<string, Request>();
  const queues = new Map<string, Request[]>();
  const grant = (name: string, request: Request) => {
    holders.set(name, request);
    void request.callback({ name }).then(
      (value) => release(name, request, () => request.resolve(value)),
      (error: unknown) => release(name, request, () => request.reject(error)),
    );
  };
  const release = (name: string, request: Request, settle: () => void) => {
    if (request.isBroken) return;
    holders.delete(name);
    settle();
    const next = queues.get(name)?.shift();
    if (next !== undefined) grant(name, next);
  };
  return {
    request(name: string, options: LockRequestOptions, callback: (lock: unknown) => Promise<void>): Promise<unknown> {
      return new Promise((resolve, reject) => {
        const request: Request = { callback, resolve, reject, isBroken: false };
        const holder = holders.get(name);
        if (options.steal === true) {
          if (holder !== undefined) {
            holder.isBroken = true;
            holder.reject(new DOMException("The lock was stolen.", "AbortError"));
          }
          return grant(name, request);
        }
        const queue = queues.get(name) ?? [];
        queues.set(name, queue);
        if (holder === undefined && queue.length === 0) return grant(name, request);
        queue.push(request);
        options.signal?.addEventListener("abort", () => {
          const index = queue.indexOf(request);
          if (index < 0) return;
          queue.splice(index, 1);
          reject(new DOMException("The request was aborted.", "AbortError"));
        });
      });
    },
  };
}
