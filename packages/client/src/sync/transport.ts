import { batch, type ReadonlySignal, signal } from "@preact/signals-core";
import {
  type AckMessage,
  type ChangesMessage,
  type ClientMessage,
  DatabaseError,
  type ErrorMessage,
  type HelloMessage,
  parseServerMessage,
  type RoomEventMessage,
  type RoomStateMessage,
  type RoomStatusMessage,
  type SnapshotMessage,
  type SnapshotPartMessage,
  type UserStatusMessage,
  type WelcomeMessage,
} from "@trellis/core";
import { closeReason, errorReason, messageOf, tokenError, unreachableError } from "./connection-failure.js";
import type { DebugLog } from "./debug-log.js";
import { backoffDelay, type ReconnectOptions } from "./reconnect-backoff.js";
import { releaseSocket } from "./socket-release.js";
import { SYSTEM_TIMERS, type Timers } from "./timers.js";
import { OPEN, type WebSocketConstructor, type WebSocketLike } from "./web-socket.js";

/** Where the socket is: never opened, not connected, opening (hello sent), or welcomed. */
export type TransportState = "initial" | "offline" | "connecting" | "connected";

/** What the server sends about rooms (see docs/rooms.md). */
export type RoomServerMessage = RoomStateMessage | RoomEventMessage | UserStatusMessage | RoomStatusMessage;

/** What the server sends once a connection is welcomed, keep-alive aside. */
export type SyncMessage =
  SnapshotMessage | SnapshotPartMessage | ChangesMessage | AckMessage | ErrorMessage | RoomServerMessage;

/** Keep-alive: a `ping` every `intervalMs`; no `pong` (or, while opening, no `welcome`) within `timeoutMs` drops the socket. */
export interface KeepAliveOptions {
  /** Default 15 000. */
  readonly intervalMs?: number;
  /** Default 10 000. */
  readonly timeoutMs?: number;
}

export interface TransportOptions {
  /** The `ws(s)://…/v1/sync` address. */
  readonly url: string;
  readonly webSocket: () => WebSocketConstructor | Promise<WebSocketConstructor>;
  /** The `hello` to open with; asked for on every connection (a token may have been renewed). */
  readonly hello: () => HelloMessage | Promise<HelloMessage>;
  /** Runs in the same signal batch as the state becoming `connected`. */
  readonly onWelcome: (welcome: WelcomeMessage) => void;
  readonly onMessage: (message: SyncMessage) => void;
  /** A welcomed connection was lost. */
  readonly onDisconnect: () => void;
  /** Something the user should hear about: an error the server sent before `welcome`, a malformed frame. */
  readonly onError: (error: DatabaseError) => void;
  readonly timers?: Timers;
  /** In [0, 1): the jitter of reconnect delays. */
  readonly random?: () => number;
  readonly reconnect?: ReconnectOptions;
  readonly keepAlive?: KeepAliveOptions;
  /** Hears each step of the connection (see `createClient({ debug })`). */
  readonly debug?: DebugLog | undefined;
}

/**
 * Server frames may be larger than the 1 MiB the server accepts from clients (a snapshot of a
 * large result), but not unboundedly so.
 */
const MAX_SERVER_FRAME_BYTES = 64 * 1024 * 1024;

/**
 * The sync socket and its state machine: `initial → connecting → connected`, and `offline`
 * after any close, error, refused handshake, malformed frame or missed `pong`, followed (unless
 * disconnected on purpose) by a reconnect after an exponential backoff with full jitter, which a
 * `welcome` resets. It knows the handshake and keep-alive; everything else goes to `onMessage`.
 *
 * @example
 * const transport = new Transport({
 *   url: `${serverUrl.replace(/^http/, "ws")}/v1/sync`,
 *   webSocket: () => WebSocket,
 *   hello: () => ({ type: "hello", protocol: PROTOCOL_VERSION, appId, clientId, token }),
 *   onWelcome: ({ userId }) => console.log(`welcomed as ${userId}`),
 *   onMessage: (message) => console.log(message.type),
 *   onDisconnect: () => console.log("offline"),
 *   onError: (error) => console.warn(error.message),
 * });
 * transport.connect();
 */
export class Transport {
  private readonly stateSignal = signal<TransportState>("initial");
  /** Where the socket is; see {@link TransportState}. */
  readonly state: ReadonlySignal<TransportState> = this.stateSignal;
  private socket: WebSocketLike | undefined;
  /** Bumped whenever a socket is let go, so its late events are ignored. */
  private generation = 0;
  private isWanted = false;
  private isClosed = false;
  /** Reconnect attempts since the last `welcome`. */
  private attempt = 0;
  private retryTimer: unknown;
  private pingTimer: unknown;
  /** Waits for a `pong`, or for the `welcome` while opening. */
  private deadlineTimer: unknown;
  /** Graceful closes still waiting for their handshake. */
  private readonly releasing = new Set<Promise<void>>();
  private readonly timers: Timers;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: TransportOptions) {
    this.timers = options.timers ?? SYSTEM_TIMERS;
    this.intervalMs = options.keepAlive?.intervalMs ?? 15_000;
    this.timeoutMs = options.keepAlive?.timeoutMs ?? 10_000;
  }

  /** Connects (at once, even while waiting to retry) and keeps reconnecting until {@link disconnect}. */
  connect(): void {
    if (this.isClosed) return;
    this.isWanted = true;
    if (this.socket !== undefined || this.stateSignal.peek() === "connecting") return;
    this.clear("retryTimer");
    this.open();
  }

  /** Goes offline on purpose: closes the socket and stops reconnecting. */
  disconnect(): void {
    this.isWanted = false;
    this.clear("retryTimer");
    this.drop(true);
  }

  /** Closes for good; resolves once the socket is closed and no timer is left. */
  async close(): Promise<void> {
    this.isClosed = true;
    this.disconnect();
    await Promise.all([...this.releasing]);
  }

  /** Sends a message on a welcomed connection; false when there is none. */
  send(message: ClientMessage): boolean {
    return this.stateSignal.peek() === "connected" && this.sendRaw(message);
  }

  /** Drops the socket and reconnects after the backoff, e.g. when an HTTP request shows the network failing. */
  restart(): void {
    this.drop(false);
  }

  private open(): void {
    const generation = ++this.generation;
    this.stateSignal.value = "connecting";
    this.failure = undefined;
    this.options.debug?.("connecting", { url: this.options.url });
    this.deadline(generation);
    const attach = (WebSocket: WebSocketConstructor) => {
      if (generation !== this.generation) return;
      let socket: WebSocketLike;
      try {
        socket = new WebSocket(this.options.url);
      } catch (error) {
        this.options.onError(
          new DatabaseError("NETWORK", `Could not open a WebSocket to ${this.options.url}: ${messageOf(error)}`),
        );
        this.drop(false);
        return;
      }
      this.socket = socket;
      socket.onopen = () => {
        if (generation === this.generation) this.failure = { isOpen: true };
        this.options.debug?.("socket open, sending hello");
        this.greet(generation);
      };
      socket.onmessage = (event: { readonly data: unknown }) => this.receive(generation, event.data);
      socket.onclose = (event: { readonly code?: number; readonly reason?: string }) =>
        this.lost(generation, closeReason(event));
      socket.onerror = (event: { readonly message?: string; readonly error?: unknown }) =>
        this.lost(generation, errorReason(event));
    };
    const failed = (error: unknown) => {
      if (generation !== this.generation) return;
      this.options.onError(
        new DatabaseError(
          "NETWORK",
          `No WebSocket implementation: ${messageOf(error)}. Pass createClient({ WebSocket }).`,
        ),
      );
      this.drop(false);
    };
    try {
      const WebSocket = this.options.webSocket();
      if (WebSocket instanceof Promise) WebSocket.then(attach, failed);
      else attach(WebSocket);
    } catch (error) {
      failed(error);
    }
  }

  /**
   * A socket failed or closed. Before `welcome` that means the server could not be used at this
   * URL: unreachable, no WebSocket upgrade (a wrong URL, port or proxy), or closed before it
   * answered. Said once per attempt as a NETWORK error with the URL and reason, unless the server
   * already explained itself (an `error` before closing).
   */
  private lost(generation: number, reason: string): void {
    if (generation !== this.generation) return;
    const isWelcomed = this.stateSignal.peek() === "connected";
    this.options.debug?.(isWelcomed ? "disconnected" : "connection failed", { reason });
    // A browser that knows it has no network is offline, which `state` says: not an error.
    const isBrowserOffline = (globalThis as { navigator?: { onLine?: boolean } }).navigator?.onLine === false;
    if (!isWelcomed && this.failure?.isExplained !== true && !isBrowserOffline)
      this.options.onError(this.unreachable(reason));
    this.drop(false);
  }

  /** Why the current attempt failed, as known so far. */
  private failure: { readonly isOpen?: boolean; readonly isExplained?: boolean } | undefined;

  private unreachable(reason: string): DatabaseError {
    return unreachableError(this.options.url, reason, this.failure?.isOpen === true);
  }

  private greet(generation: number): void {
    const refuse = (error: unknown) => {
      if (generation !== this.generation) return;
      this.options.onError(tokenError(error));
      this.drop(false);
    };
    try {
      const hello = this.options.hello();
      if (hello instanceof Promise)
        hello.then((message) => generation === this.generation && this.sendRaw(message), refuse);
      else this.sendRaw(hello);
    } catch (error) {
      refuse(error);
    }
  }

  /**
   * The server warned that the connection's token is about to expire: a fresh one (from
   * `getToken`, through the `hello` it builds) goes on the open socket. Without one, the server
   * closes the connection at expiry and the next connection asks for a token again.
   */
  private refreshToken(generation: number): void {
    const sendToken = (hello: HelloMessage) => {
      if (generation === this.generation && hello.token !== undefined)
        this.sendRaw({ type: "token", token: hello.token });
    };
    try {
      const hello = this.options.hello();
      if (hello instanceof Promise) hello.then(sendToken, (error: unknown) => this.options.onError(tokenError(error)));
      else sendToken(hello);
    } catch (error) {
      this.options.onError(tokenError(error));
    }
  }

  private receive(generation: number, data: unknown): void {
    if (generation !== this.generation) return;
    const parsed = parseServerMessage(data as string, { maxBytes: MAX_SERVER_FRAME_BYTES });
    const isWelcomed = this.stateSignal.peek() === "connected";
    if (parsed.error) {
      // Before the welcome, a frame we cannot read means something else answers at this URL.
      this.options.onError(
        isWelcomed
          ? parsed.error
          : this.unreachable(`it does not speak the Trellis sync protocol: ${parsed.error.message}`),
      );
      this.failure = { ...this.failure, isExplained: true };
      this.drop(false);
      return;
    }
    const message = parsed.data;
    if (!isWelcomed) {
      if (message.type === "welcome") return this.welcome(generation, message);
      this.failure = { ...this.failure, isExplained: true };
      this.options.onError(
        message.type === "error"
          ? new DatabaseError(
              message.code,
              message.message,
              message.details === undefined ? undefined : { ...message.details },
            )
          : new DatabaseError("PROTOCOL", `The server sent "${message.type}" before "welcome".`),
      );
      this.drop(false);
      return;
    }
    switch (message.type) {
      case "pong":
        this.clear("deadlineTimer");
        this.schedulePing(generation);
        return;
      case "welcome":
        this.options.onError(new DatabaseError("PROTOCOL", `The server sent a second "welcome".`));
        this.drop(false);
        return;
      case "tokenAccepted":
        return;
      case "error":
        if (message.details?.reason === "tokenExpiring") return this.refreshToken(generation);
        this.options.onMessage(message);
        return;
      default:
        this.options.onMessage(message);
    }
  }

  private welcome(generation: number, message: WelcomeMessage): void {
    this.options.debug?.("welcome", { userId: message.userId });
    this.clear("deadlineTimer");
    this.attempt = 0;
    batch(() => {
      this.stateSignal.value = "connected";
      this.options.onWelcome(message);
    });
    this.schedulePing(generation);
  }

  private schedulePing(generation: number): void {
    this.clear("pingTimer");
    this.pingTimer = this.timers.setTimeout(() => {
      this.pingTimer = undefined;
      if (generation !== this.generation) return;
      this.sendRaw({ type: "ping" });
      this.deadline(generation);
    }, this.intervalMs);
  }

  /** No answer within the timeout means a dead or half-open socket. */
  private deadline(generation: number): void {
    this.clear("deadlineTimer");
    this.deadlineTimer = this.timers.setTimeout(() => {
      this.deadlineTimer = undefined;
      this.lost(generation, `no answer within ${this.timeoutMs} ms`);
    }, this.timeoutMs);
  }

  /** Lets the socket go (gracefully or not), goes offline, and schedules a retry if still wanted. */
  private drop(isGraceful: boolean): void {
    this.generation++;
    this.clear("pingTimer");
    this.clear("deadlineTimer");
    const socket = this.socket;
    this.socket = undefined;
    const released = socket && releaseSocket(socket, isGraceful, this.timers, this.timeoutMs);
    if (released !== undefined) {
      this.releasing.add(released);
      void released.then(() => this.releasing.delete(released));
    }
    const wasConnected = this.stateSignal.peek() === "connected";
    batch(() => {
      this.stateSignal.value = "offline";
      if (wasConnected) this.options.onDisconnect();
    });
    if (this.isWanted && !this.isClosed && this.retryTimer === undefined) {
      const delay = backoffDelay(this.attempt++, this.options.random ?? Math.random, this.options.reconnect);
      this.options.debug?.("reconnecting", { inMs: delay, attempt: this.attempt });
      this.retryTimer = this.timers.setTimeout(() => {
        this.retryTimer = undefined;
        if (this.isWanted && !this.isClosed) this.open();
      }, delay);
    }
  }

  private sendRaw(message: ClientMessage): boolean {
    const socket = this.socket;
    if (socket === undefined || socket.readyState !== OPEN) return false;
    socket.send(JSON.stringify(message));
    return true;
  }

  private clear(timer: "retryTimer" | "pingTimer" | "deadlineTimer"): void {
    if (this[timer] === undefined) return;
    this.timers.clearTimeout(this[timer]);
    this[timer] = undefined;
  }
}
