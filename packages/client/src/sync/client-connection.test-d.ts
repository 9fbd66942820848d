import { createSchema, type DatabaseError, t } from "@trellis/core";
import WebSocket from "ws";
import { describe, expectTypeOf, it } from "vitest";
import {
  type ClientConnection,
  type ClientOptions,
  type ConnectionState,
  type ConnectionStatus,
  createClient,
} from "../index.js";

const schema = createSchema({ entities: { users: { name: t.string({ fallback: "" }) } } });
const client = createClient({ schema, serverUrl: "http://127.0.0.1:8787", auth: { token: "a.b.c" }, WebSocket });

describe("client.connection types", () => {
  it("reads the state, the pending count and the last error", () => {
    expectTypeOf(client.connection).toEqualTypeOf<ClientConnection>();
    expectTypeOf(client.connection.state).toEqualTypeOf<ConnectionState>();
    expectTypeOf<ConnectionState>().toEqualTypeOf<"initial" | "offline" | "connecting" | "syncing" | "online">();
    expectTypeOf(client.connection.pending).toEqualTypeOf<number>();
    expectTypeOf(client.connection.lastError).toEqualTypeOf<DatabaseError | undefined>();
    expectTypeOf(client.connection.getCurrentState()).toEqualTypeOf<ConnectionStatus>();
  });

  it("subscribes with a callback of the status and returns an unsubscribe", () => {
    expectTypeOf(client.connection.subscribe).parameter(0).toEqualTypeOf<(status: ConnectionStatus) => void>();
    expectTypeOf(client.connection.subscribe(() => {})).toEqualTypeOf<() => void>();
    // @ts-expect-error the status is read-only
    client.connection.getCurrentState().state = "online";
  });

  it("connects, disconnects and closes", () => {
    expectTypeOf(client.connect).toEqualTypeOf<() => void>();
    expectTypeOf(client.disconnect).toEqualTypeOf<() => void>();
    expectTypeOf(client.close).toEqualTypeOf<() => Promise<void>>();
  });

  it("takes a token or a token source, and the browser's or ws's WebSocket", () => {
    type Options = ClientOptions<typeof schema>;
    expectTypeOf<{ schema: typeof schema; auth: { getToken: () => Promise<string> } }>().toMatchTypeOf<Options>();
    expectTypeOf<{ schema: typeof schema; auth: { getToken: () => string } }>().toMatchTypeOf<Options>();
    expectTypeOf<{ schema: typeof schema; auth: { token: number } }>().not.toMatchTypeOf<Options>();
    expectTypeOf<{ schema: typeof schema; WebSocket: typeof globalThis.WebSocket }>().toMatchTypeOf<Options>();
    expectTypeOf<{ schema: typeof schema; WebSocket: typeof WebSocket }>().toMatchTypeOf<Options>();
    expectTypeOf<{
      schema: typeof schema;
      reconnect: { baseMs: number; maxMs: number };
      keepAlive: { intervalMs: number };
    }>().toMatchTypeOf<Options>();
  });
});
