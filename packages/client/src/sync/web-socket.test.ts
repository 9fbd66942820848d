import { createSchema, encodeHlc, parseClientMessage, t } from "@trellis/core";
import WebSocket, { WebSocketServer } from "ws";
import { afterEach, describe, expect, it } from "vitest";
import { createClient } from "../create-client.js";
import { checkServerUrl, httpUrl, syncUrl } from "./server-url.js";
import { resolveWebSocket } from "./web-socket.js";

const schema = createSchema({ entities: { notes: { text: t.string({ fallback: "" }) } } });

/** Runs `body` with `globalThis.WebSocket` set to `value` (deleted for undefined), as on Node 20. */
async function withGlobalWebSocket<T>(value: unknown, body: () => Promise<T> | T): Promise<T> {
  const global = globalThis as { WebSocket?: unknown };
  const had = Object.hasOwn(global, "WebSocket");
  const saved = global.WebSocket;
  try {
    if (value === undefined) delete global.WebSocket;
    else global.WebSocket = value;
    return await body();
  } finally {
    if (had) global.WebSocket = saved;
    else delete global.WebSocket;
  }
}

describe("resolveWebSocket", () => {
  it("takes the class given, else the global one, else loads ws", async () => {
    class Given extends WebSocket {}
    expect(resolveWebSocket(Given)).toBe(Given);
    await withGlobalWebSocket(Given, () => expect(resolveWebSocket(undefined)).toBe(Given));
    await withGlobalWebSocket(undefined, async () => expect(await resolveWebSocket(undefined)).toBe(WebSocket));
  });
});

describe("server addresses", () => {
  it("derives the sync socket and HTTP endpoints, keeping a base path", () => {
    expect(syncUrl("http://127.0.0.1:8787")).toBe("ws://127.0.0.1:8787/v1/sync");
    expect(syncUrl("https://sync.example.com/trellis/")).toBe("wss://sync.example.com/trellis/v1/sync");
    expect(httpUrl("https://sync.example.com/trellis", "/v1/query")).toBe("https://sync.example.com/trellis/v1/query");
  });

  it("refuses what is not an http(s) URL", () => {
    expect(checkServerUrl("http://localhost:1")).toBe("http://localhost:1");
    for (const bad of ["localhost:8787", "ws://x", "http://x/?a=1", "http://x/#a", 8787, undefined]) {
      expect(() => checkServerUrl(bad)).toThrow(/serverUrl must be an http\(s\) URL/);
    }
  });
});

describe("a real socket", () => {
  let server: WebSocketServer | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  it("connects with ws where there is no global WebSocket, and closes cleanly", async () => {
    server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await new Promise((resolve) => server!.once("listening", resolve));
    const closed = new Promise<void>((resolve) =>
      server!.on("connection", (socket, request) => {
        expect(request.url).toBe("/v1/sync");
        socket.on("message", (data) => {
          const { data: message } = parseClientMessage(String(data));
          if (message?.type === "hello")
            socket.send(
              JSON.stringify({ type: "welcome", serverHlc: encodeHlc({ ticks: 1, node: "s" }), userId: null }),
            );
        });
        socket.on("close", () => resolve());
      }),
    );
    const { port } = server.address() as { port: number };
    const client = await withGlobalWebSocket(undefined, () =>
      createClient({ schema, serverUrl: `http://127.0.0.1:${port}` }),
    );
    await new Promise<void>((resolve) => {
      const stop = client.connection.subscribe(({ state }) => {
        if (state !== "online") return;
        stop();
        resolve();
      });
    });
    await client.close();
    await closed;
    expect(client.connection.state).toBe("offline");
  });
});
