import type { ClientConnection } from "../sync/client-connection.js";
import type { DatabaseError, DatabaseResult, FieldValue, RoomDef, RoomsDef } from "@trellis/core";

type Fields<R, K extends keyof RoomDef> = R extends { readonly [P in K]: infer F } ? (F extends object ? F : {}) : {};

/** The events of a room type, by name: the data each carries. */
export type RoomEvents<R> = { -readonly [K in keyof Fields<R, "events">]: FieldValue<Fields<R, "events">[K]> };
/** A user's whole status in a room: the keys it has set. */
export type UserStatus<R> = { -readonly [K in keyof Fields<R, "userStatus">]?: FieldValue<Fields<R, "userStatus">[K]> };
/** A room's whole shared status: the keys set so far. */
export type RoomStatus<R> = { -readonly [K in keyof Fields<R, "roomStatus">]?: FieldValue<Fields<R, "roomStatus">[K]> };

/** What a room event's listener learns besides its data and sender: when the server relayed it. */
export interface RoomEventMeta {
  /** When the server relayed the event, in milliseconds since the epoch by the server's clock. */
  readonly at: number;
  /** The server's HLC stamp of the event: events of a room sort by it, as strings. */
  readonly hlc: string;
}

/** Listens to event `K` of room type `R`: its data, the sender's user id (null: anonymous) and when the server relayed it. */
export type RoomEventListener<R, K extends keyof RoomEvents<R>> = (
  data: RoomEvents<R>[K],
  fromUserId: string | null,
  meta: RoomEventMeta,
) => void;

/**
 * A handle on one room (from `client.rooms.<roomType>(roomId?)`). Handles of one room share one
 * membership; the room is left when the last handle calls {@link leave}.
 */
export interface RoomHandle<R> {
  readonly roomType: string;
  /** "" for the app-wide room. */
  readonly roomId: string;
  /**
   * The client's connection (`state`, `subscribe`): room messages flow while it is `online` or
   * `syncing`. Bindings read `isConnected` from it.
   */
  readonly connection: ClientConnection;
  /** Broadcasts an event to the other members. NETWORK error while offline or on a local-only client. */
  emit<K extends keyof RoomEvents<R> & string>(event: K, data: RoomEvents<R>[K]): Promise<DatabaseResult<void>>;
  /** Sets a key of the room's shared status (`undefined` removes it). Applies locally at once. */
  set<K extends keyof RoomStatus<R> & string>(
    key: K,
    value: RoomStatus<R>[K] | undefined,
  ): Promise<DatabaseResult<void>>;
  /** Sets a key of this user's status (`undefined` removes it). Applies locally at once. */
  setUserStatus<K extends keyof UserStatus<R> & string>(
    key: K,
    value: UserStatus<R>[K] | undefined,
  ): Promise<DatabaseResult<void>>;
  /** Listens to an event other members emit; returns an unsubscribe. */
  on<K extends keyof RoomEvents<R> & string>(event: K, listener: RoomEventListener<R, K>): () => void;
  /** Called with the whole room status whenever it changes; returns an unsubscribe. */
  onRoomStatus(listener: (status: RoomStatus<R>) => void): () => void;
  /** Called with every member's whole status, by user id, whenever one changes; returns an unsubscribe. */
  onUserStatus(listener: (statuses: Record<string, UserStatus<R>>) => void): () => void;
  getRoomStatus(): RoomStatus<R>;
  /** Every member's status by user id (this user's included once known). */
  getUserStatuses(): Record<string, UserStatus<R>>;
  /** This client's own status in the room. */
  getMyUserStatus(): UserStatus<R>;
  /**
   * Called when the server refuses a message about this room (a payload over its limits, too
   * many messages a second); returns an unsubscribe. Errors of calls checked locally come back
   * from the call itself instead.
   */
  onError(listener: (error: DatabaseError) => void): () => void;
  /** The latest refusal the server sent about this room, if any. */
  getError(): DatabaseError | undefined;
  /** Drops this handle's listeners and, with the last handle of the room, leaves it. Idempotent. */
  leave(): void;
}

/** `client.rooms`: one function per room type of the schema; no id is the app-wide room `""`. */
export type Rooms<TRooms extends RoomsDef> = {
  readonly [K in keyof TRooms]: (roomId?: string) => RoomHandle<TRooms[K]>;
};
