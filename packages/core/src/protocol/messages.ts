import { normalizedQuery } from "./query-schema.js";
import { type FieldsType, list, message, messages, nullable, optional, present, type WireType } from "./wire-schema.js";
import {
  anyString,
  count,
  cursor,
  details,
  documentRef,
  errorCode,
  hlc,
  id,
  jsonValue,
  MAX_STRING_ID,
  name,
  protocolVersion,
  roomId,
  roomUsers,
  status,
  text,
  token,
  triple,
  userId,
} from "./wire-values.js";

/**
 * Version of the sync protocol these message types describe. A client names it in `hello`; a
 * peer speaking another version is refused with a PROTOCOL error (see docs/protocol.md).
 */
export const PROTOCOL_VERSION = 1;

/** Default largest frame, in UTF-8 bytes, that {@link parseClientMessage} accepts: 1 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

// Each message is declared once, as the schema its frames are read with; its type is what the
// schema reads (`WireType`), so the types below and the parser cannot disagree.

/** The most ids a `subscribe` may list in `held` (a client sends none rather than more). */
export const MAX_HELD_IDS = 10_000;

/** A JSON object of status keys and their values (a room or user status, or part of one). */
export type StatusValues = Readonly<Record<string, unknown>>;

const triples = list(triple);
const revoked = optional(list(documentRef));

// ---- client → server ----

const hello = message("hello", {
  /** Always {@link PROTOCOL_VERSION}. */
  protocol: protocolVersion(PROTOCOL_VERSION),
  /** App id (one database per app on the server): 1-64 characters of [A-Za-z0-9_-]. */
  appId: id,
  /** The client's replica id (its HLC node id): 1-64 characters of [A-Za-z0-9_-]. */
  clientId: id,
  /** A JWT; when the server has auth configured it decides the user id. */
  token: optional(token),
  /** Development mode only: the user id the client claims (ignored when auth is configured). */
  userId: optional(userId),
});

/** First message on a connection: who the client is and which app it syncs. */
export type HelloMessage = WireType<typeof hello>;

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

const subscribe = message("subscribe", {
  /** The client's name for this subscription: 1-64 characters of [A-Za-z0-9_-]. */
  queryId: id,
  query: normalizedQuery,
  /** The last server cursor the client saw for this query, or null to start from nothing. */
  cursor: nullable(cursor),
  /**
   * With a cursor: ids of the documents of the query's collection the client holds that match
   * it and have no writes waiting to be pushed (at most {@link MAX_HELD_IDS}). Under permission
   * rules, those the user may no longer read (or the server does not hold) come back in the
   * snapshot's `revoked`.
   */
  held: optional(list(text(MAX_STRING_ID), MAX_HELD_IDS, "ids")),
});

/** Starts (or resumes, with a cursor) a live query. Answered by `snapshot`, then `changes`. */
export type SubscribeMessage = WireType<typeof subscribe>;

const unsubscribe = message("unsubscribe", { queryId: id });

/** Stops a live query. */
export type UnsubscribeMessage = WireType<typeof unsubscribe>;

const push = message("push", {
  /** The client's name for this batch: 1-64 characters of [A-Za-z0-9_-]. */
  batchId: id,
  triples,
});

/** Local writes, in outbox order. Answered by `ack` once durable. Re-sending is harmless. */
export type PushMessage = WireType<typeof push>;

const ping = message("ping", {});

/** Keep-alive. Answered by `pong`. */
export type PingMessage = WireType<typeof ping>;

const tokenMessage = message("token", { token });

/**
 * A fresh token for an open connection, sent when the server says the current one is about to
 * expire (an `error` with code UNAUTHORIZED and `details.reason` "tokenExpiring"). It must name
 * the same user. Answered by `tokenAccepted`; a refused token closes the connection.
 */
export type TokenMessage = WireType<typeof tokenMessage>;

// ---- rooms (see docs/design/010-rooms-plan.md) ----

const roomAddress = {
  /** The room type: a name of the schema's `rooms` (letters, digits, _; not starting with a digit). */
  roomType: name,
  /** "" for the app-wide room, else 1-256 characters. */
  roomId,
};

/** Names a room: its type (a room of the schema) and its id ("" is the app-wide room). */
export type RoomAddress = FieldsType<typeof roomAddress>;

const join = message("join", { ...roomAddress, userStatus: status });

/** Joins a room with the client's status. Answered by `roomState`. Joining again is harmless. */
export type JoinMessage = WireType<typeof join>;

const leave = message("leave", roomAddress);

/** Leaves a room; the other members see the user's status go if this was its last connection there. */
export type LeaveMessage = WireType<typeof leave>;

const emit = message("emit", {
  ...roomAddress,
  /** The event name: a key of the room type's `events`. */
  event: name,
  data: present(jsonValue),
});

/** Broadcasts an event to the room's other members. Fire and forget: no answer unless refused. */
export type EmitMessage = WireType<typeof emit>;

const setUserStatus = message("setUserStatus", { ...roomAddress, status });

/** Sets keys of the user's status in a room (the keys it carries; a null value removes a key). */
export type SetUserStatusMessage = WireType<typeof setUserStatus>;

const setRoomStatus = message("setRoomStatus", { ...roomAddress, status });

/** Sets keys of the room's shared status (last writer wins per key; a null value removes it). */
export type SetRoomStatusMessage = WireType<typeof setRoomStatus>;

/**
 * Reads every message a client sends.
 *
 * @example clientMessages.read(JSON.parse(frame), "") // a ClientMessage, or throws an Invalid
 */
export const clientMessages = messages([
  hello,
  subscribe,
  unsubscribe,
  push,
  ping,
  tokenMessage,
  join,
  leave,
  emit,
  setUserStatus,
  setRoomStatus,
]);

/** Every message a client sends. */
export type ClientMessage = WireType<typeof clientMessages>;

// ---- server → client ----

const welcome = message("welcome", {
  /** The server's clock reading (encoded HLC); the client folds it into its own clock. */
  serverHlc: hlc,
  /** The user the server will act for, or null for an anonymous development connection. */
  userId: nullable(userId),
});

/** Answer to `hello`: the connection is accepted. */
export type WelcomeMessage = WireType<typeof welcome>;

const snapshot = message("snapshot", {
  queryId: id,
  triples,
  cursor,
  /** Documents changed while the client was away that its user may no longer read: it drops them. */
  revoked,
});

/** The triples a subscribed query needs now, and the cursor to resume from. */
export type SnapshotMessage = WireType<typeof snapshot>;

const snapshotPart = message("snapshotPart", {
  queryId: id,
  triples,
  /** Documents of the answer sent so far, this part's included. */
  documents: count,
  /** Documents of the whole answer. */
  total: count,
});

/**
 * A part of a large snapshot, sent before its `snapshot` (which carries the rest and the
 * cursor): whole documents the client may apply at once, and how far along the answer is, so it
 * can show progress. A query's answer is complete only with its `snapshot`.
 */
export type SnapshotPartMessage = WireType<typeof snapshotPart>;

const changes = message("changes", {
  triples,
  cursor,
  /**
   * Documents the connection's user may no longer read (a change to them took its access away):
   * the client drops its copies, in memory and storage. Never the documents of `triples`.
   */
  revoked,
});

/** Later changes that can affect the connection's live queries. */
export type ChangesMessage = WireType<typeof changes>;

const ack = message("ack", { batchId: id, cursor });

/** A pushed batch is durable on the server. */
export type AckMessage = WireType<typeof ack>;

const error = message("error", {
  /** One of the `DatabaseErrorCode`s. */
  code: errorCode,
  message: anyString,
  details: optional(details),
});

/** Something went wrong; `code` is one of the `DatabaseErrorCode`s. */
export type ErrorMessage = WireType<typeof error>;

const pong = message("pong", {});

/** Answer to `ping`. */
export type PongMessage = WireType<typeof pong>;

const tokenAccepted = message("tokenAccepted", {});

/** Answer to `token`: the connection goes on with the fresh token. */
export type TokenAcceptedMessage = WireType<typeof tokenAccepted>;

const roomState = message("roomState", {
  ...roomAddress,
  roomStatus: status,
  /** Every member's status, by user id (a user with several connections is one user). */
  users: roomUsers,
});

/** A room's whole state, sent once per `join` (and again after a reconnect's re-join). */
export type RoomStateMessage = WireType<typeof roomState>;

const roomEvent = message("roomEvent", {
  ...roomAddress,
  event: name,
  data: present(jsonValue),
  /** The sender's user id (null: an anonymous development connection). */
  userId: nullable(userId),
  /** The server's HLC when it received the event: events sort by it. */
  hlc,
});

/** An event another member emitted, stamped by the server. */
export type RoomEventMessage = WireType<typeof roomEvent>;

const userStatus = message("userStatus", {
  ...roomAddress,
  userId,
  /** Its whole status now, or null: the member left. */
  status: nullable(status),
});

/** A member's status changed (`status`: its whole status now) or the member left (`status: null`). */
export type UserStatusMessage = WireType<typeof userStatus>;

const roomStatus = message("roomStatus", { ...roomAddress, status });

/** Keys of the room status changed (a null value: the key was removed). */
export type RoomStatusMessage = WireType<typeof roomStatus>;

/**
 * Reads every message a server sends.
 *
 * @example serverMessages.read(JSON.parse(frame), "") // a ServerMessage, or throws an Invalid
 */
export const serverMessages = messages([
  welcome,
  snapshot,
  snapshotPart,
  changes,
  ack,
  error,
  pong,
  tokenAccepted,
  roomState,
  roomEvent,
  userStatus,
  roomStatus,
]);

/** Every message a server sends. */
export type ServerMessage = WireType<typeof serverMessages>;
