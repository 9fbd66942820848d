import type { DatabaseError, RoomAddress, ServerMessage, StatusValues } from "@trellis/core";
import type { Peer } from "./peer.js";

/** Largest `emit` data or status object (its JSON, in UTF-8 bytes), per message and per merged status. */
export const MAX_ROOM_PAYLOAD_BYTES = 64 * 1024;
/** Keys of one status (the parser checks each message; this checks the merged status). */
export const MAX_STATUS_KEYS = 64;
/** Rooms one connection may be in at once. */
export const MAX_ROOMS_PER_CONNECTION = 1_000;

/** Who a connection is, as rooms see it. */
export interface RoomMember {
  /** The user id of its `welcome` (null: an anonymous development connection). */
  readonly userId: string | null;
  /** Whose status it shares: the user id, or `anon:<clientId>` for an anonymous connection. */
  readonly userKey: string;
}

/** A refusal of one room message, sent to the connection as an `error`. */
export type RoomError = Pick<DatabaseError, "code" | "message" | "details">;

interface UserEntry {
  status: Record<string, unknown>;
  /** The user's connections in the room. */
  connections: number;
}

interface Room {
  readonly address: RoomAddress;
  readonly members: Map<Peer, RoomMember>;
  readonly users: Map<string, UserEntry>;
  status: Record<string, unknown>;
}

/**
 * The rooms of one app, in memory only (design 010): membership is per connection, user status
 * per user key (several connections of one user are one user), room status per room. Events go
 * to the other members in the order received, stamped with the app's server HLC. A room and its
 * status disappear with its last member.
 */
export class RoomHub {
  private readonly rooms = new Map<string, Room>();
  /** The rooms (keys) each connection is in, to leave them all when it goes. */
  private readonly byPeer = new Map<Peer, Set<string>>();

  /** `now` reads the app's server clock (for event HLCs). */
  constructor(private readonly now: () => string) {}

  /** Rooms that have members. */
  get size(): number {
    return this.rooms.size;
  }

  /** Joins (or re-joins) a room: `roomState` to the joiner, the user's whole status to the others. */
  join(peer: Peer, member: RoomMember, address: RoomAddress, userStatus: StatusValues): RoomError | undefined {
    const key = roomKey(address);
    const peerRooms = this.byPeer.get(peer);
    const existing = this.rooms.get(key);
    const already = existing?.members.get(peer);
    if (already === undefined && (peerRooms?.size ?? 0) >= MAX_ROOMS_PER_CONNECTION) {
      return refusal(address, `A connection can be in at most ${MAX_ROOMS_PER_CONNECTION} rooms at once.`);
    }
    if (already !== undefined && already.userKey !== member.userKey) {
      return refusal(address, "This connection already joined the room as another user.");
    }
    const user = existing?.users.get(member.userKey);
    const merged = checkedMerge(user?.status ?? {}, userStatus, address, "user status");
    if ("error" in merged) return merged.error;

    const room: Room = existing ?? {
      address: { roomType: address.roomType, roomId: address.roomId },
      members: new Map(),
      users: new Map(),
      status: {},
    };
    if (existing === undefined) this.rooms.set(key, room);
    if (already === undefined) {
      room.members.set(peer, member);
      if (peerRooms === undefined) this.byPeer.set(peer, new Set([key]));
      else peerRooms.add(key);
    }
    const entry = user ?? { status: {}, connections: 0 };
    entry.status = merged.status;
    if (already === undefined) entry.connections++;
    room.users.set(member.userKey, entry);

    const users: Record<string, StatusValues> = {};
    for (const [userKey, each] of room.users) users[userKey] = each.status;
    // The others first: a joiner dropped while sent its state leaves after this, not before.
    this.broadcast(room, { type: "userStatus", ...room.address, userId: member.userKey, status: entry.status }, peer);
    peer.send({ type: "roomState", ...room.address, roomStatus: room.status, users });
    return undefined;
  }

  /** Leaves a room; the user's status goes if this was its last connection there. */
  leave(peer: Peer, address: RoomAddress): RoomError | undefined {
    const room = this.rooms.get(roomKey(address));
    if (room === undefined || !room.members.has(peer)) return notJoined(address);
    this.remove(peer, room);
    return undefined;
  }

  /** The connections in a room. */
  connectionsIn(address: RoomAddress): Peer[] {
    return [...(this.rooms.get(roomKey(address))?.members.keys() ?? [])];
  }

  /** The rooms a connection is in. */
  roomsOf(peer: Peer): RoomAddress[] {
    return [...(this.byPeer.get(peer) ?? [])].flatMap((key) => {
      const room = this.rooms.get(key);
      return room === undefined ? [] : [room.address];
    });
  }

  /** The rooms with members, for the admin API: each one's users, connections and the keys of its statuses. */
  list(): Array<
    RoomAddress & {
      readonly connections: number;
      readonly users: ReadonlyArray<{ readonly userId: string; readonly statusKeys: readonly string[] }>;
      readonly statusKeys: readonly string[];
    }
  > {
    return [...this.rooms.values()].map((room) => ({
      roomType: room.address.roomType,
      roomId: room.address.roomId,
      connections: room.members.size,
      users: [...room.users].map(([userId, entry]) => ({ userId, statusKeys: Object.keys(entry.status) })),
      statusKeys: Object.keys(room.status),
    }));
  }

  /** Leaves every room of a connection (it closed or missed the heartbeat). */
  leaveAll(peer: Peer): void {
    const keys = this.byPeer.get(peer);
    if (keys === undefined) return;
    for (const key of [...keys]) {
      const room = this.rooms.get(key);
      if (room !== undefined) this.remove(peer, room);
    }
    this.byPeer.delete(peer);
  }

  /** Sends an event to the room's other members, stamped with the server's HLC. */
  emit(peer: Peer, address: RoomAddress, event: string, data: unknown): RoomError | undefined {
    const room = this.rooms.get(roomKey(address));
    const member = room?.members.get(peer);
    if (room === undefined || member === undefined) return notJoined(address);
    const size = jsonBytes(data);
    if (size > MAX_ROOM_PAYLOAD_BYTES) return tooLarge(address, "event data", size);
    this.broadcast(
      room,
      { type: "roomEvent", ...room.address, event, data, userId: member.userId, hlc: this.now() },
      peer,
    );
    return undefined;
  }

  /** Merges keys into the sender's user status (null removes one); the others get the whole status. */
  setUserStatus(peer: Peer, address: RoomAddress, status: StatusValues): RoomError | undefined {
    const room = this.rooms.get(roomKey(address));
    const member = room?.members.get(peer);
    if (room === undefined || member === undefined) return notJoined(address);
    const entry = room.users.get(member.userKey)!;
    const merged = checkedMerge(entry.status, status, address, "user status");
    if ("error" in merged) return merged.error;
    entry.status = merged.status;
    this.broadcast(room, { type: "userStatus", ...room.address, userId: member.userKey, status: entry.status }, peer);
    return undefined;
  }

  /**
   * Merges keys into the room status, last writer (in server order) wins. The changed keys go to
   * every member, the sender included: a sender that applied its write locally and then sees a
   * concurrent later write of the same key ends with the server's value, so every copy converges.
   */
  setRoomStatus(peer: Peer, address: RoomAddress, status: StatusValues): RoomError | undefined {
    const room = this.rooms.get(roomKey(address));
    if (room === undefined || !room.members.has(peer)) return notJoined(address);
    const merged = checkedMerge(room.status, status, address, "room status");
    if ("error" in merged) return merged.error;
    room.status = merged.status;
    this.broadcast(room, { type: "roomStatus", ...room.address, status: { ...status } }, undefined);
    return undefined;
  }

  private remove(peer: Peer, room: Room): void {
    const member = room.members.get(peer);
    if (member === undefined) return;
    room.members.delete(peer);
    const key = roomKey(room.address);
    this.byPeer.get(peer)?.delete(key);
    if (this.byPeer.get(peer)?.size === 0) this.byPeer.delete(peer);
    if (room.members.size === 0) {
      // The last member: the room, its status and every user status go with it.
      this.rooms.delete(key);
      return;
    }
    const entry = room.users.get(member.userKey);
    if (entry === undefined || --entry.connections > 0) return;
    room.users.delete(member.userKey);
    this.broadcast(room, { type: "userStatus", ...room.address, userId: member.userKey, status: null }, undefined);
  }

  /** Sends one message to every member but `except`, serialized once. */
  private broadcast(room: Room, message: ServerMessage, except: Peer | undefined): void {
    let text: string | undefined;
    for (const peer of room.members.keys()) {
      if (peer === except) continue;
      text ??= JSON.stringify(message);
      peer.send(message, text);
    }
  }
}

function roomKey(address: RoomAddress): string {
  return `${address.roomType}\u0000${address.roomId}`;
}

function refusal(address: RoomAddress, message: string, details: Record<string, unknown> = {}): RoomError {
  return { code: "VALIDATION", message, details: { ...details, roomType: address.roomType, roomId: address.roomId } };
}

function notJoined(address: RoomAddress): RoomError {
  return refusal(address, `This connection has not joined the room ${describeRoom(address)}; send "join" first.`);
}

function tooLarge(address: RoomAddress, what: string, bytes: number): RoomError {
  return refusal(
    address,
    `The ${what} is ${bytes} bytes of JSON, more than the limit of ${MAX_ROOM_PAYLOAD_BYTES} (64 KiB).`,
    {
      maxBytes: MAX_ROOM_PAYLOAD_BYTES,
    },
  );
}

function describeRoom(address: RoomAddress): string {
  return address.roomId === ""
    ? `${address.roomType} (app-wide)`
    : `${address.roomType}/${JSON.stringify(address.roomId)}`;
}

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? "null", "utf8");
}

/** `current` with `update`'s keys set (null removes one), refused if the update or the result is too large. */
function checkedMerge(
  current: Readonly<Record<string, unknown>>,
  update: StatusValues,
  address: RoomAddress,
  what: string,
): { readonly status: Record<string, unknown> } | { readonly error: RoomError } {
  const updateBytes = jsonBytes(update);
  if (updateBytes > MAX_ROOM_PAYLOAD_BYTES) return { error: tooLarge(address, what, updateBytes) };
  const merged: Record<string, unknown> = { ...current };
  for (const [key, value] of Object.entries(update)) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  const keys = Object.keys(merged).length;
  if (keys > MAX_STATUS_KEYS) {
    return {
      error: refusal(address, `The ${what} would have ${keys} keys, more than the limit of ${MAX_STATUS_KEYS}.`, {
        maxKeys: MAX_STATUS_KEYS,
      }),
    };
  }
  const mergedBytes = updateBytes === 0 ? 0 : jsonBytes(merged);
  if (mergedBytes > MAX_ROOM_PAYLOAD_BYTES) return { error: tooLarge(address, `merged ${what}`, mergedBytes) };
  return { status: merged };
}
