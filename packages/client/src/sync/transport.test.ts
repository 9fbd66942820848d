import { type DatabaseError, encodeHlc, type HelloMessage, PROTOCOL_VERSION } from "@trellis/core";
import { describe, expect, it } from "vitest";
import { createFakeWebSocket, createManualTimers } from "../testing/fake-sync.js";
import { type SyncMessage, Transport, type TransportOptions } from "./transport.js";

const HELLO: HelloMessage = { type: "hello", protocol: PROTOCOL_VERSION, appId: "app", clientId: "c1" };
const WELCOME = { type: "welcome", serverHlc: encodeHlc({ ticks: 1, node: "server" }), userId: null } as const;
const TIMEOUT = 7_000;
const INTERVAL = 15_000;

function setup(overrides: Partial<TransportOptions> = {}) {
  const fake = createFakeWebSocket();
  const time = createManualTimers();
  const errors: DatabaseError[] = [];
  const messages: SyncMessage[] = [];
  const events: string[] = [];
  const transport = new Transport({
    url: "ws://server/v1/sync",
    webSocket: () => fake.WebSocket,
    hello: () => HELLO,
    onWelcome: () => events.push("welcome"),
    onMessage: (message) => messages.push(message),
    onDisconnect: () => events.push("disconnect"),
    onError: (error) => errors.push(error),
    timers: time.timers,
    random: () => 0.5,
    reconnect: { baseMs: 100, maxMs: 1_000 },
    keepAlive: { intervalMs: INTERVAL, timeoutMs: TIMEOUT },
    ...overrides,
  });
  /** Delays of reconnect timers (the keep-alive ones are INTERVAL and TIMEOUT). */
  const retryDelays = () => time.delays.filter((ms) => ms !== INTERVAL && ms !== TIMEOUT);
  return { ...fake, time, errors, messages, events, transport, retryDelays };
}

describe("Transport", () => {
  it("opens, says hello, and is connected once welcomed", () => {
    const { transport, last, events } = setup();
    expect(transport.state.value).toBe("initial");
    transport.connect();
    expect(transport.state.value).toBe("connecting");
    const socket = last();
    expect(socket.url).toBe("ws://server/v1/sync");
    socket.open();
    expect(socket.sent).toEqual([HELLO]);
    expect(transport.state.value).toBe("connecting");
    socket.receive(WELCOME);
    expect(transport.state.value).toBe("connected");
    expect(events).toEqual(["welcome"]);
  });

  it("sends only on a welcomed connection", () => {
    const { transport, last } = setup();
    transport.connect();
    expect(transport.send({ type: "ping" })).toBe(false);
    last().open();
    expect(transport.send({ type: "ping" })).toBe(false);
    last().receive(WELCOME);
    expect(transport.send({ type: "ping" })).toBe(true);
    expect(last().sentOf("ping")).toHaveLength(1);
  });

  it("passes the server's other messages on", () => {
    const { transport, last, messages } = setup();
    transport.connect();
    last().open();
    last().receive(WELCOME);
    const snapshot = { type: "snapshot", queryId: "q1", triples: [], cursor: "3" } as const;
    last().receive(snapshot);
    last().receive({ type: "ack", batchId: "b1", cursor: "4" });
    expect(messages).toEqual([snapshot, { type: "ack", batchId: "b1", cursor: "4" }]);
  });

  it("goes offline when the socket drops and reconnects after an exponential backoff with full jitter, reset by a welcome", () => {
    const { transport, sockets, last, time, retryDelays, events } = setup();
    transport.connect();
    last().open();
    last().receive(WELCOME);
    last().drop();
    expect(transport.state.value).toBe("offline");
    expect(events).toEqual(["welcome", "disconnect"]);
    for (let failures = 0; failures < 6; failures++) {
      time.advance(retryDelays().at(-1)!);
      expect(transport.state.value).toBe("connecting");
      last().drop(); // refused before opening: no disconnect event, still offline
      expect(transport.state.value).toBe("offline");
    }
    // random() = 0.5 of min(maxMs, baseMs * 2^attempt)
    expect(retryDelays()).toEqual([50, 100, 200, 400, 500, 500, 500]);
    time.advance(500);
    last().open();
    last().receive(WELCOME);
    last().drop();
    expect(retryDelays().at(-1)).toBe(50);
    expect(sockets).toHaveLength(8);
    expect(events.filter((event) => event === "disconnect")).toHaveLength(2);
  });

  it("reports an error the server sends before welcome, goes offline and retries", () => {
    const { transport, last, errors, time, sockets } = setup();
    transport.connect();
    last().open();
    last().receive({ type: "error", code: "UNAUTHORIZED", message: "Bad token.", details: { reason: "expired" } });
    expect(transport.state.value).toBe("offline");
    expect(errors.map((error) => [error.code, error.message, error.details])).toEqual([
      ["UNAUTHORIZED", "Bad token.", { reason: "expired" }],
    ]);
    expect(last().isClosedByClient).toBe(true);
    time.advance(50);
    expect(sockets).toHaveLength(2);
    expect(transport.state.value).toBe("connecting");
  });

  it("refuses a malformed frame: reports a PROTOCOL error, closes the socket and reconnects", () => {
    const { transport, last, errors, time, sockets } = setup();
    transport.connect();
    last().open();
    last().receive(WELCOME);
    last().receive('{"type":"changes","triples":"nope","cursor":"1"}');
    expect(errors[0]?.code).toBe("PROTOCOL");
    expect(errors[0]?.message).toContain("triples");
    expect(sockets[0]!.isClosedByClient).toBe(true);
    expect(transport.state.value).toBe("offline");
    time.advance(50);
    expect(sockets).toHaveLength(2);
  });

  it("refuses anything but welcome or error as the first message", () => {
    const { transport, last, errors } = setup();
    transport.connect();
    last().open();
    last().receive({ type: "changes", triples: [], cursor: "1" });
    expect(errors[0]?.message).toContain('"changes" before "welcome"');
    expect(transport.state.value).toBe("offline");
  });

  it("pings every interval and drops a socket whose pong does not come (half-open)", () => {
    const { transport, last, time, sockets } = setup();
    transport.connect();
    last().open();
    last().receive(WELCOME);
    time.advance(INTERVAL);
    expect(last().sentOf("ping")).toHaveLength(1);
    last().receive({ type: "pong" });
    time.advance(INTERVAL);
    expect(last().sentOf("ping")).toHaveLength(2);
    time.advance(TIMEOUT - 1);
    expect(transport.state.value).toBe("connected");
    time.advance(1);
    expect(transport.state.value).toBe("offline");
    expect(sockets[0]!.isClosedByClient).toBe(true);
  });

  it("gives up on a socket that opens but is never welcomed", () => {
    const { transport, last, time } = setup();
    transport.connect();
    last().open();
    time.advance(TIMEOUT);
    expect(transport.state.value).toBe("offline");
    expect(last().isClosedByClient).toBe(true);
  });

  it("stays offline after disconnect() and reconnects at once on connect()", () => {
    const { transport, last, time, sockets, events } = setup();
    transport.connect();
    last().open();
    last().receive(WELCOME);
    transport.disconnect();
    expect(transport.state.value).toBe("offline");
    expect(events).toEqual(["welcome", "disconnect"]);
    time.advance(60_000);
    expect(sockets).toHaveLength(1);
    transport.connect();
    expect(sockets).toHaveLength(2);
    expect(transport.state.value).toBe("connecting");
  });

  it("connects at once on connect() while waiting to retry", () => {
    const { transport, last, sockets, time } = setup();
    transport.connect();
    last().drop();
    transport.connect();
    expect(sockets).toHaveLength(2);
    time.advance(TIMEOUT - 1); // the cancelled retry (after 50 ms) opens nothing
    expect(sockets).toHaveLength(2);
  });

  it("closes without leaving a timer or an open socket", async () => {
    const { transport, last, time } = setup();
    transport.connect();
    last().open();
    last().receive(WELCOME);
    await transport.close();
    expect(last().isClosedByClient).toBe(true);
    expect(time.pending).toBe(0);
    expect(transport.state.value).toBe("offline");
    transport.connect();
    expect(transport.state.value).toBe("offline");
  });

  it("closes at once after the server went away, with a browser socket (no terminate)", async () => {
    const fake = createFakeWebSocket();
    // A browser WebSocket has no terminate(): a socket released gracefully waits for its close event.
    const BrowserLike = class extends fake.WebSocket {
      override terminate = undefined;
    };
    const { transport, time } = setup({ webSocket: () => BrowserLike as never });
    transport.connect();
    fake.last().open();
    fake.last().receive(WELCOME);
    // The server closes the connection: one close event, no error.
    const socket = fake.last();
    socket.readyState = 3;
    socket.onclose?.({} as never);
    // Closed already: no second close event will come, so close() must not wait for one.
    let isClosed = false;
    void transport.close().then(() => (isClosed = true));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(isClosed).toBe(true);
    expect(time.pending).toBe(0);
  });

  it("waits for an asynchronously loaded WebSocket class and an asynchronous hello", async () => {
    const fake = createFakeWebSocket();
    const { transport, sockets } = setup({
      webSocket: () => Promise.resolve(fake.WebSocket),
      hello: async () => ({ ...HELLO, token: "t" }),
    });
    transport.connect();
    await Promise.resolve();
    expect(fake.sockets).toHaveLength(1);
    expect(sockets).toHaveLength(0);
    fake.last().open();
    await Promise.resolve();
    expect(fake.last().sent).toEqual([{ ...HELLO, token: "t" }]);
  });

  it("reports a failing token source and retries", async () => {
    const { transport, last, errors } = setup({ hello: () => Promise.reject(new Error("no session")) });
    transport.connect();
    last().open();
    await Promise.resolve();
    await Promise.resolve();
    expect(errors[0]?.code).toBe("UNAUTHORIZED");
    expect(errors[0]?.message).toContain("no session");
    expect(transport.state.value).toBe("offline");
  });
});
