/**
 * Helpers of the working set's tests: clients on a given storage (closed after each test), and a
 * storage that records which collections it read. Their schema has collections `a` to `d` with
 * fields `n`, `tag` and `aId` (a ref to `a`); each test file declares it, as its type cannot be
 * exported. Test support only; not exported from the package.
 */
import type { Schema } from "@trellis/core";
import { afterEach } from "vitest";
import { createClient, type TrellisClient } from "../create-client.js";
import { createMemoryStorage } from "../persistence/memory-storage.js";
import type { ClientStorage } from "../persistence/storage.js";

export type Collection = "a" | "b" | "c" | "d";
export const COLLECTIONS: readonly Collection[] = ["a", "b", "c", "d"];

/**
 * A storage that counts the collection reads, so tests see what was loaded when.
 * @example const { storage, reads } = countingStorage(); // reads: ["a", "b"] once both were read
 */
export function countingStorage(inner: ClientStorage = createMemoryStorage()) {
  const reads: string[] = [];
  const storage: ClientStorage = {
    ...inner,
    readCollection: (collection) => {
      reads.push(collection);
      return inner.readCollection(collection);
    },
  };
  return { storage, reads };
}

/**
 * Opens clients of `schema` on a storage, with ids `<idPrefix>0001`, `<idPrefix>0002`…; every
 * client opened in a test is closed after it.
 * @example const open = useStoredClients(schema); const client = open(storage, 5);
 */
export function useStoredClients<S extends Schema>(
  schema: S,
): (storage: ClientStorage, cacheSize?: number, idPrefix?: string) => TrellisClient<S> {
  const clients: TrellisClient<S>[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  return (storage: ClientStorage, cacheSize?: number, idPrefix = "id") => {
    let ids = 0;
    const client = createClient({
      schema,
      storage,
      ...(cacheSize === undefined ? {} : { cacheSize }),
      generateId: () => `${idPrefix}${String(++ids).padStart(4, "0")}`,
    });
    clients.push(client);
    return client;
  };
}

/** Resolves after the current task and those queued before it, such as a scheduled eviction. */
export const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));
