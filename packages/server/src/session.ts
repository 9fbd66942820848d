import {
  type ClientMessage,
  type DatabaseError,
  type HelloMessage,
  parseClientMessage,
  type RoomAddress,
  type ServerMessage,
} from "@trellis/core";
import type { WebSocket } from "ws";
import type { Admission } from "./admission.js";
import type { AppHub } from "./app-hub.js";
import type { Peer } from "./peer.js";
import type { OpenApps } from "./open-apps.js";
import type { Authenticate } from "./auth.js";
import type { FaultHook } from "./faults.js";
import type { ResolvedLimits } from "./limits.js";
import type { Log } from "./log.js";
import type { RuleUser } from "./permissions/permissions.js";
import type { RoomError, RoomMember } from "./rooms.js";
import { StatusCoalescer } from "./status-coalescer.js";
import { TokenBucket } from "./token-bucket.js";
import { TokenLifetime } from "./token-lifetime.js";
import { receiveCostMs, refusedCostMs, type WorkShare, type WorkShares } from "./work-shares.js";

/** What every session of a server shares. */
export interface SessionContext {
  readonly openApps: OpenApps;
  readonly authenticate: Authenticate;
  readonly maxFrameBytes: number;
  readonly log: Log;
  /** The rate of room messages one connection may send. */
  readonly roomRate: { readonly messagesPerSecond: number; readonly burst: number };
  /** Each user's status reaches a connection at most once per interval. */
  readonly statusIntervalMs: number;
  readonly limits: ResolvedLimits;
  /** Counts connections per address; told when this one is welcomed and when it ends. */
  readonly admission: Admission;
  /** Each user's share of the server's time. */
  readonly work: WorkShares;
  /** Running counts for `/v1/metrics`. */
  readonly counters: { throttled: number };
  readonly fault?: FaultHook | undefined;
}

/** Malformed frames a connection may send before it is closed; one is a bug, many are an attack. */
const MAX_PROTOCOL_ERRORS = 20;
/** Frames a client may send before its token is checked; a client waits for `welcome` before pushing. */
const MAX_WAITING_FRAMES = 1_000;
/** Their size together (in UTF-16 code units, close enough to bytes for a bound). */
const MAX_WAITING_BYTES = 4 * 1024 * 1024;

/** WebSocket close codes (RFC 6455). */
const POLICY_VIOLATION = 1008;
const INTERNAL_ERROR = 1011;
const TRY_AGAIN_LATER = 1013;
const UNSUPPORTED_DATA = 1003;

/**
 * One sync connection: handshake and authentication, then subscriptions and pushes handed to
 * its app's hub. Every frame is parsed at the boundary; a bad one gets a PROTOCOL error and the
 * connection keeps serving, except before `hello` or after too many bad frames. A handler that
 * throws (a bug, not bad input) answers that message with INTERNAL and the connection goes on.
 */
export class Session implements Peer {
  private hub: AppHub | undefined;
  private phase: "greeting" | "authenticating" | "ready" | "closed" = "greeting";
  /** Frames that arrive while the token is checked, handled in order after `welcome`. */
  private waiting: Array<string | Uint8Array> = [];
  private waitingBytes = 0;
  private protocolErrors = 0;
  /** Who this connection is in rooms: set by `welcome`. */
  private member: RoomMember | undefined;
  /** Who this connection is to permission rules: set by `welcome`. */
  private user: RuleUser = { id: null, claims: {} };
  private readonly roomMessages: TokenBucket;
  /** Its user's share of the server's time, set by `welcome`. */
  private work: WorkShare | undefined;
  private readonly statuses: StatusCoalescer;
  private readonly helloDeadline: ReturnType<typeof setTimeout>;
  private readonly token: TokenLifetime;
  /** Whether the frame being handled was refused (answered with a client's-fault error): it costs more. */
  private wasRefused = false;

  constructor(
    private readonly socket: WebSocket,
    private readonly context: SessionContext,
    private readonly address: string,
  ) {
    this.roomMessages = new TokenBucket(context.roomRate.messagesPerSecond, context.roomRate.burst);
    this.statuses = new StatusCoalescer(
      () => socket.bufferedAmount,
      (message) => this.sendNow(message),
      context.statusIntervalMs,
    );
    this.token = new TokenLifetime(context.limits.tokenRefreshMs, {
      expiring: (refreshWithinMs) =>
        this.send({
          type: "error",
          code: "UNAUTHORIZED",
          message: `The connection's token expires in ${Math.round(refreshWithinMs / 1000)} s: send a fresh one ("token"), or the connection closes then.`,
          details: { reason: "tokenExpiring", refreshWithinMs },
        }),
      expired: () =>
        this.reject(
          "UNAUTHORIZED",
          "The connection's token expired and no fresh one came; reconnect with a new token.",
          { reason: "tokenExpired" },
        ),
    });
    this.helloDeadline = setTimeout(() => {
      if (this.phase !== "ready")
        this.reject(
          "PROTOCOL",
          `No "hello" answered within ${context.limits.helloTimeoutMs} ms; the connection is closed.`,
        );
    }, context.limits.helloTimeoutMs);
    socket.on("message", (data, isBinary) => this.receive(data, isBinary));
    socket.on("close", () => this.end());
    socket.on("error", () => this.end());
  }

  send(message: ServerMessage, text?: string): void {
    if (
      message.type === "error" &&
      (message.code === "PROTOCOL" || message.code === "VALIDATION" || message.code === "UNAUTHORIZED")
    )
      this.wasRefused = true;
    if (this.phase === "closed" || this.statuses.offer(message)) return;
    this.sendNow(message, text);
  }

  /** Closes the connection from the server side (its app failed, say); the client reconnects. */
  drop(reason: string, closeCode = INTERNAL_ERROR): void {
    if (this.phase === "closed") return;
    this.socket.close(closeCode, reason);
    this.end();
  }

  /** Unsent bytes queued on the socket. */
  get bufferedBytes(): number {
    return this.socket.bufferedAmount;
  }

  /** Drops a connection whose backlog is too large; it resumes from its cursors when it comes back. */
  dropSlow(why: string): void {
    if (this.phase === "closed") return;
    this.context.log("warn", `Dropped a connection that does not keep up with its changes (${why})`, {
      appId: this.hub?.appId,
    });
    this.socket.close(TRY_AGAIN_LATER, "too slow");
    this.end();
  }

  private sendNow(message: ServerMessage, text?: string): void {
    if (this.phase === "closed" || this.socket.readyState !== this.socket.OPEN) return;
    if (this.socket.bufferedAmount > this.context.limits.bufferedBytesPerConnection)
      return this.dropSlow("its own backlog");
    this.socket.send(text ?? JSON.stringify(message));
  }

  private receive(data: unknown, isBinary: boolean): void {
    if (this.phase === "closed") return;
    const started = performance.now();
    let isCounted = true;
    let bytes = 0;
    this.wasRefused = false;
    try {
      if (isBinary) {
        this.send({
          type: "error",
          code: "PROTOCOL",
          message: "Binary frames are not part of the protocol; send JSON text frames.",
        });
        this.socket.close(UNSUPPORTED_DATA, "binary frame");
        this.end();
        return;
      }
      const frame = frameOf(data);
      bytes = frame.length;
      // Writes are bounded by the frame limit and stored in the group commit; bulk writes by one
      // user must stay fast, so their parsing does not count against its share.
      if (this.phase !== "authenticating") {
        isCounted = this.handle(frame) !== "push";
        return;
      }
      this.waitingBytes += frame.length;
      if (this.waiting.length >= MAX_WAITING_FRAMES || this.waitingBytes > MAX_WAITING_BYTES) {
        return this.reject(
          "PROTOCOL",
          `More than ${MAX_WAITING_FRAMES} messages or ${MAX_WAITING_BYTES / 1024 / 1024} MiB before "welcome".`,
        );
      }
      this.waiting.push(frame);
    } catch (error) {
      this.failed("frame", error);
    } finally {
      if (isCounted) {
        const ms = performance.now() - started + receiveCostMs(bytes);
        this.charge(this.wasRefused ? refusedCostMs(ms) : ms);
      }
    }
  }

  /**
   * Counts the server time a message took against the connection's share; over it, the socket is
   * not read until the share has refilled, so its next messages wait in the network, not in
   * line ahead of everyone else's.
   */
  private charge(ms: number): void {
    const work = this.work;
    // Before `welcome` a connection only says hello (frames sent meanwhile wait, then count).
    if (work === undefined || this.phase === "closed") return;
    work.spend(ms);
    if (this.socket.isPaused || work.waitMs() === 0) return;
    this.context.counters.throttled++;
    this.pauseWhileOver(work);
  }

  private pauseWhileOver(work: WorkShare): void {
    this.socket.pause();
    const resume = setTimeout(() => {
      if (this.phase === "closed") return;
      // Another connection of the user may have spent the share meanwhile.
      if (work.waitMs() > 0) return this.pauseWhileOver(work);
      this.socket.resume();
    }, work.waitMs());
    resume.unref();
  }

  /** Handles one frame; answers the type of the message it held (undefined for a malformed one). */
  private handle(frame: string | Uint8Array): ClientMessage["type"] | undefined {
    const parsed = parseClientMessage(frame, { maxBytes: this.context.maxFrameBytes });
    if (parsed.error) {
      this.refuse(parsed.error);
      return undefined;
    }
    const message = parsed.data;
    if (this.phase === "greeting") {
      if (message.type !== "hello")
        this.reject("PROTOCOL", `The first message must be "hello", got "${message.type}".`);
      else void this.greet(message).catch((error: unknown) => this.failed("hello", error));
      return message.type;
    }
    try {
      this.context.fault?.(message.type);
      this.dispatch(message);
    } catch (error) {
      this.failed(message.type, error, detailsOf(message));
    }
    return message.type;
  }

  private dispatch(message: ClientMessage): void {
    const hub = this.hub!;
    switch (message.type) {
      case "hello":
        return this.refuse({
          code: "PROTOCOL",
          message: `"hello" was already received on this connection.`,
          details: undefined,
        });
      case "subscribe":
        return this.subscribe(hub, message.queryId, message);
      case "unsubscribe":
        return hub.unsubscribe(this, message.queryId);
      case "ping":
        return this.send({ type: "pong" });
      case "token":
        void this.refreshToken(message.token).catch((error: unknown) => this.failed("token", error));
        return;
      case "push": {
        const { batchId } = message;
        void hub.push(this, message.triples, this.user).then(({ data, error }) => {
          if (error)
            this.send({
              type: "error",
              code: error.code,
              message: error.message,
              details: { ...error.details, batchId },
            });
          else this.send({ type: "ack", batchId, cursor: data.cursor });
        });
        return;
      }
      default:
        return this.room(hub, message);
    }
  }

  private subscribe(hub: AppHub, queryId: string, message: Extract<ClientMessage, { type: "subscribe" }>): void {
    const limit = this.context.limits.subscriptionsPerConnection;
    if (!hub.isSubscribed(this, queryId) && hub.subscriptionCount(this) >= limit) {
      return this.send({
        type: "error",
        code: "VALIDATION",
        message: `A connection may hold at most ${limit} live queries; unsubscribe from one before starting "${queryId}".`,
        details: { queryId, limit },
      });
    }
    hub.subscribe(this, queryId, message.query, message.cursor, message.held);
  }

  private room(hub: AppHub, message: Extract<ClientMessage, RoomAddress>): void {
    // A leave only ever frees state, so it is never dropped.
    if (message.type !== "leave" && !this.roomMessages.take()) {
      const { messagesPerSecond, burst } = this.context.roomRate;
      return this.roomAnswer({
        code: "VALIDATION",
        message: `Too many room messages: at most ${messagesPerSecond} a second (${burst} at once); this "${message.type}" was dropped.`,
        details: { roomType: message.roomType, roomId: message.roomId, messagesPerSecond, burst },
      });
    }
    switch (message.type) {
      case "join":
        if (!hub.mayJoin(message.roomType, message.roomId, this.user)) {
          return this.roomAnswer({
            code: "UNAUTHORIZED",
            message: `The rules do not let this user join ${message.roomType}${message.roomId === "" ? "" : ` ${JSON.stringify(message.roomId)}`}.`,
            details: { roomType: message.roomType, roomId: message.roomId },
          });
        }
        return this.roomAnswer(hub.rooms.join(this, this.member!, message, message.userStatus));
      case "leave":
        return this.roomAnswer(hub.rooms.leave(this, message));
      case "emit":
        return this.roomAnswer(hub.rooms.emit(this, message, message.event, message.data));
      case "setUserStatus":
        return this.roomAnswer(hub.rooms.setUserStatus(this, message, message.status));
      case "setRoomStatus":
        return this.roomAnswer(hub.rooms.setRoomStatus(this, message, message.status));
    }
  }

  /** A refused room message: an error naming the room; the connection keeps serving. */
  private roomAnswer(error: RoomError | undefined): void {
    if (error !== undefined)
      this.send({
        type: "error",
        code: error.code,
        message: error.message,
        ...(error.details === undefined ? {} : { details: error.details }),
      });
  }

  private async greet(hello: HelloMessage): Promise<void> {
    this.phase = "authenticating";
    this.context.fault?.("hello");
    const user = await this.context.authenticate({ token: hello.token, userId: hello.userId, appId: hello.appId });
    if ((this.phase as Session["phase"]) === "closed") return;
    if (user.error) return this.reject(user.error.code, user.error.message);
    const hub = this.context.openApps.get(hello.appId);
    if (hub.error)
      return this.reject(
        hub.error.code,
        hub.error.message,
        hub.error.details,
        hub.error.code === "STORAGE" ? TRY_AGAIN_LATER : POLICY_VIOLATION,
      );
    const perApp = this.context.limits.connectionsPerApp;
    if (hub.data.connectionCount >= perApp) {
      return this.reject(
        "NETWORK",
        `App "${hello.appId}" holds its limit of ${perApp} connections; try again later.`,
        { limit: perApp },
        TRY_AGAIN_LATER,
      );
    }
    clearTimeout(this.helloDeadline);
    this.hub = hub.data;
    this.member = { userId: user.data.userId, userKey: user.data.userId ?? `anon:${hello.clientId}` };
    this.user = { id: user.data.userId, claims: user.data.claims };
    this.work = this.context.work.acquire(this.workKey());
    hub.data.attach(this, this.user, { clientId: hello.clientId, since: Date.now() });
    this.phase = "ready";
    this.context.admission.welcomed(this.address);
    this.token.follow(user.data.expiresAt);
    this.send({ type: "welcome", serverHlc: hub.data.now(), userId: user.data.userId });
    const waiting = this.waiting;
    this.waiting = [];
    for (const frame of waiting) this.handle(frame);
  }

  /** Whose share of the server's time this connection spends: its user's, in its app. */
  private workKey(): string {
    return `${this.hub!.appId}\u0000${this.member!.userKey}`;
  }

  /** A fresh token for this connection: it must verify and name the same user. */
  private async refreshToken(token: string): Promise<void> {
    const userId = this.member!.userId;
    const user = await this.context.authenticate({ token, userId: userId ?? undefined, appId: this.hub?.appId });
    if ((this.phase as Session["phase"]) === "closed") return;
    if (user.error) return this.reject("UNAUTHORIZED", user.error.message, { reason: "tokenRefused" });
    if (user.data.userId !== userId) {
      return this.reject(
        "UNAUTHORIZED",
        "The fresh token names another user; a connection keeps its user. Reconnect to switch users.",
        { reason: "tokenRefused" },
      );
    }
    this.token.follow(user.data.expiresAt);
    this.send({ type: "tokenAccepted" });
  }

  /** A malformed frame: say what is wrong and keep serving, unless it keeps happening. */
  private refuse(error: Pick<DatabaseError, "code" | "message" | "details">): void {
    if (this.phase === "greeting") return this.reject(error.code, error.message);
    // The details (the path of the offending field, the frame limit) tell a client author where to look.
    const details = error.details === undefined ? {} : { details: error.details };
    this.send({ type: "error", code: error.code, message: error.message, ...details });
    if (++this.protocolErrors >= MAX_PROTOCOL_ERRORS) {
      this.context.log("warn", "Closed a connection that sent too many malformed frames", { appId: this.hub?.appId });
      this.socket.close(POLICY_VIOLATION, "too many malformed frames");
      this.end();
    }
  }

  /** A handler threw: a bug, logged; the message gets INTERNAL and the connection goes on. */
  private failed(handler: string, error: unknown, details: Readonly<Record<string, unknown>> = {}): void {
    this.context.log("error", "A message handler failed", {
      appId: this.hub?.appId,
      handler,
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    // Before `welcome`, there is no connection to go on with.
    if (this.phase !== "ready")
      return this.reject(
        "INTERNAL",
        `The server failed to handle "${handler}"; see its log. Reconnect.`,
        { type: handler },
        INTERNAL_ERROR,
      );
    this.send({
      type: "error",
      code: "INTERNAL",
      message: `The server failed to handle "${handler}"; see its log. The connection goes on.`,
      details: { ...details, type: handler },
    });
  }

  /** Refuses the handshake (or ends the connection): an error, then a close. */
  private reject(
    code: DatabaseError["code"],
    message: string,
    details?: Readonly<Record<string, unknown>>,
    closeCode = POLICY_VIOLATION,
  ): void {
    if (this.phase === "closed") return;
    this.send({ type: "error", code, message, ...(details === undefined ? {} : { details }) });
    this.socket.close(closeCode, code);
    this.end();
  }

  private end(): void {
    if (this.phase === "closed") return;
    const wasWelcomed = this.phase === "ready";
    this.phase = "closed";
    this.waiting = [];
    clearTimeout(this.helloDeadline);
    this.token.stop();
    this.statuses.stop();
    this.context.admission.release(this.address, wasWelcomed);
    if (this.work !== undefined) this.context.work.release(this.workKey());
    this.hub?.detach(this);
  }
}

/** Ids of a message that tell its sender which request an error answers. */
function detailsOf(message: ClientMessage): Record<string, unknown> {
  if ("queryId" in message) return { queryId: message.queryId };
  if ("batchId" in message) return { batchId: message.batchId };
  if ("roomType" in message) return { roomType: message.roomType, roomId: message.roomId };
  return {};
}

/** A frame as `ws` hands it over: its bytes are checked before they are decoded (see `parseClientMessage`). */
function frameOf(data: unknown): string | Uint8Array {
  if (typeof data === "string") return data;
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data as Uint8Array;
}
