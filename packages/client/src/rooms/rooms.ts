import { type ClientConnection, LOCAL_CONNECTION } from "../sync/client-connection.js";
import {
  type ClientMessage,
  type DatabaseError,
  type DatabaseResult,
  type EmitMessage,
  fail,
  type FieldSpec,
  ok,
  type RoomSpec,
  type SetRoomStatusMessage,
  validateRoomValue,
} from "@trellis/core";
import type { RoomServerMessage, TransportState } from "../sync/transport.js";
import type { RoomLink } from "../sync/sync-engine.js";
import type { RoomHandle } from "./room-types.js";
import { type Listener, Membership, type Status } from "./membership.js";
import { Room } from "./room-handle.js";
import { readRoomValue, readStatus, UNREADABLE } from "./room-values.js";

/** What rooms need of the sync engine; absent for a local-only client. */
export interface RoomTransport {
  readonly transportState: TransportState;
  /** The user id the server acts for, once welcomed. */
  readonly userId: string | null | undefined;
  sendRoom(message: ClientMessage): boolean;
  attachRooms(rooms: RoomLink): void;
  /** Hears how many rooms this client is in (a follower tab connects only while in one). */
  roomsChanged?(count: number): void;
}

const MAX_ROOM_ID_LENGTH = 256;

interface Queued {
  readonly membership: Membership;
  readonly message: EmitMessage | SetRoomStatusMessage;
  readonly settle?: (result: DatabaseResult<void>) => void;
}

/**
 * `client.rooms`: the rooms this client is in, their local copy of the room state, and the
 * room messages on the sync socket. See docs/rooms.md.
 */
export class RoomsService {
  private readonly memberships = new Map<string, Membership>();
  /** Emits and room status changes made before the connection was up, in call order. */
  private queue: Queued[] = [];
  private isClosed = false;

  constructor(
    private readonly specs: Readonly<Record<string, RoomSpec>>,
    private readonly transport: RoomTransport | undefined,
    private readonly localUserId: string | undefined,
    private readonly clientId: string,
    /** The client's connection, which every handle exposes. */
    private readonly connection: ClientConnection = LOCAL_CONNECTION,
  ) {
    transport?.attachRooms({
      welcome: () => this.welcome(),
      transportChanged: (state) => {
        if (state === "offline") this.failQueuedEmits("The connection was lost before the event could be sent.");
      },
      message: (message) => this.receive(message),
      error: (error, roomType, roomId) => {
        const membership = this.memberships.get(`${roomType}\u0000${roomId}`);
        if (membership === undefined) return;
        membership.lastError = error;
        // Refused (or removed: its user lost access): the room's state is no longer this client's to see.
        if (error.code === "UNAUTHORIZED") this.clearRoomState(membership);
        for (const listener of [...membership.errorListeners]) call(listener, error);
      },
    });
  }

  /** `client.rooms.<roomType>(roomId)`: a new handle on the room, joining it unless this client is in it already. */
  open(roomType: string, roomId: unknown = ""): RoomHandle<never> {
    if (this.isClosed) throw new Error(`Trellis client: rooms.${roomType} called after close(); create a new client.`);
    const spec = Object.hasOwn(this.specs, roomType) ? this.specs[roomType] : undefined;
    if (spec === undefined) throw new TypeError(`client.rooms: "${roomType}" is not a room of the schema.`);
    if (typeof roomId !== "string" || roomId.length > MAX_ROOM_ID_LENGTH) {
      throw new TypeError(
        `client.rooms.${roomType}: the room id must be a string of at most ${MAX_ROOM_ID_LENGTH} characters ("" or none for the app-wide room).`,
      );
    }
    const key = `${roomType}\u0000${roomId}`;
    let membership = this.memberships.get(key);
    if (membership === undefined) {
      membership = new Membership(spec, roomId);
      this.memberships.set(key, membership);
      this.transport?.roomsChanged?.(this.memberships.size);
      const me = this.myUserId();
      if (me !== undefined) membership.users = { [me]: {} };
      // While connecting, the join goes out with the welcome (see `welcome`).
      if (this.isConnected()) this.sendJoin(membership);
    }
    membership.handles++;
    return new Room(this, key, membership, this.connection) as RoomHandle<never>;
  }

  /** Forgets the other members and the room status: only this user's own status stays. */
  private clearRoomState(membership: Membership): void {
    const me = this.myUserId();
    const hadOthers = Object.keys(membership.users).some((userId) => userId !== me);
    const hadStatus = Object.keys(membership.roomStatus).length > 0;
    membership.users = me === undefined ? {} : { [me]: membership.myStatus };
    membership.roomStatus = {};
    if (hadStatus) this.notifyRoomStatus(membership);
    if (hadOthers) this.notifyUserStatus(membership);
  }

  /** Leaves every room and fails what waits for the connection. */
  close(): void {
    this.isClosed = true;
    this.failQueuedEmits("The client was closed before the event could be sent.");
    this.queue = [];
    this.memberships.clear();
  }

  /** A handle let go of its room: the last one leaves it. */
  release(key: string, membership: Membership): void {
    membership.handles--;
    if (membership.handles === 0 && this.memberships.get(key) === membership) this.leaveRoom(key, membership);
  }

  private leaveRoom(key: string, membership: Membership): void {
    this.memberships.delete(key);
    this.transport?.roomsChanged?.(this.memberships.size);
    const dropped = this.queue.filter((queued) => queued.membership === membership);
    this.queue = this.queue.filter((queued) => queued.membership !== membership);
    for (const queued of dropped) {
      queued.settle?.(
        fail(
          "NETWORK",
          `The room was left before the connection was up; the event was not sent.`,
          this.address(membership),
        ),
      );
    }
    if (this.isConnected()) this.transport?.sendRoom({ type: "leave", ...this.address(membership) });
  }

  /** A handle's `emit`: validates the event, sends it now or once connected, or fails while offline. */
  emit(membership: Membership, event: unknown, data: unknown): Promise<DatabaseResult<void>> | DatabaseResult<void> {
    const { spec } = membership;
    const eventSpec = typeof event === "string" && Object.hasOwn(spec.events, event) ? spec.events[event] : undefined;
    if (eventSpec === undefined) {
      return fail("VALIDATION", `"${String(event)}" is not an event of room type "${spec.name}".`, {
        ...this.address(membership),
        event,
      });
    }
    const wire = validateRoomValue(eventSpec, data, `${spec.name}.events.${event as string}`);
    if (wire.error) return withRoom(wire.error, this.address(membership));
    if (this.transport === undefined) {
      return fail(
        "NETWORK",
        "This client has no server (no serverUrl): room events cannot be sent.",
        this.address(membership),
      );
    }
    const message: EmitMessage = { type: "emit", ...this.address(membership), event: event as string, data: wire.data };
    const state = this.transport.transportState;
    if (state === "connected" && this.transport.sendRoom(message)) return ok(undefined);
    if (state === "offline") {
      return fail("NETWORK", "The client is offline: the room event was not sent.", this.address(membership));
    }
    return new Promise((settle) => this.queue.push({ membership, message, settle }));
  }

  /** A handle's `set`: applies the key locally at once and sends it now or once connected. */
  setRoomStatus(membership: Membership, key: unknown, value: unknown): DatabaseResult<void> {
    const checked = this.checkStatus(membership, membership.spec.roomStatus, "roomStatus", key, value);
    if (checked.error) return checked;
    const [statusKey, wire, read] = checked.data;
    membership.roomStatus = withKey(membership.roomStatus, statusKey, read);
    this.notifyRoomStatus(membership);
    if (this.transport !== undefined) {
      const message: SetRoomStatusMessage = {
        type: "setRoomStatus",
        ...this.address(membership),
        status: { [statusKey]: wire },
      };
      if (!(this.isConnected() && this.transport.sendRoom(message))) this.queue.push({ membership, message });
    }
    return ok(undefined);
  }

  /** A handle's `setUserStatus`: applies the key locally at once; the next join carries it while not connected. */
  setUserStatus(membership: Membership, key: unknown, value: unknown): DatabaseResult<void> {
    const checked = this.checkStatus(membership, membership.spec.userStatus, "userStatus", key, value);
    if (checked.error) return checked;
    const [statusKey, wire, read] = checked.data;
    membership.myStatus = withKey(membership.myStatus, statusKey, read);
    membership.myKeys.add(statusKey);
    if (wire === null) delete membership.myWire[statusKey];
    else membership.myWire[statusKey] = wire;
    const me = this.myUserId();
    if (me !== undefined)
      membership.users = { ...membership.users, [me]: withKey(membership.users[me] ?? {}, statusKey, read) };
    this.notifyUserStatus(membership);
    // Not connected: the join sent with the next welcome carries the whole status.
    if (this.isConnected()) {
      this.transport?.sendRoom({ type: "setUserStatus", ...this.address(membership), status: { [statusKey]: wire } });
    }
    return ok(undefined);
  }

  /** Checks a status key and value; gives the key, its wire value (null: removed) and its read value (undefined: removed). */
  private checkStatus(
    membership: Membership,
    specs: Readonly<Record<string, FieldSpec>>,
    kind: "roomStatus" | "userStatus",
    key: unknown,
    value: unknown,
  ): DatabaseResult<[string, unknown, unknown]> {
    const { spec } = membership;
    const statusSpec = typeof key === "string" && Object.hasOwn(specs, key) ? specs[key] : undefined;
    if (statusSpec === undefined) {
      return fail("VALIDATION", `"${String(key)}" is not a ${kind} key of room type "${spec.name}".`, {
        ...this.address(membership),
        field: key,
      });
    }
    if (value === undefined || value === null) return ok([key as string, null, undefined]);
    const wire = validateRoomValue(statusSpec, value, `${spec.name}.${kind}.${key as string}`);
    if (wire.error) return withRoom(wire.error, this.address(membership));
    return ok([key as string, wire.data, readRoomValue(statusSpec, wire.data)]);
  }

  private welcome(): void {
    for (const membership of this.memberships.values()) this.sendJoin(membership);
    const queue = this.queue;
    this.queue = [];
    for (const queued of queue) {
      this.transport?.sendRoom(queued.message);
      queued.settle?.(ok(undefined));
    }
  }

  private sendJoin(membership: Membership): void {
    this.transport?.sendRoom({ type: "join", ...this.address(membership), userStatus: { ...membership.myWire } });
  }

  private receive(message: RoomServerMessage): void {
    const membership = this.memberships.get(`${message.roomType}\u0000${message.roomId}`);
    if (membership === undefined) return;
    const { spec } = membership;
    switch (message.type) {
      case "roomState": {
        membership.roomStatus = readStatus(spec.roomStatus, message.roomStatus);
        const users: Record<string, Status> = {};
        for (const [userId, status] of Object.entries(message.users))
          users[userId] = readStatus(spec.userStatus, status);
        // The room state answers the join, so it may predate `setUserStatus` calls sent after it, and the
        // server never echoes those to the sender: the keys this client set (or removed) are as it last sent them.
        const me = this.myUserId();
        if (me !== undefined) {
          const own: Record<string, unknown> = { ...users[me] };
          for (const key of membership.myKeys) delete own[key];
          users[me] = { ...own, ...membership.myStatus };
        }
        membership.users = users;
        this.notifyRoomStatus(membership);
        this.notifyUserStatus(membership);
        return;
      }
      case "roomEvent": {
        const eventSpec = Object.hasOwn(spec.events, message.event) ? spec.events[message.event] : undefined;
        const listeners = membership.eventListeners.get(message.event);
        if (eventSpec === undefined || listeners === undefined || listeners.size === 0) return;
        const data = readRoomValue(eventSpec, message.data);
        if (data === UNREADABLE) return;
        for (const listener of [...listeners]) call(listener, data, message.userId);
        return;
      }
      case "userStatus": {
        const users = { ...membership.users };
        if (message.status === null) delete users[message.userId];
        else users[message.userId] = readStatus(spec.userStatus, message.status);
        membership.users = users;
        this.notifyUserStatus(membership);
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
        this.notifyRoomStatus(membership);
      }
    }
  }

  private failQueuedEmits(reason: string): void {
    const emits = this.queue.filter((queued) => queued.message.type === "emit");
    this.queue = this.queue.filter((queued) => queued.message.type !== "emit");
    for (const queued of emits) queued.settle?.(fail("NETWORK", reason, this.address(queued.membership)));
  }

  private notifyRoomStatus(membership: Membership): void {
    for (const listener of [...membership.roomStatusListeners]) call(listener, membership.roomStatus);
  }

  private notifyUserStatus(membership: Membership): void {
    for (const listener of [...membership.userStatusListeners]) call(listener, membership.users);
  }

  private isConnected(): boolean {
    return this.transport?.transportState === "connected";
  }

  /** This user's key in `users`: the user id, or (an anonymous development connection) the server's `anon:<clientId>`. */
  private myUserId(): string | undefined {
    const welcomed = this.transport?.userId;
    if (welcomed === null) return `anon:${this.clientId}`;
    return welcomed ?? this.localUserId;
  }

  private address(membership: Membership): { roomType: string; roomId: string } {
    return { roomType: membership.spec.name, roomId: membership.roomId };
  }
}

function withKey(status: Status, key: string, value: unknown): Status {
  const next: Record<string, unknown> = { ...status };
  if (value === undefined) delete next[key];
  else next[key] = value;
  return next;
}

function withRoom(error: DatabaseError, address: { roomType: string; roomId: string }): DatabaseResult<never> {
  return fail(error.code, error.message, { ...error.details, ...address });
}

function call<A extends unknown[]>(listener: Listener<A>, ...args: A): void {
  try {
    listener(...args);
  } catch (error) {
    console.error("Trellis rooms: a listener threw", error);
  }
}
