import { createIndexedDbStorage } from "./lazy-storage.js";
import type { ClientStorage } from "./storage.js";

/** `createClient({ storage })`: a backend's name or a storage object. */
export type StorageOption = "memory" | "indexeddb" | ClientStorage;

/**
 * The storage a client persists to, or undefined for `"memory"` (nothing kept). The default is
 * IndexedDB in browsers and memory elsewhere (Node, jsdom without IndexedDB).
 *
 * @example
 * resolveStorage(undefined, "my-app") // IndexedDB database "trellis-my-app" in a browser
 */
export function resolveStorage(option: StorageOption | undefined, appId: string): ClientStorage | undefined {
  const choice = option ?? (typeof window !== "undefined" && typeof indexedDB !== "undefined" ? "indexeddb" : "memory");
  if (choice === "memory") return undefined;
  if (choice === "indexeddb") {
    if (typeof indexedDB === "undefined") {
      throw new TypeError(
        'createClient: storage "indexeddb" needs IndexedDB, which this environment lacks; use "memory" (in Node tests, import "fake-indexeddb/auto").',
      );
    }
    return createIndexedDbStorage({ name: `trellis-${appId}` });
  }
  if (
    typeof choice === "object" &&
    choice !== null &&
    typeof choice.open === "function" &&
    typeof choice.commit === "function" &&
    typeof choice.close === "function"
  ) {
    return choice;
  }
  throw new TypeError(
    'createClient: storage must be "memory", "indexeddb" or a ClientStorage (such as createMemoryStorage()).',
  );
}
