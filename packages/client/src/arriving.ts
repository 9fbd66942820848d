import { batch, computed, type ReadonlySignal, signal } from "@preact/signals-core";
import type { FollowedQuery } from "./sync/query-sync.js";

/**
 * Code the client loads on its own (a dynamic import), or already has. Calls made on it before
 * it arrives wait, and are made in the same order once it does, in one signal batch so readers
 * see them land together; later calls are made at once. Code that cannot be loaded makes none of
 * the waiting calls, nor later ones: `failed` hears why, and `arrival` resolves undefined.
 *
 * @example
 * import { loadSyncCode } from "./client-sync.js";
 * const code = new Arriving(loadSyncCode(), (error) => console.error("sync's code did not load", error));
 * code.later((wireSync) => console.log(`${wireSync.name} is here`)); // now, or once the chunk arrived
 */
export class Arriving<T> {
  /** Settles once the code arrived and the waiting calls were made on it; undefined if it could not be loaded. */
  readonly arrival: Promise<T | undefined>;
  private current: T | undefined;
  private calls: ((value: T) => void)[] | undefined = [];

  constructor(
    coming: T | Promise<T>,
    failed: (error: unknown) => void = () => {},
    /** Called on arrival, after the waiting calls, within their batch. */
    arrived: (value: T) => void = () => {},
  ) {
    const arrive = (value: T) => {
      batch(() => {
        this.current = value;
        for (const call of this.calls?.splice(0) ?? []) call(value);
        arrived(value);
      });
      return value;
    };
    if (!(coming instanceof Promise)) arrive(coming);
    this.arrival = Promise.resolve(coming).then(
      (value) => (this.current === value ? value : arrive(value)),
      (error: unknown) => {
        this.calls = undefined;
        failed(error);
        return undefined;
      },
    );
  }

  /** The code, once it arrived. */
  get value(): T | undefined {
    return this.current;
  }

  /** Makes a call on the code now, or once it arrived (never if it cannot be loaded). */
  later(call: (value: T) => void): void {
    if (this.current !== undefined) call(this.current);
    else this.calls?.push(call);
  }

  /** Forgets the calls still waiting (the client closed before the code arrived). */
  forget(): void {
    this.calls?.splice(0);
  }
}

/**
 * A query followed through code on its way: `follow` runs once the code arrives (unless the
 * query was released first), and until then the query is `waiting`.
 *
 * @example
 * import { signal } from "@preact/signals-core";
 * const code = new Arriving(Promise.resolve(engine)); // the engine, on its way
 * const followed = followOnArrival(code, (arrived) => arrived.follow(normalized), {
 *   isLoading: signal(true),
 *   hasSynced: signal(false),
 * });
 */
export function followOnArrival<T>(
  code: Arriving<T>,
  follow: (value: T) => FollowedQuery | undefined,
  waiting: { readonly isLoading: ReadonlySignal<boolean>; readonly hasSynced: ReadonlySignal<boolean> },
): FollowedQuery {
  const inner = signal<FollowedQuery | undefined>(undefined);
  let isReleased = false;
  code.later((value) => {
    if (!isReleased) inner.value = follow(value);
  });
  return {
    isLoading: computed(() => inner.value?.isLoading.value ?? waiting.isLoading.value),
    hasSynced: computed(() => inner.value?.hasSynced.value ?? waiting.hasSynced.value),
    answered: async () => {
      await code.arrival;
      await inner.peek()?.answered();
    },
    release: () => {
      if (isReleased) return;
      isReleased = true;
      inner.peek()?.release();
    },
  };
}
