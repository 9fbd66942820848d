import {
  type ClientMessage,
  type DatabaseError,
  type HelloMessage,
  parseClientMessage,
  type RoomAddress,
  type ServerMessage,
} from "@trellis/core";
import type { WebSocket } from "ws";
import type { AppHub, Peer } from "./app-hub.js";
import type { AppHubs } from "./app-hubs.js";
import type { Authenticate } from "./auth.js";
import type { Log } from "./log.js";
import type { RoomError, RoomMember } from "./rooms.js";
import { StatusCoalescer } from "./status-coalescer.js";
import { TokenBucket } from "./token-bucket.js";

/** What every session of a server shares. */
export interface SessionContext {
  readonly hubs: AppHubs;
  readonly authenticate: Authenticate;
  readonly maxFrameBytes: number;
  readonly log: Log;
  /** The rate of room messages one connection may send. */
  readonly roomRate: { readonly messagesPerSecond: number; readonly burst: number };
  /** Each user's status reaches a connection at most once per interval. */
  readonly statusIntervalMs: number;
}

/** Malformed frames a connection may send before it is closed; one is a bug, many are an attack. */
const MAX_PROTOCOL_ERRORS = 20;
/** Frames a client may send before its token is checked; a client waits for `welcome` before pushing. */
const MAX_WAITING_FRAMES = 1_000;
/**
 * Unsent bytes a connection may have queued before it is dropped as too slow. It resumes from
 * its cursors when it comes back, which costs less than an unbounded backlog on the server.
 */
const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

/** WebSocket close codes (RFC 6455). */
const POLICY_VIOLATION = 1008;
const TRY_AGAIN_LATER = 1013;
const UNSUPPORTED_DATA = 1003;

/**
 * One sync connection: handshake and authentication, then subscriptions and pushes handed to
 * its app's hub. Every frame is parsed at the boundary; a bad one gets a PROTOCOL error and the
 * connection keeps serving, except before `hello` or after too many bad frames.
 */
export class Session implements Peer {
  private hub: AppHub | undefined;
  private phase: "greeting" | "authenticating" | "ready" | "closed" = "greeting";
  /** Frames that arrive while the token is checked, handled in order after `welcome`. */
  private waiting: string[] = [];
  private protocolErrors = 0;
  /** Who this connection is in rooms: set by `welcome`. */
  private member: RoomMember | undefined;
  private readonly roomMessages: TokenBucket;
  private readonly statuses: StatusCoalescer;

  constructor(
    private readonly socket: WebSocket,
    private readonly context: SessionContext,
  ) {
    this.roomMessages = new TokenBucket(context.roomRate.messagesPerSecond, context.roomRate.burst);
    this.statuses = new StatusCoalescer(() => socket.bufferedAmount, (message) => this.sendNow(message), context.statusIntervalMs);
    socket.on("message", (data, isBinary) => this.receive(data, isBinary));
    socket.on("close", () => this.end());
    socket.on("error", () => this.end());
  }

  send(message: ServerMessage, text?: string): void {
    if (this.phase === "closed" || this.statuses.offer(message)) return;
    this.sendNow(message, text);
  }

  private sendNow(message: ServerMessage, text?: string): void {
    if (this.phase === "closed" || this.socket.readyState !== this.socket.OPEN) return;
    if (this.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.context.log("warn", "Dropped a connection that does not keep up with its changes", { appId: this.hub?.appId });
      this.socket.close(TRY_AGAIN_LATER, "too slow");
      this.end();
      return;
    }
    this.socket.send(text ?? JSON.stringify(message));
  }

  private receive(data: unknown, isBinary: boolean): void {
    if (this.phase === "closed") return;
    if (isBinary) {
      this.send({ type: "error", code: "PROTOCOL", message: "Binary frames are not part of the protocol; send JSON text frames." });
      this.socket.close(UNSUPPORTED_DATA, "binary frame");
      this.end();
      return;
    }
    const text = textOf(data);
    if (this.phase !== "authenticating") return this.handle(text);
    if (this.waiting.length >= MAX_WAITING_FRAMES) return this.reject("PROTOCOL", `More than ${MAX_WAITING_FRAMES} messages before "welcome".`);
    this.waiting.push(text);
  }

  private handle(text: string): void {
    const parsed = parseClientMessage(text, { maxBytes: this.context.maxFrameBytes });
    if (parsed.error) return this.refuse(parsed.error);
    const message = parsed.data;
    if (this.phase === "greeting") {
      if (message.type !== "hello") return this.reject("PROTOCOL", `The first message must be "hello", got "${message.type}".`);
      void this.greet(message);
      return;
    }
    this.dispatch(message);
  }

  private dispatch(message: ClientMessage): void {
    const hub = this.hub!;
    switch (message.type) {
      case "hello":
        return this.refuse({ code: "PROTOCOL", message: `"hello" was already received on this connection.`, details: undefined });
      case "subscribe":
        return hub.subscribe(this, message.queryId, message.query, message.cursor);
      case "unsubscribe":
        return hub.unsubscribe(this, message.queryId);
      case "ping":
        return this.send({ type: "pong" });
      case "push": {
        const { batchId } = message;
        void hub.push(this, message.triples, this.member?.userId).then(({ data, error }) => {
          if (error) this.send({ type: "error", code: error.code, message: error.message, details: { ...error.details, batchId } });
          else this.send({ type: "ack", batchId, cursor: data.cursor });
        });
        return;
      }
      default:
        return this.room(hub, message);
    }
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
    if (error !== undefined) this.send({ type: "error", code: error.code, message: error.message, ...(error.details === undefined ? {} : { details: error.details }) });
  }

  private async greet(hello: HelloMessage): Promise<void> {
    this.phase = "authenticating";
    const user = await this.context.authenticate({ token: hello.token, userId: hello.userId });
    if ((this.phase as Session["phase"]) === "closed") return;
    if (user.error) return this.reject(user.error.code, user.error.message);
    const hub = this.context.hubs.get(hello.appId);
    if (hub.error) return this.reject(hub.error.code, hub.error.message);
    this.hub = hub.data;
    this.member = { userId: user.data, userKey: user.data ?? `anon:${hello.clientId}` };
    hub.data.attach(this);
    this.phase = "ready";
    this.send({ type: "welcome", serverHlc: hub.data.now(), userId: user.data });
    const waiting = this.waiting;
    this.waiting = [];
    for (const text of waiting) this.handle(text);
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

  /** Refuses the handshake: an error, then a close. */
  private reject(code: DatabaseError["code"], message: string): void {
    this.send({ type: "error", code, message });
    this.socket.close(POLICY_VIOLATION, code);
    this.end();
  }

  private end(): void {
    if (this.phase === "closed") return;
    this.phase = "closed";
    this.waiting = [];
    this.statuses.stop();
    this.hub?.detach(this);
  }
}

function textOf(data: unknown): string {
  if (typeof data === "string") return data;
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]).toString("utf8");
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString("utf8");
  return (data as Buffer).toString("utf8");
}
