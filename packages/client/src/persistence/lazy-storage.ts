import { type DatabaseError, fail } from "@trellis/core";
import type { IndexedDbStorageOptions } from "./indexeddb-storage.js";
import type { ClientStorage } from "./storage.js";

/** The methods passed on to the backend as they are (a record, so the compiler checks none is missing). */
type Forwarded = Exclude<keyof ClientStorage, "kind" | "open" | "close">;
const FORWARDED: Record<Forwarded, 0> = {
  listCollections: 0,
  readCollection: 0,
  readDocuments: 0,
  readMatching: 0,
  readOrdered: 0,
  readResult: 0,
  readSyncState: 0,
  prune: 0,
  commit: 0,
};

/**
 * A storage whose code is loaded when it is first used, so a bundler puts the backend (and its
 * dependencies) in a chunk of its own, fetched while the app renders from memory instead of
 * before the app starts. Every method but `kind` is async, so callers see no difference; a
 * backend that cannot be loaded (its chunk unreachable) answers `open` with a STORAGE error,
 * and the client then runs in memory only.
 *
 * @example
 * const storage = createLazyStorage("memory", async () => createMemoryStorage());
 */
export function createLazyStorage(kind: string, load: () => Promise<ClientStorage>): ClientStorage {
  let loaded: Promise<ClientStorage> | undefined;
  const backend = () => (loaded ??= load());
  return {
    kind,
    open: async (identity) => {
      try {
        return await (await backend()).open(identity);
      } catch (error) {
        return storageLoadFailure(kind, error);
      }
    },
    ...(Object.fromEntries(
      Object.keys(FORWARDED).map((name) => [
        name,
        async (...args: unknown[]) => {
          const storage = await backend();
          return (storage[name as Forwarded] as (...args: unknown[]) => unknown).apply(storage, args);
        },
      ]),
    ) as Pick<ClientStorage, Forwarded>),
    // Never loaded: nothing was opened, so nothing to close.
    close: async () => (loaded === undefined ? undefined : (await loaded).close()),
  };
}

/**
 * The STORAGE error `open` answers when storage's code cannot be loaded (its chunk unreachable):
 * the client then runs in memory only.
 *
 * @example
 * storageLoadFailure("indexeddb", new Error("Failed to fetch")).error.message; // "The indexeddb storage could not be loaded: Failed to fetch"
 */
export function storageLoadFailure(
  kind: string,
  error: unknown,
): { readonly data: undefined; readonly error: DatabaseError } {
  return fail(
    "STORAGE",
    `The ${kind} storage could not be loaded: ${error instanceof Error ? error.message : String(error)}`,
    {
      reason: "load",
      during: "open",
    },
  );
}

/**
 * A storage in the browser's IndexedDB database `name`; what `createClient` uses by default in
 * browsers. Its code (and the `idb` library) loads when the client opens it. See docs/offline.md.
 *
 * @example
 * const client = createClient({ schema, storage: createIndexedDbStorage({ name: "my-app" }) });
 */
export function createIndexedDbStorage(options: IndexedDbStorageOptions): ClientStorage {
  return createLazyStorage("indexeddb", async () =>
    (await import("./indexeddb-storage.js")).createIndexedDbStorage(options),
  );
}
