/**
 * Helpers of the client↔server tests, which run a real `trellis-server` process: waiting for
 * conditions, a `ws` WebSocket that records every frame, and recording subscriptions. Test
 * support only; not exported from the package.
 */
import type { ClientMessage, ServerMessage } from "@trellis/core";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeDataDir, type ServerProcess, startServerProcess, tempDataDir } from "@trellis/server/testing";
import { afterAll, afterEach, beforeAll } from "vitest";
import WebSocket from "ws";
import type { ConnectionState } from "../sync/client-connection.js";
import type { WebSocketConstructor } from "../sync/web-socket.js";
import { copyResult } from "./fuzz-kit.js";

/** Short reconnect backoffs: a test waits for reconnects, so they should be quick. */
export const FAST_RECONNECT = { baseMs: 20, maxMs: 200 } as const;

/**
 * Polls `condition` (which may be async) until it holds; fails after `timeoutMs` with `what` (a
 * function is called then, so it can describe the state that did not converge).
 * @example await waitFor(() => client.connection.state === "online", "client online");
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string | (() => string),
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Error(`Timed out after ${timeoutMs} ms waiting for: ${typeof what === "function" ? what() : what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** What a client's `connection` exposes that the waits below read. */
interface Connected {
  readonly connection: { readonly state: ConnectionState; readonly pending: number };
}

/**
 * Waits until every client is online with nothing pending: all writes acknowledged, every
 * followed query answered.
 * @example await allOnline([a, b]);
 */
export async function allOnline(clients: readonly Connected[], timeoutMs = 20_000): Promise<void> {
  await waitFor(
    () => clients.every(({ connection }) => connection.state === "online" && connection.pending === 0),
    () =>
      `every client online with nothing pending; now ${clients.map(({ connection }) => `${connection.state}/${connection.pending}`).join(", ")}`,
    timeoutMs,
  );
}

/** Frames one client's sockets sent and received, in order, across reconnects. */
export interface FrameLog {
  /** A WebSocket class for `createClient({ WebSocket })`. */
  readonly WebSocket: WebSocketConstructor;
  readonly sent: ClientMessage[];
  readonly received: ServerMessage[];
  /** Sockets opened so far. */
  readonly sockets: number;
  /** From now on `push` frames wait (unsent, unrecorded) until {@link releasePushes}. */
  holdPushes(): void;
  /** Sends the held `push` frames, in order, on their sockets if still open. */
  releasePushes(): void;
  sentOf<K extends ClientMessage["type"]>(type: K): Extract<ClientMessage, { type: K }>[];
  receivedOf<K extends ServerMessage["type"]>(type: K): Extract<ServerMessage, { type: K }>[];
}

/**
 * The `ws` WebSocket, recording every frame it sends and receives (parsed), for checking what
 * went over the wire.
 * @example const frames = recordFrames(); createClient({ schema, serverUrl, WebSocket: frames.WebSocket });
 */
export function recordFrames(): FrameLog {
  const sent: ClientMessage[] = [];
  const received: ServerMessage[] = [];
  let sockets = 0;
  let isHolding = false;
  const held: (() => void)[] = [];
  class RecordingWebSocket extends WebSocket {
    constructor(url: string) {
      super(url);
      sockets++;
      // Registered before the client's own handler, so a frame is recorded before it is handled.
      this.on("message", (data, isBinary) => {
        if (!isBinary) received.push(JSON.parse(String(data)) as ServerMessage);
      });
    }

    override send(data: string): void {
      const message = JSON.parse(data) as ClientMessage;
      if (isHolding && message.type === "push") {
        held.push(() => {
          if (this.readyState !== WebSocket.OPEN) return;
          sent.push(message);
          super.send(data);
        });
        return;
      }
      sent.push(message);
      super.send(data);
    }
  }
  return {
    WebSocket: RecordingWebSocket as unknown as WebSocketConstructor,
    sent,
    received,
    get sockets() {
      return sockets;
    },
    holdPushes: () => {
      isHolding = true;
    },
    releasePushes: () => {
      isHolding = false;
      for (const send of held.splice(0)) send();
    },
    sentOf: <K extends ClientMessage["type"]>(type: K) =>
      sent.filter((message): message is Extract<ClientMessage, { type: K }> => message.type === type),
    receivedOf: <K extends ServerMessage["type"]>(type: K) =>
      received.filter((message): message is Extract<ServerMessage, { type: K }> => message.type === type),
  };
}

/** One call of a subscription callback, its data copied. */
export interface Call<T> {
  readonly data: T | undefined;
  readonly error: { readonly code: string; readonly message: string } | undefined;
  readonly loading: boolean;
}

/**
 * A subscription callback that records its calls.
 * @example const calls = recorder<Todo[]>(); client.database.todos.subscribe({}, calls.callback); calls.last?.data;
 */
export function recorder<T>(): {
  readonly calls: Call<T>[];
  readonly last: Call<T> | undefined;
  callback: (data: T | undefined, error: Call<T>["error"], loading: boolean) => void;
} {
  const calls: Call<T>[] = [];
  return {
    calls,
    get last() {
      return calls.at(-1);
    },
    callback: (data, error, loading) => calls.push({ data: copyResult(data) as T | undefined, error, loading }),
  };
}

/** What {@link useServerProcess} gives a test file. */
export interface ServerFixture {
  /** The file's `trellis-server` process (read it inside tests). */
  readonly server: ServerProcess;
  /** Registers a client to close after the test; returns it. */
  track<C extends { close(): Promise<void> }>(client: C): C;
  /** Closes a tracked client now (as a tab closing would). */
  untrack(client: { close(): Promise<void> }): Promise<void>;
  /** A fresh app id with this prefix, so tests on the shared server stay apart. */
  newApp(prefix: string): string;
}

/**
 * Starts a `trellis-server` process for a test file (beforeAll), closes the clients each test
 * tracked (afterEach) and stops the server (afterAll).
 * @example const live = useServerProcess(); const client = live.track(createClient({ schema, serverUrl: live.server.url }));
 */
export function useServerProcess(
  options: { readonly permissions?: object; readonly args?: readonly string[] } = {},
): ServerFixture {
  let server: ServerProcess | undefined;
  const clients: { close(): Promise<void> }[] = [];
  let apps = 0;
  beforeAll(async () => {
    const args = [...(options.args ?? [])];
    const dataDir = tempDataDir();
    if (options.permissions !== undefined) {
      // Rules go in a file next to the data, as `trellis-server --permissions` reads them.
      const file = join(dataDir, "rules.json");
      writeFileSync(file, JSON.stringify(options.permissions));
      args.push("--permissions", file);
    }
    server = await startServerProcess({ dataDir, args });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  afterAll(async () => {
    await server?.stop();
    if (server !== undefined) removeDataDir(server.dataDir);
  });
  return {
    get server() {
      if (server === undefined) throw new Error("useServerProcess: read the server inside tests, after beforeAll.");
      return server;
    },
    track(client) {
      clients.push(client);
      return client;
    },
    async untrack(client) {
      const index = clients.indexOf(client);
      if (index >= 0) clients.splice(index, 1);
      await client.close();
    },
    newApp: (prefix) => `${prefix}-${++apps}`,
  };
}
