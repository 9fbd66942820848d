import type { PreloadData, Schema } from "@trellis/core";
import type { TrellisClient } from "./client-types.js";

/** Open clients by app id, oldest first. */
const openClients = new Map<string, TrellisClient<Schema>[]>();

/**
 * Notes a client as open until the returned function is called (by its `close()`), so bindings
 * given preloaded data can find it by the app id the data names.
 */
export function registerClient(client: TrellisClient<Schema>): () => void {
  const clients = openClients.get(client.appId) ?? [];
  clients.push(client);
  openClients.set(client.appId, clients);
  return () => {
    const index = clients.indexOf(client);
    if (index >= 0) clients.splice(index, 1);
    if (clients.length === 0 && openClients.get(client.appId) === clients) openClients.delete(client.appId);
  };
}

/**
 * The client of an app created last in this page (or process) and not closed yet: what React
 * hooks and Svelte bindings use for preloaded data when no provider or context names a client
 * (see docs/preload.md).
 *
 * @example
 * createClient({ schema, appId: "todo-app", serverUrl });
 * const found = findClient("todo-app"); // that client, until it is closed
 */
export function findClient(appId: string): TrellisClient<Schema> | undefined {
  return openClients.get(appId)?.at(-1);
}

/**
 * The collection that preloaded data names, of `client` or else of the open client of the app the
 * data names ({@link findClient}), untyped: bindings type it in their own signatures. Throws an
 * `Error` that tells the fix when there is no client (`howToProvide` says how the binding takes
 * one) or its schema has no such collection.
 *
 * @example
 * const { data: preloaded } = await client.database.todos.preload({ where: { done: false } });
 * const todos = collectionOfPreloaded(undefined, preloaded!, "useQuery", "wrap the app in <TrellisProvider client={client}>");
 */
export function collectionOfPreloaded(
  client: TrellisClient<Schema> | undefined,
  preloaded: PreloadData<unknown>,
  caller: string,
  howToProvide: string,
): unknown {
  const found = client ?? findClient(preloaded.appId);
  if (found === undefined) {
    throw new Error(
      `${caller}(preloaded): no client of app "${preloaded.appId}"; create one with createClient({ appId: "${preloaded.appId}", … }), ${howToProvide}.`,
    );
  }
  const database = found.database as unknown as Record<string, unknown>;
  const collection =
    Object.hasOwn(database, preloaded.collection) && preloaded.collection !== "batch"
      ? database[preloaded.collection]
      : undefined;
  if (collection === undefined) {
    throw new Error(
      `${caller}(preloaded): the client's schema has no collection ${JSON.stringify(preloaded.collection)}; preload with the same schema.`,
    );
  }
  return collection;
}
