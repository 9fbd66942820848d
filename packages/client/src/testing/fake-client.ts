import type { Schema } from "@trellis/core";
import { createClient } from "../create-client.js";
import type { ClientOptions } from "../client-types.js";
import { createFakeWebSocket } from "./fake-sync.js";

/**
 * A client of `schema` that syncs over a fake socket (`fake.last()`): app "app", client "c1",
 * user "alice" unless `options` say otherwise; it reconnects only on `connect()`, never on a timer.
 *
 * @example
 * const { client, fake } = createFakeClient(schema);
 * fake.last().open();
 */
export function createFakeClient<S extends Schema>(schema: S, options: Partial<ClientOptions<S>> = {}) {
  const fake = createFakeWebSocket();
  const client = createClient({
    schema,
    appId: "app",
    clientId: "c1",
    userId: "alice",
    serverUrl: "http://127.0.0.1:9",
    WebSocket: fake.WebSocket,
    reconnect: { baseMs: 3_600_000, maxMs: 3_600_000 },
    ...options,
  });
  return { client, fake };
}
