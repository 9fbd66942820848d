import { type DatabaseError, type DatabaseResult, fail } from "@trellis/core";
import type { ClientConnection } from "../sync/client-connection.js";
import type { Listener, Membership, Status } from "./membership.js";
import type { RoomEventMeta } from "./room-types.js";

/** What a handle asks of the rooms service (`RoomsService`): the calls that touch the wire. */
export interface RoomCalls {
  emit(membership: Membership, event: unknown, data: unknown): Promise<DatabaseResult<void>> | DatabaseResult<void>;
  setRoomStatus(membership: Membership, key: unknown, value: unknown): DatabaseResult<void>;
  setUserStatus(membership: Membership, key: unknown, value: unknown): DatabaseResult<void>;
  /** The handle let go of its room: the last handle leaves it. */
  release(key: string, membership: Membership): void;
}

/**
 * A handle on one room, from `client.rooms.<roomType>(roomId?)`; typed as {@link RoomHandle} for
 * users. Handles of one room share its {@link Membership}; each keeps its own listeners, dropped
 * on {@link leave}, and a handle that has left answers calls with a VALIDATION error. Its methods
 * are arrow-function properties so they keep working detached (`return room.leave` from an effect).
 *
 * @example
 * const room = client.rooms.documentEditor("doc-123");
 * const stop = room.onUserStatus((statuses) => renderCursors(statuses));
 * await room.setUserStatus("cursor", { x: 1, y: 2 });
 * room.leave();
 */
export class Room {
  readonly roomType: string;
  readonly roomId: string;
  private readonly unsubscribes = new Set<() => void>();
  private hasLeft = false;

  constructor(
    private readonly calls: RoomCalls,
    private readonly key: string,
    private readonly membership: Membership,
    /** The client's connection: room messages flow while it is `online` or `syncing`. */
    readonly connection: ClientConnection,
  ) {
    this.roomType = membership.spec.name;
    this.roomId = membership.roomId;
  }

  /**
   * Broadcasts an event to the other members; a NETWORK error while offline.
   *
   * @example
   * const room = client.rooms.documentEditor("doc-123");
   * const { error } = await room.emit("like", { targetId: "p1" });
   * if (error) showToast(error.message); // NETWORK while offline
   */
  readonly emit = async (event: string, data: unknown): Promise<DatabaseResult<void>> =>
    this.hasLeft ? this.left() : this.calls.emit(this.membership, event, data);

  /**
   * Sets a key of the room's shared status (`undefined` removes it); applies locally at once.
   *
   * @example
   * const room = client.rooms.documentEditor("doc-123");
   * await room.set("documentTitle", "Draft");
   */
  readonly set = async (key: string, value: unknown): Promise<DatabaseResult<void>> =>
    this.hasLeft ? this.left() : this.calls.setRoomStatus(this.membership, key, value);

  /**
   * Sets a key of this user's status (`undefined` removes it); applies locally at once.
   *
   * @example
   * const room = client.rooms.board("b1");
   * await room.setUserStatus("cursor", { x: 1, y: 2 });
   */
  readonly setUserStatus = async (key: string, value: unknown): Promise<DatabaseResult<void>> =>
    this.hasLeft ? this.left() : this.calls.setUserStatus(this.membership, key, value);

  /**
   * Listens to an event other members emit; returns an unsubscribe. The listener gets the data,
   * the sender's user id and `{ at, hlc }`: when the server relayed the event. Throws for an
   * event the room type does not have.
   *
   * @example
   * const room = client.rooms.documentEditor("doc-123");
   * const stop = room.on("like", (data, fromUserId, { at }) => showToast(`${fromUserId} liked ${data.targetId} at ${new Date(at).toLocaleTimeString()}`));
   */
  readonly on = (event: string, listener: Listener<[unknown, string | null, RoomEventMeta]>): (() => void) => {
    const { membership } = this;
    if (typeof listener !== "function") throw new TypeError("room.on(event, listener): listener must be a function.");
    if (!Object.hasOwn(membership.spec.events, event)) {
      throw new TypeError(`room.on: "${event}" is not an event of room type "${membership.spec.name}".`);
    }
    let listeners = membership.eventListeners.get(event);
    if (listeners === undefined) membership.eventListeners.set(event, (listeners = new Set()));
    return this.listen(listeners, listener);
  };

  /**
   * Calls `listener` with the whole room status whenever it changes; returns an unsubscribe.
   *
   * @example
   * const room = client.rooms.documentEditor("doc-123");
   * room.onRoomStatus((status) => renderTitle(status.documentTitle));
   */
  readonly onRoomStatus = (listener: Listener<[Status]>): (() => void) =>
    this.listen(this.membership.roomStatusListeners, listener);

  /**
   * Calls `listener` with every member's status, by user id, whenever one changes; returns an unsubscribe.
   *
   * @example
   * const room = client.rooms.board("b1");
   * room.onUserStatus((statuses) => renderCursors(statuses));
   */
  readonly onUserStatus = (listener: Listener<[Readonly<Record<string, Status>>]>): (() => void) =>
    this.listen(this.membership.userStatusListeners, listener);

  /**
   * Calls `listener` when the server refuses a message about this room; returns an unsubscribe.
   *
   * @example
   * const room = client.rooms.board("b1");
   * room.onError((error) => console.warn(error.code, error.message));
   */
  readonly onError = (listener: Listener<[DatabaseError]>): (() => void) =>
    this.listen(this.membership.errorListeners, listener);

  /** The room's shared status. */
  readonly getRoomStatus = (): Status => this.membership.roomStatus;

  /** Every member's status by user id (this user's included once known). */
  readonly getUserStatuses = (): Readonly<Record<string, Status>> => this.membership.users;

  /** This client's own status in the room. */
  readonly getMyUserStatus = (): Status => this.membership.myStatus;

  /** The latest refusal the server sent about this room, if any. */
  readonly getError = (): DatabaseError | undefined => this.membership.lastError;

  /**
   * Drops this handle's listeners and, with the last handle of the room, leaves it. Idempotent.
   *
   * @example
   * const room = client.rooms.board("b1");
   * const { leave } = room; // detached, it still works
   * leave();
   */
  readonly leave = (): void => {
    if (this.hasLeft) return;
    this.hasLeft = true;
    for (const unsubscribe of [...this.unsubscribes]) unsubscribe();
    this.calls.release(this.key, this.membership);
  };

  private listen<L>(set: Set<L>, listener: L): () => void {
    if (this.hasLeft) return () => {};
    set.add(listener);
    const unsubscribe = () => {
      set.delete(listener);
      this.unsubscribes.delete(unsubscribe);
    };
    this.unsubscribes.add(unsubscribe);
    return unsubscribe;
  }

  private left(): DatabaseResult<never> {
    const { roomType, roomId } = this;
    return fail("VALIDATION", `rooms.${roomType}("${roomId}"): this handle has left the room; open a new one.`, {
      roomType,
      roomId,
    });
  }
}
