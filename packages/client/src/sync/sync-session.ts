import type { ReadonlySignal } from "@preact/signals-core";
import { type ClientMessage, type Clock, decodeHlc, type HelloMessage, helloMessage } from "@trellis/core";
import type { DebugLog } from "./debug-log.js";
import { describeMessage } from "./message-router.js";
import { syncUrl } from "./server-url.js";
import type { SyncErrors } from "./sync-errors.js";
import type { ReconnectOptions } from "./reconnect-backoff.js";
import type { Timers } from "./timers.js";
import { type KeepAliveOptions, type SyncMessage, Transport, type TransportState } from "./transport.js";
import { resolveWebSocket, type WebSocketConstructor } from "./web-socket.js";

export interface SyncSessionOptions {
  readonly clock: Clock;
  readonly serverUrl: string;
  readonly appId: string;
  readonly clientId: string;
  readonly userId: string | undefined;
  /** The JWT to present, if any; asked for on every connection and HTTP request. */
  readonly token: () => string | undefined | Promise<string | undefined>;
  readonly errors: SyncErrors;
  /** A connection was welcomed (runs in the same batch as the state becoming connected). */
  readonly onWelcome: (userId: string | null) => void;
  readonly onMessage: (message: SyncMessage) => void;
  /** A welcomed connection was lost. */
  readonly onDisconnect: () => void;
  /** Settles once stored data is loaded: connecting waits for it, so the restored outbox and cursors are used. */
  readonly ready?: Promise<unknown> | undefined;
  readonly webSocket?: WebSocketConstructor | undefined;
  readonly reconnect?: ReconnectOptions | undefined;
  readonly keepAlive?: KeepAliveOptions | undefined;
  readonly timers?: Timers | undefined;
  /** In [0, 1): the jitter of reconnect delays. */
  readonly random?: (() => number) | undefined;
  /** Hears connection steps, pushes, acks and query syncs (see `createClient({ debug })`). */
  readonly debug?: DebugLog | undefined;
}

/**
 * A client's session with its server: the transport to `/v1/sync`, opened once stored data is
 * loaded, the `hello` it opens with (the token asked for each time) and the `welcome` that
 * answers it (the server's clock, the user the server acts for).
 *
 * @example
 * const session = new SyncSession({
 *   clock,
 *   serverUrl,
 *   appId,
 *   clientId,
 *   userId,
 *   token: () => token,
 *   errors,
 *   onWelcome: (userId) => console.log(`welcomed as ${userId}`),
 *   onMessage: (message) => console.log(message.type),
 *   onDisconnect: () => console.log("offline"),
 * });
 * session.connect();
 * session.send({ type: "ping" });
 */
export class SyncSession {
  /** Where the socket is. */
  readonly state: ReadonlySignal<TransportState>;
  private readonly transport: Transport;
  private welcomedUserId: string | null | undefined;
  private wantsConnection = false;
  private isRestoring = false;

  constructor(private readonly options: SyncSessionOptions) {
    this.transport = new Transport({
      url: syncUrl(options.serverUrl),
      webSocket: () => resolveWebSocket(options.webSocket),
      hello: () => this.hello(),
      onWelcome: ({ serverHlc, userId }) => {
        options.errors.clear();
        const decoded = decodeHlc(serverHlc);
        const received = decoded.error ?? options.clock.receive(decoded.data).error;
        if (received !== undefined) options.errors.report(received);
        this.welcomedUserId = userId;
        options.onWelcome(userId);
      },
      onMessage: options.onMessage,
      onDisconnect: options.onDisconnect,
      onError: (error) => options.errors.report(error),
      ...(options.timers === undefined ? {} : { timers: options.timers }),
      ...(options.random === undefined ? {} : { random: options.random }),
      ...(options.reconnect === undefined ? {} : { reconnect: options.reconnect }),
      ...(options.keepAlive === undefined ? {} : { keepAlive: options.keepAlive }),
      debug: options.debug,
    });
    this.state = this.transport.state;
    if (options.ready !== undefined) {
      this.isRestoring = true;
      void options.ready.then(() => {
        this.isRestoring = false;
        if (this.wantsConnection) this.transport.connect();
      });
    }
  }

  /** The user id the server acts for, once welcomed (null: anonymous development connection). */
  get userId(): string | null | undefined {
    return this.welcomedUserId;
  }

  connect(): void {
    this.wantsConnection = true;
    if (this.isRestoring) return;
    this.transport.connect();
  }

  disconnect(): void {
    this.wantsConnection = false;
    this.transport.disconnect();
  }

  /** Closes the socket and clears every timer. */
  close(): Promise<void> {
    return this.transport.close();
  }

  /** Drops the socket and reconnects after the backoff. */
  restart(): void {
    this.transport.restart();
  }

  /** Sends on the socket; false when it is not connected. */
  send(message: ClientMessage): boolean {
    const debug = this.options.debug;
    if (debug !== undefined) debug(`send ${message.type}`, describeMessage(message));
    return this.transport.send(message);
  }

  private hello(): HelloMessage | Promise<HelloMessage> {
    const { appId, clientId, userId } = this.options;
    const build = (token: string | undefined): HelloMessage => helloMessage({ appId, clientId, token, userId });
    const token = this.options.token();
    return token instanceof Promise ? token.then(build) : build(token);
  }
}
