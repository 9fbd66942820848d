import { type DatabaseError, decodeHlc, type FieldSpec, hlcMillis, ok } from "@trellis/core";
import type { RoomLink } from "../sync/sync-engine.js";
import type { RoomServerMessage } from "../sync/transport.js";
import { callListener, type Membership, type Status, withKey } from "./membership.js";
import { readRoomValue, UNREADABLE } from "./room-values.js";
import type { RoomEventMeta } from "./room-types.js";
import type { RoomSending, RoomsService } from "./rooms.js";

/** What the rooms' wire half rides on: the sync engine, or the tabs' sync over it. */
export interface RoomTransport extends RoomSending {
  attachRooms(rooms: RoomLink): void;
}

/**
 * Connects a client's rooms to its sync engine: on each welcome they join and send what waited,
 * what the server sends about a room (its state, events, status changes, refusals) reaches the
 * room's local copy and listeners, and emits waiting for a connection that was lost fail. Loaded
 * with sync's code; until it is, no connection is up and the rooms answer from local state.
 *
 * @example
 * import type { RoomsService } from "./rooms.js";
 * // Sync's code, once loaded, as the client's rooms attach to it (see `RoomsSync.attachRooms`):
 * const attachRooms = (rooms: RoomsService) => attachRoomWire(rooms, engine);
 */
export function attachRoomWire(rooms: RoomsService, transport: RoomTransport): void {
  transport.attachRooms({
    welcome: () => {
      for (const membership of rooms.memberships.values()) rooms.sendJoin(membership);
      for (const { message, settle } of rooms.takeQueued()) {
        transport.sendRoom(message);
        settle?.(ok(undefined));
      }
    },
    transportChanged: (state) => {
      // Room status changes wait on: the next welcome sends them.
      if (state === "offline") {
        rooms.dropQueued(
          "The connection was lost before the event could be sent.",
          (queued) => queued.message.type === "emit",
        );
      }
    },
    message: (message) => {
      const membership = rooms.membership(message.roomType, message.roomId);
      if (membership !== undefined) receive(membership, message, rooms.myUserId());
    },
    error: (error, roomType, roomId) => {
      const membership = rooms.membership(roomType, roomId);
      if (membership !== undefined) refused(membership, error, rooms.myUserId());
    },
  });
}

/** Applies what the server sent about a room this client is in; `me` is this user's key in `users`. */
function receive(membership: Membership, message: RoomServerMessage, me: string | undefined): void {
  const { spec } = membership;
  switch (message.type) {
    case "roomState": {
      membership.roomStatus = readStatus(spec.roomStatus, message.roomStatus);
      const users: Record<string, Status> = {};
      for (const [userId, status] of Object.entries(message.users)) users[userId] = readStatus(spec.userStatus, status);
      // The room state answers the join, so it may predate `setUserStatus` calls sent after it, and the
      // server never echoes those to the sender: the keys this client set (or removed) are as it last sent them.
      if (me !== undefined) {
        const own: Record<string, unknown> = { ...users[me] };
        for (const key of membership.myKeys) delete own[key];
        users[me] = { ...own, ...membership.myStatus };
      }
      membership.users = users;
      membership.notifyRoomStatus();
      membership.notifyUserStatus();
      return;
    }
    case "roomEvent": {
      const eventSpec = Object.hasOwn(spec.events, message.event) ? spec.events[message.event] : undefined;
      const listeners = membership.eventListeners.get(message.event);
      if (eventSpec === undefined || listeners === undefined || listeners.size === 0) return;
      const data = readRoomValue(eventSpec, message.data);
      if (data === UNREADABLE) return;
      // The parser checked the stamp; one meta object serves every listener.
      const meta: RoomEventMeta = { at: hlcMillis(decodeHlc(message.hlc).data!), hlc: message.hlc };
      for (const listener of [...listeners]) callListener(listener, data, message.userId, meta);
      return;
    }
    case "userStatus": {
      const users = { ...membership.users };
      if (message.status === null) delete users[message.userId];
      else users[message.userId] = readStatus(spec.userStatus, message.status);
      membership.users = users;
      membership.notifyUserStatus();
      return;
    }
    case "roomStatus": {
      let status = membership.roomStatus;
      for (const [key, value] of Object.entries(message.status)) {
        const statusSpec = Object.hasOwn(spec.roomStatus, key) ? spec.roomStatus[key] : undefined;
        if (statusSpec === undefined) continue;
        const read = value === null ? undefined : readRoomValue(statusSpec, value);
        status = withKey(status, key, read === UNREADABLE ? undefined : read);
      }
      membership.roomStatus = status;
      membership.notifyRoomStatus();
    }
  }
}

/** The server refused a message about the room: its handles hear of it. */
function refused(membership: Membership, error: DatabaseError, me: string | undefined): void {
  membership.lastError = error;
  // Refused (or removed: its user lost access): the room's state is no longer this client's to see.
  if (error.code === "UNAUTHORIZED") {
    const hadOthers = Object.keys(membership.users).some((userId) => userId !== me);
    const hadStatus = Object.keys(membership.roomStatus).length > 0;
    membership.users = me === undefined ? {} : { [me]: membership.myStatus };
    membership.roomStatus = {};
    if (hadStatus) membership.notifyRoomStatus();
    if (hadOthers) membership.notifyUserStatus();
  }
  for (const listener of [...membership.errorListeners]) callListener(listener, error);
}

/** Reads a status object (user or room) key by key: unknown keys and values that do not fit are left out. */
function readStatus(
  specs: Readonly<Record<string, FieldSpec>>,
  status: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const read: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(status)) {
    const spec = Object.hasOwn(specs, key) ? specs[key] : undefined;
    if (spec === undefined || value === null) continue;
    const item = readRoomValue(spec, value);
    if (item !== UNREADABLE) read[key] = item;
  }
  return read;
}
