import { collectionOfPreloaded, type PreloadData, type TrellisClient } from "@trellis/client";
import type { Schema } from "@trellis/client";

/** A collection API as the hooks call it: untyped, typing lives in the hooks' signatures. */
export interface AnyCollection {
  subscribe(input: unknown, callback: () => void): { getCurrentState(): unknown; unsubscribe(): void };
  subscribeOne(input: unknown, callback: () => void): { getCurrentState(): unknown; unsubscribe(): void };
  paginated(input: unknown): unknown;
}

/**
 * The collection that preloaded data names, of `provided` or else of the open client of the app
 * the data names; throws when there is no client or the client's schema has no such collection.
 *
 * @example
 * const { data: preloaded } = await client.database.todos.preload({ where: { done: false } });
 * const todos = collectionOf(client, preloaded!, "useQuery"); // client.database.todos
 */
export function collectionOf(
  provided: TrellisClient<Schema> | undefined,
  preloaded: PreloadData<unknown>,
  hook: string,
): AnyCollection {
  // Without a provider: the client created for the app the data names (docs/react.md).
  const howToProvide = `wrap the app in <TrellisProvider client={client}>, or pass the collection: ${hook}(client.database.x, preloaded)`;
  return collectionOfPreloaded(provided, preloaded, hook, howToProvide) as AnyCollection;
}
