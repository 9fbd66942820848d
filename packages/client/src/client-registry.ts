import type { Schema } from "@trellis/core";
import type { TrellisClient } from "./create-client.js";

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
 * (SPEC §11).
 *
 * @example
 * createClient({ schema, appId: "todo-app", serverUrl });
 * findClient("todo-app")?.database.todos.subscribe(preloaded, render);
 */
export function findClient(appId: string): TrellisClient<Schema> | undefined {
  return openClients.get(appId)?.at(-1);
}
