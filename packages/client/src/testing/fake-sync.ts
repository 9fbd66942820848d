/**
 * Test doubles of the sync layer's edges: a WebSocket the test plays the server on, and timers
 * the test advances by hand. Test support only; not exported from the package.
 */
import type { ClientMessage, ServerMessage } from "@trellis/core";
import type { Timers } from "../sync/timers.js";
import type { WebSocketConstructor, WebSocketLike } from "../sync/web-socket.js";

type Handler = ((event: never) => void) | null;

/** A socket whose server side is the test: `open()`, `receive(message)`, `drop()`; `sent` holds what the client sent. */
export class FakeSocket implements WebSocketLike {
  readyState = 0;
  onopen: Handler = null;
  onmessage: Handler = null;
  onclose: Handler = null;
  onerror: Handler = null;
  readonly sent: ClientMessage[] = [];
  /** Whether the client closed (or terminated) this socket. */
  isClosedByClient = false;

  constructor(readonly url: string) {}

  send(data: string): void {
    if (this.readyState !== 1) throw new Error("FakeSocket: send on a socket that is not open");
    this.sent.push(JSON.parse(data) as ClientMessage);
  }

  close(): void {
    this.isClosedByClient = true;
    if (this.readyState === 3) return;
    this.readyState = 3;
    // Like real sockets, the close event comes later.
    queueMicrotask(() => this.fire("onclose", {}));
  }

  terminate(): void {
    this.isClosedByClient = true;
    this.readyState = 3;
    this.fire("onclose", {});
  }

  /** The connection opens (the client then says hello). */
  open(): void {
    this.readyState = 1;
    this.fire("onopen", {});
  }

  /** The server sends a message (or a raw frame). */
  receive(message: ServerMessage | string): void {
    this.fire("onmessage", { data: typeof message === "string" ? message : JSON.stringify(message) });
  }

  /** The network drops the connection. */
  drop(): void {
    this.readyState = 3;
    this.fire("onerror", {});
    this.fire("onclose", {});
  }

  /** Sent messages of a type. */
  sentOf<K extends ClientMessage["type"]>(type: K): Extract<ClientMessage, { type: K }>[] {
    return this.sent.filter((message): message is Extract<ClientMessage, { type: K }> => message.type === type);
  }

  private fire(handler: "onopen" | "onmessage" | "onclose" | "onerror", event: object): void {
    (this[handler] as ((event: object) => void) | null)?.(event);
  }
}

/**
 * A WebSocket class whose instances are {@link FakeSocket}s, listed in creation order.
 * @example const { WebSocket, sockets } = createFakeWebSocket();
 */
export function createFakeWebSocket(): { WebSocket: WebSocketConstructor; sockets: FakeSocket[]; last(): FakeSocket } {
  const sockets: FakeSocket[] = [];
  const WebSocket = class extends FakeSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
    }
  };
  return {
    WebSocket,
    sockets,
    last: () => {
      const socket = sockets[sockets.length - 1];
      if (socket === undefined) throw new Error("no socket was opened");
      return socket;
    },
  };
}

/**
 * Timers that run only when the test advances time.
 * @example const clock = createManualTimers(); clock.advance(1_000);
 */
export function createManualTimers(): {
  timers: Timers;
  advance(ms: number): void;
  readonly pending: number;
  readonly delays: number[];
} {
  let now = 0;
  let nextId = 1;
  const scheduled = new Map<number, { at: number; callback: () => void }>();
  const delays: number[] = [];
  return {
    timers: {
      setTimeout(callback, ms) {
        const id = nextId++;
        scheduled.set(id, { at: now + ms, callback });
        delays.push(ms);
        return id;
      },
      clearTimeout(handle) {
        scheduled.delete(handle as number);
      },
    },
    advance(ms) {
      const until = now + ms;
      for (;;) {
        let next: [number, { at: number; callback: () => void }] | undefined;
        for (const entry of scheduled)
          if (entry[1].at <= until && (next === undefined || entry[1].at < next[1].at)) next = entry;
        if (next === undefined) break;
        scheduled.delete(next[0]);
        now = next[1].at;
        next[1].callback();
      }
      now = until;
    },
    get pending() {
      return scheduled.size;
    },
    delays,
  };
}
