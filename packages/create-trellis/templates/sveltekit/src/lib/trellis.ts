import { createClient, type TrellisClient } from "@trellis/client";
import { schema } from "./schema";

/** Where the sync server is and which app on it: read on the server, sent to the browser. */
export interface TrellisSettings {
  readonly serverUrl: string;
  readonly appId: string;
}

type Client = TrellisClient<typeof schema>;

// Kept across renders and navigations: one client, one connection, one IndexedDB copy per tab.
let browserClient: Client | undefined;

/**
 * The client for the components. In the browser, created once: reads and writes go to its own
 * copy of the data, so they are instant and work offline, and it syncs with the server whenever
 * it can reach it. During server rendering, a fresh one that never connects, only so that
 * `query(preloaded)` can render the preloaded data.
 *
 * @example
 * setTrellisClient(clientFor(data.trellis));
 */
export function clientFor({ serverUrl, appId }: TrellisSettings): Client {
  if (typeof window === "undefined") {
    const client = createClient({ schema, serverUrl, appId, storage: "memory" });
    client.disconnect();
    return client;
  }
  browserClient ??= createClient({ schema, serverUrl, appId });
  return browserClient;
}
