import { findClient, type PreloadData, type TrellisClient } from "@trellis/client";
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
 * collectionOf(client, preloaded, "useQuery") // client.database[preloaded.collection]
 */
export function collectionOf(provided: TrellisClient<Schema> | undefined, preloaded: PreloadData<unknown>, hook: string): AnyCollection {
  // Without a provider: the client created for the app the data names (docs/react.md).
  const client = provided ?? findClient(preloaded.appId);
  if (client === undefined) {
    throw new Error(
      `${hook}(preloaded): no client of app "${preloaded.appId}"; create one with createClient({ appId: "${preloaded.appId}", … }), ` +
        `wrap the app in <TrellisProvider client={client}>, or pass the collection: ${hook}(client.database.x, preloaded).`,
    );
  }
  const database = client.database as unknown as Record<string, AnyCollection | undefined>;
  const collection = Object.hasOwn(database, preloaded.collection) ? database[preloaded.collection] : undefined;
  if (collection === undefined || preloaded.collection === "batch") {
    throw new Error(`${hook}(preloaded): the client's schema has no collection ${JSON.stringify(preloaded.collection)}; preload with the same schema.`);
  }
  return collection;
}
