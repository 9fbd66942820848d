import { createClient, type TrellisClient } from "@trellis/client";
import { appId, serverUrl, userName } from "./config.js";
import { schema, type TodoSchema } from "./schema.js";

/**
 * The page's one client. In a browser it stores its data in IndexedDB, so the app works
 * offline and pushes what it wrote once the server is reachable again.
 */
export const client: TrellisClient<TodoSchema> = createClient({
  schema,
  appId,
  serverUrl,
  userId: userName,
  // Retry at most every 2 s, so the app catches up quickly after the network returns.
  reconnect: { baseMs: 250, maxMs: 2000 },
});

// Follow the browser's network status: a browser may keep a dead WebSocket open until the
// client's keep-alive gives up (seconds), and after the network returns it would wait for the
// next retry. Going offline and reconnecting on these events reacts at once.
window.addEventListener("offline", () => client.disconnect());
window.addEventListener("online", () => client.connect());
