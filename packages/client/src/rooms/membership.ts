import type { DatabaseError, RoomSpec } from "@trellis/core";
import type { RoomEventMeta } from "./room-types.js";

/** A room's status (shared or one user's): the keys set so far. */
export type Status = Readonly<Record<string, unknown>>;
export type Listener<A extends unknown[]> = (...args: A) => void;

/**
 * One room this client is in, shared by every handle on it: the local copy of the room's state
 * and the listeners of its handles.
 *
 * @example
 * const membership = new Membership(schema.roomSpecs.documentEditor!, "doc-123");
 * membership.roomStatusListeners.add((status) => render(status));
 */
export class Membership {
  handles = 0;
  roomStatus: Status = {};
  /** Every member's status as last known, by user id (this user's kept up to date locally). */
  users: Readonly<Record<string, Status>> = {};
  /** This client's own status, read form and wire form. */
  myStatus: Status = {};
  myWire: Record<string, unknown> = {};
  /** Status keys this client has set or removed: its own copy of them is the latest it sent. */
  readonly myKeys = new Set<string>();
  readonly eventListeners = new Map<string, Set<Listener<[unknown, string | null, RoomEventMeta]>>>();
  readonly roomStatusListeners = new Set<Listener<[Status]>>();
  readonly userStatusListeners = new Set<Listener<[Readonly<Record<string, Status>>]>>();
  readonly errorListeners = new Set<Listener<[DatabaseError]>>();
  /** The latest refusal the server sent about this room. */
  lastError: DatabaseError | undefined;

  constructor(
    readonly spec: RoomSpec,
    readonly roomId: string,
  ) {}

  /** The room's type and id, as messages and error details name it. */
  get address(): { roomType: string; roomId: string } {
    return { roomType: this.spec.name, roomId: this.roomId };
  }

  /** Tells the handles' listeners the room status changed. */
  notifyRoomStatus(): void {
    for (const listener of [...this.roomStatusListeners]) callListener(listener, this.roomStatus);
  }

  /** Tells the handles' listeners a member's status changed. */
  notifyUserStatus(): void {
    for (const listener of [...this.userStatusListeners]) callListener(listener, this.users);
  }
}

/**
 * `status` with `key` set to `value` (`undefined`: removed), as a new object.
 *
 * @example
 * withKey({ title: "Draft" }, "title", undefined); // {}
 */
export function withKey(status: Status, key: string, value: unknown): Status {
  const next: Record<string, unknown> = { ...status };
  if (value === undefined) delete next[key];
  else next[key] = value;
  return next;
}

/**
 * Calls a handle's listener; what it throws is reported, never thrown into the call that changed the room.
 *
 * @example
 * callListener((status: Status) => render(status), { title: "Draft" });
 */
export function callListener<A extends unknown[]>(listener: Listener<A>, ...args: A): void {
  try {
    listener(...args);
  } catch (error) {
    console.error("Trellis rooms: a listener threw", error);
  }
}
