import type { DatabaseErrorCode } from "../errors.js";
import type { NormalizedQuery } from "../query/normalized-query.js";
import type { DocumentRef, Triple } from "../triples.js";

/**
 * Version of the sync protocol these message types describe. A client names it in `hello`; a
 * peer speaking another version is refused with a PROTOCOL error (see docs/protocol.md).
 */
export const PROTOCOL_VERSION = 1;

/** Default largest frame, in UTF-8 bytes, that {@link parseClientMessage} accepts: 1 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

// ---- client → server ----

/** First message on a connection: who the client is and which app it syncs. */
export interface HelloMessage {
  readonly type: "hello";
  /** Always {@link PROTOCOL_VERSION}. */
  readonly protocol: number;
  /** App id (one database per app on the server): 1-64 characters of [A-Za-z0-9_-]. */
  readonly appId: string;
  /** The client's replica id (its HLC node id): 1-64 characters of [A-Za-z0-9_-]. */
  readonly clientId: string;
  /** A JWT; when the server has auth configured it decides the user id. */
  readonly token?: string;
  /** Development mode only: the user id the client claims (ignored when auth is configured). */
  readonly userId?: string;
}

/**
 * A `hello` with only the optional fields that are set (messages are plain JSON: no `undefined`).
 *
 * @example helloMessage({ appId: "todos", clientId, token }) // { type: "hello", protocol: 1, appId: "todos", clientId, token }
 */
export function helloMessage(fields: {
  appId: string;
  clientId: string;
  token?: string | undefined;
  userId?: string | undefined;
}): HelloMessage {
  const { appId, clientId, token, userId } = fields;
  return {
    type: "hello",
    protocol: PROTOCOL_VERSION,
    appId,
    clientId,
    ...(token === undefined ? {} : { token }),
    ...(userId === undefined ? {} : { userId }),
  };
}

/** Starts (or resumes, with a cursor) a live query. Answered by `snapshot`, then `changes`. */
export interface SubscribeMessage {
  readonly type: "subscribe";
  /** The client's name for this subscription: 1-64 characters of [A-Za-z0-9_-]. */
  readonly queryId: string;
  readonly query: NormalizedQuery;
  /** The last server cursor the client saw for this query, or null to start from nothing. */
  readonly cursor: string | null;
  /**
   * With a cursor: ids of the documents of the query's collection the client holds that match
   * it and have no writes waiting to be pushed (at most {@link MAX_HELD_IDS}). Under permission
   * rules, those the user may no longer read (or the server does not hold) come back in the
   * snapshot's `revoked`.
   */
  readonly held?: readonly string[];
}

/** The most ids a `subscribe` may list in `held` (a client sends none rather than more). */
export const MAX_HELD_IDS = 10_000;

/** Stops a live query. */
export interface UnsubscribeMessage {
  readonly type: "unsubscribe";
  readonly queryId: string;
}

/** Local writes, in outbox order. Answered by `ack` once durable. Re-sending is harmless. */
export interface PushMessage {
  readonly type: "push";
  /** The client's name for this batch: 1-64 characters of [A-Za-z0-9_-]. */
  readonly batchId: string;
  readonly triples: readonly Triple[];
}

/** Keep-alive. Answered by `pong`. */
export interface PingMessage {
  readonly type: "ping";
}

/**
 * A fresh token for an open connection, sent when the server says the current one is about to
 * expire (an `error` with code UNAUTHORIZED and `details.reason` "tokenExpiring"). It must name
 * the same user. Answered by `tokenAccepted`; a refused token closes the connection.
 */
export interface TokenMessage {
  readonly type: "token";
  readonly token: string;
}

// ---- rooms (see docs/design/010-rooms-plan.md) ----

/** A JSON object of status keys and their values (a room or user status, or part of one). */
export type StatusValues = Readonly<Record<string, unknown>>;

/** Names a room: its type (a room of the schema) and its id ("" is the app-wide room). */
export interface RoomAddress {
  /** The room type: a name of the schema's `rooms` (letters, digits, _; not starting with a digit). */
  readonly roomType: string;
  /** "" for the app-wide room, else 1-256 characters. */
  readonly roomId: string;
}

/** Joins a room with the client's status. Answered by `roomState`. Joining again is harmless. */
export interface JoinMessage extends RoomAddress {
  readonly type: "join";
  readonly userStatus: StatusValues;
}

/** Leaves a room; the other members see the user's status go if this was its last connection there. */
export interface LeaveMessage extends RoomAddress {
  readonly type: "leave";
}

/** Broadcasts an event to the room's other members. Fire and forget: no answer unless refused. */
export interface EmitMessage extends RoomAddress {
  readonly type: "emit";
  /** The event name: a key of the room type's `events`. */
  readonly event: string;
  readonly data: unknown;
}

/** Sets keys of the user's status in a room (the keys it carries; a null value removes a key). */
export interface SetUserStatusMessage extends RoomAddress {
  readonly type: "setUserStatus";
  readonly status: StatusValues;
}

/** Sets keys of the room's shared status (last writer wins per key; a null value removes it). */
export interface SetRoomStatusMessage extends RoomAddress {
  readonly type: "setRoomStatus";
  readonly status: StatusValues;
}

/** Every message a client sends. */
export type ClientMessage =
  | HelloMessage
  | SubscribeMessage
  | UnsubscribeMessage
  | PushMessage
  | PingMessage
  | TokenMessage
  | JoinMessage
  | LeaveMessage
  | EmitMessage
  | SetUserStatusMessage
  | SetRoomStatusMessage;

// ---- server → client ----

/** Answer to `hello`: the connection is accepted. */
export interface WelcomeMessage {
  readonly type: "welcome";
  /** The server's clock reading (encoded HLC); the client folds it into its own clock. */
  readonly serverHlc: string;
  /** The user the server will act for, or null for an anonymous development connection. */
  readonly userId: string | null;
}

/** The triples a subscribed query needs now, and the cursor to resume from. */
export interface SnapshotMessage {
  readonly type: "snapshot";
  readonly queryId: string;
  readonly triples: readonly Triple[];
  readonly cursor: string;
  /** Documents changed while the client was away that its user may no longer read: it drops them. */
  readonly revoked?: readonly DocumentRef[];
}

/**
 * A part of a large snapshot, sent before its `snapshot` (which carries the rest and the
 * cursor): whole documents the client may apply at once, and how far along the answer is, so it
 * can show progress. A query's answer is complete only with its `snapshot`.
 */
export interface SnapshotPartMessage {
  readonly type: "snapshotPart";
  readonly queryId: string;
  readonly triples: readonly Triple[];
  /** Documents of the answer sent so far, this part's included. */
  readonly documents: number;
  /** Documents of the whole answer. */
  readonly total: number;
}

/** Later changes that can affect the connection's live queries. */
export interface ChangesMessage {
  readonly type: "changes";
  readonly triples: readonly Triple[];
  readonly cursor: string;
  /**
   * Documents the connection's user may no longer read (a change to them took its access away):
   * the client drops its copies, in memory and storage. Never the documents of `triples`.
   */
  readonly revoked?: readonly DocumentRef[];
}

/** A pushed batch is durable on the server. */
export interface AckMessage {
  readonly type: "ack";
  readonly batchId: string;
  readonly cursor: string;
}

/** Something went wrong; `code` is one of the {@link DatabaseErrorCode}s. */
export interface ErrorMessage {
  readonly type: "error";
  readonly code: DatabaseErrorCode;
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** Answer to `ping`. */
export interface PongMessage {
  readonly type: "pong";
}

/** Answer to `token`: the connection goes on with the fresh token. */
export interface TokenAcceptedMessage {
  readonly type: "tokenAccepted";
}

/** A room's whole state, sent once per `join` (and again after a reconnect's re-join). */
export interface RoomStateMessage extends RoomAddress {
  readonly type: "roomState";
  readonly roomStatus: StatusValues;
  /** Every member's status, by user id (a user with several connections is one user). */
  readonly users: Readonly<Record<string, StatusValues>>;
}

/** An event another member emitted, stamped by the server. */
export interface RoomEventMessage extends RoomAddress {
  readonly type: "roomEvent";
  readonly event: string;
  readonly data: unknown;
  /** The sender's user id (null: an anonymous development connection). */
  readonly userId: string | null;
  /** The server's HLC when it received the event: events sort by it. */
  readonly hlc: string;
}

/** A member's status changed (`status`: its whole status now) or the member left (`status: null`). */
export interface UserStatusMessage extends RoomAddress {
  readonly type: "userStatus";
  readonly userId: string;
  readonly status: StatusValues | null;
}

/** Keys of the room status changed (a null value: the key was removed). */
export interface RoomStatusMessage extends RoomAddress {
  readonly type: "roomStatus";
  readonly status: StatusValues;
}

/** Every message a server sends. */
export type ServerMessage =
  | WelcomeMessage
  | SnapshotMessage
  | SnapshotPartMessage
  | ChangesMessage
  | AckMessage
  | ErrorMessage
  | PongMessage
  | TokenAcceptedMessage
  | RoomStateMessage
  | RoomEventMessage
  | UserStatusMessage
  | RoomStatusMessage;
