// The app's client: one in the browser for the page's lifetime; one per render on the server.
import { createClient, type TrellisClient } from "@trellis/client";
import { schema } from "./schema";
import type { TrellisSettings } from "./settings";

/** The example's client type. */
export type Client = TrellisClient<typeof schema>;

let browserClient: Client | undefined;

/**
 * The client for the components: in the browser, created once (IndexedDB storage, live sync);
 * during server rendering, a fresh one that never connects, only so that `paginated(preloaded)`
 * and `useRoom` can render the preloaded data.
 *
 * @example
 * setTrellisClient(clientFor(data.settings, data.user));
 */
export function clientFor({ serverUrl, appId }: TrellisSettings, userId: string): Client {
  if (typeof window === "undefined") {
    const client = createClient({ schema, serverUrl, appId, userId, storage: "memory" });
    client.disconnect();
    return client;
  }
  browserClient ??= createClient({ schema, serverUrl, appId, userId });
  return browserClient;
}
