import type { ClientConnection } from "../sync/client-connection.js";
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
import type { TransportState } from "../sync/transport.js";
import type { RoomHandle } from "./room-types.js";
import { Membership, withKey } from "./membership.js";
import { Room } from "./room-handle.js";
import { readRoomValue } from "./room-values.js";

/** The connection room messages go out on: the client's sync, and under it the engine (or the tabs' sync). */
export interface RoomSending {
  readonly transportState: TransportState;
  /** The user id the server acts for, once welcomed. */
  readonly userId: string | null | undefined;
  sendRoom(message: ClientMessage): boolean;
  /** Hears how many rooms this client is in (a follower tab connects only while in one). */
  roomsChanged?(count: number): void;
}

/** What rooms need of the client's sync; absent for a local-only client. */
export interface RoomsSync extends RoomSending {
  /**
   * Hands the rooms to their wire half (`attachRoomWire`, loaded with sync's code), now or once
   * that code arrived: until then no connection is up, and what is sent waits in the rooms' queue.
   */
  attachRooms(rooms: RoomsService): void;
}

const MAX_ROOM_ID_LENGTH = 256;

/** A message waiting for the connection; `settle` answers the emit that made it. */
interface Queued {
  readonly membership: Membership;
  readonly message: EmitMessage | SetRoomStatusMessage;
  readonly settle?: (result: DatabaseResult<void>) => void;
}

/**
 * `client.rooms`: the rooms this client is in, their local copy of the room state, and what they
 * send. Everything a handle reads, checks and changes answers at once from here; what the server
 * sends is applied by the wire half (`attachRoomWire`), which loads with sync. See docs/rooms.md.
 */
export class RoomsService {
  /** The rooms this client is in, by type and id. */
  readonly memberships = new Map<string, Membership>();
  /** Emits and room status changes made before the connection was up, in call order. */
  private queue: Queued[] = [];
  private isClosed = false;

  constructor(
    private readonly specs: Readonly<Record<string, RoomSpec>>,
    private readonly sync: RoomsSync | undefined,
    private readonly localUserId: string | undefined,
    private readonly clientId: string,
    /** The client's connection, which every handle exposes. */
    private readonly connection: ClientConnection,
  ) {
    sync?.attachRooms(this);
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
      this.sync?.roomsChanged?.(this.memberships.size);
      const me = this.myUserId();
      if (me !== undefined) membership.users = { [me]: {} };
      // While connecting, the join goes out with the welcome (see `attachRoomWire`).
      if (this.isConnected()) this.sendJoin(membership);
    }
    membership.handles++;
    return new Room(this, key, membership, this.connection) as RoomHandle<never>;
  }

  /** The room a server message is about, if this client is in it. */
  membership(roomType: string, roomId: string): Membership | undefined {
    return this.memberships.get(`${roomType}\u0000${roomId}`);
  }

  /** Leaves every room and fails what waits for the connection. */
  close(): void {
    this.isClosed = true;
    this.dropQueued("The client was closed before the event could be sent.");
    this.memberships.clear();
  }

  /** A handle let go of its room: the last one leaves it. */
  release(key: string, membership: Membership): void {
    membership.handles--;
    if (membership.handles === 0 && this.memberships.get(key) === membership) this.leaveRoom(key, membership);
  }

  private leaveRoom(key: string, membership: Membership): void {
    this.memberships.delete(key);
    this.sync?.roomsChanged?.(this.memberships.size);
    this.dropQueued(
      "The room was left before the connection was up; the event was not sent.",
      (queued) => queued.membership === membership,
    );
    if (this.isConnected()) this.sync?.sendRoom({ type: "leave", ...membership.address });
  }

  /** A handle's `emit`: validates the event, sends it now or once connected, or fails while offline. */
  emit(membership: Membership, event: unknown, data: unknown): Promise<DatabaseResult<void>> | DatabaseResult<void> {
    const { spec, address } = membership;
    const eventSpec = typeof event === "string" && Object.hasOwn(spec.events, event) ? spec.events[event] : undefined;
    if (eventSpec === undefined) {
      return fail("VALIDATION", `"${String(event)}" is not an event of room type "${spec.name}".`, {
        ...address,
        event,
      });
    }
    const wire = validateRoomValue(eventSpec, data, `${spec.name}.events.${event as string}`);
    if (wire.error) return withRoom(wire.error, address);
    if (this.sync === undefined) {
      return fail("NETWORK", "This client has no server (no serverUrl): room events cannot be sent.", address);
    }
    if (this.sync.transportState === "offline") {
      return fail("NETWORK", "The client is offline: the room event was not sent.", address);
    }
    const message: EmitMessage = { type: "emit", ...address, event: event as string, data: wire.data };
    return new Promise((settle) => this.send({ membership, message, settle }));
  }

  /** A handle's `set`: applies the key locally at once and sends it now or once connected. */
  setRoomStatus(membership: Membership, key: unknown, value: unknown): DatabaseResult<void> {
    const checked = this.checkStatus(membership, membership.spec.roomStatus, "roomStatus", key, value);
    if (checked.error) return checked;
    const [statusKey, wire, read] = checked.data;
    membership.roomStatus = withKey(membership.roomStatus, statusKey, read);
    membership.notifyRoomStatus();
    if (this.sync !== undefined) {
      const message: SetRoomStatusMessage = {
        type: "setRoomStatus",
        ...membership.address,
        status: { [statusKey]: wire },
      };
      this.send({ membership, message });
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
    membership.notifyUserStatus();
    // Not connected: the join sent with the next welcome carries the whole status.
    if (this.isConnected()) {
      this.sync?.sendRoom({ type: "setUserStatus", ...membership.address, status: { [statusKey]: wire } });
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
    const { spec, address } = membership;
    const statusSpec = typeof key === "string" && Object.hasOwn(specs, key) ? specs[key] : undefined;
    if (statusSpec === undefined) {
      return fail("VALIDATION", `"${String(key)}" is not a ${kind} key of room type "${spec.name}".`, {
        ...address,
        field: key,
      });
    }
    if (value === undefined || value === null) return ok([key as string, null, undefined]);
    const wire = validateRoomValue(statusSpec, value, `${spec.name}.${kind}.${key as string}`);
    if (wire.error) return withRoom(wire.error, address);
    return ok([key as string, wire.data, readRoomValue(statusSpec, wire.data)]);
  }

  /** Sends a message now when connected, or keeps it for the next welcome. */
  private send(queued: Queued): void {
    if (this.isConnected() && this.sync!.sendRoom(queued.message)) queued.settle?.(ok(undefined));
    else this.queue.push(queued);
  }

  /** Takes the queued messages `isTaken` accepts (all by default) out of the queue, in call order. */
  takeQueued(isTaken: (queued: Queued) => boolean = () => true): readonly Queued[] {
    const taken = this.queue.filter(isTaken);
    this.queue = this.queue.filter((queued) => !isTaken(queued));
    return taken;
  }

  /** Drops the queued messages `isDropped` accepts (all by default); the emits among them fail with `reason`. */
  dropQueued(reason: string, isDropped?: (queued: Queued) => boolean): void {
    for (const { membership, settle } of this.takeQueued(isDropped)) {
      settle?.(fail("NETWORK", reason, membership.address));
    }
  }

  /** Joins the room: its user status so far goes with the join. */
  sendJoin(membership: Membership): void {
    this.sync?.sendRoom({ type: "join", ...membership.address, userStatus: { ...membership.myWire } });
  }

  private isConnected(): boolean {
    return this.sync?.transportState === "connected";
  }

  /** This user's key in `users`: the user id, or (an anonymous development connection) the server's `anon:<clientId>`. */
  myUserId(): string | undefined {
    const welcomed = this.sync?.userId;
    if (welcomed === null) return `anon:${this.clientId}`;
    return welcomed ?? this.localUserId;
  }
}

function withRoom(error: DatabaseError, address: { roomType: string; roomId: string }): DatabaseResult<never> {
  return fail(error.code, error.message, { ...error.details, ...address });
}
