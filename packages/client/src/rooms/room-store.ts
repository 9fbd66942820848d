import type { DatabaseError, DatabaseResult } from "@trellis/core";
import type { ClientConnection } from "../sync/client-connection.js";
import type { RoomEventListener, RoomEventMeta, RoomEvents, RoomHandle, RoomStatus, UserStatus } from "./room-types.js";

/** What a room shows at one moment: replaced as a whole when a part changes. */
export interface RoomSnapshot<R> {
  readonly roomStatus: RoomStatus<R>;
  /** Every member's status by user id (this user's included once known). */
  readonly userStatuses: Record<string, UserStatus<R>>;
  /** The latest refusal the server sent about this room, if any. */
  readonly error: DatabaseError | undefined;
  /** True while the client is connected to its server (always false for a local-only client). */
  readonly isConnected: boolean;
}

// Loosely typed inside: the handle's `on` checks event names and data against the schema.
type EventListener = (data: any, fromUserId: string | null, meta: RoomEventMeta) => void;
type Entry = { readonly event: string; readonly listener: EventListener; stop: () => void };

/**
 * A room as a store for framework bindings: `subscribe(onChange)` and `getSnapshot()` (the same
 * object until a part changes) over a room handle and the client's connection, plus the room's
 * actions. Listeners added with {@link on} outlive the handle: they move to the next one when the
 * store joins again (after {@link leave}) or moves to another room id ({@link setRoomId}).
 *
 * @example
 * const store = new RoomStore(client.rooms.documentEditor, "doc-123");
 * const stop = store.subscribe(() => render(store.getSnapshot().userStatuses));
 * store.on("like", (data, fromUserId) => showToast(`${fromUserId} liked ${data.targetId}`));
 * await store.setUserStatus("cursor", { x: 1, y: 2 });
 * stop();
 * store.leave();
 */
export class RoomStore<R> {
  /** The latest handle, joined or left: actions go to it. */
  private handle: RoomHandle<R> | undefined;
  private isIn = false;
  private snapshot: RoomSnapshot<R> | undefined;
  private stops: (() => void)[] = [];
  private readonly subscribers = new Set<{ readonly onChange: () => void }>();
  private readonly listeners = new Set<Entry>();

  /**
   * @param room A room type of the client, like `client.rooms.board`.
   * @param roomId The room to join; none or `""` is the app-wide room.
   * @param connection The connection `isConnected` follows; default the handle's (its client's).
   */
  constructor(
    private readonly room: (roomId?: string) => RoomHandle<R>,
    private roomId = "",
    private readonly connection?: ClientConnection,
  ) {
    if (typeof room !== "function") throw new TypeError("Pass a room type of the client, like client.rooms.board.");
  }

  /**
   * Joins the room unless the store is in it; returns the handle.
   *
   * @example
   * const store = new RoomStore(client.rooms.board, "b1");
   * const handle = store.join();
   * console.log(handle.roomId); // "b1"
   */
  join(): RoomHandle<R> {
    if (this.isIn) return this.handle!;
    const handle = (this.handle = this.room(this.roomId));
    this.isIn = true;
    const connection = this.connection ?? handle.connection;
    const refresh = () => {
      const previous = this.snapshot;
      const next: RoomSnapshot<R> = {
        roomStatus: handle.getRoomStatus(),
        userStatuses: handle.getUserStatuses(),
        error: handle.getError(),
        isConnected: connection.state === "online" || connection.state === "syncing",
      };
      // Only a change of some part makes a new snapshot (and calls subscribers).
      if (previous && (Object.keys(next) as (keyof RoomSnapshot<R>)[]).every((key) => next[key] === previous[key]))
        return;
      this.snapshot = next;
      for (const subscriber of [...this.subscribers]) subscriber.onChange();
    };
    refresh();
    this.stops = [
      handle.onRoomStatus(refresh),
      handle.onUserStatus(refresh),
      handle.onError(refresh),
      connection.subscribe(refresh),
    ];
    for (const entry of this.listeners) entry.stop = handle.on(entry.event as never, entry.listener);
    return handle;
  }

  /**
   * Leaves the room (the handle's listeners go with it); listeners added with {@link on} are kept
   * for the next {@link join}. Idempotent.
   *
   * @example
   * const store = new RoomStore(client.rooms.board, "b1");
   * store.join();
   * store.leave();
   */
  leave(): void {
    if (!this.isIn) return;
    this.isIn = false;
    for (const stop of this.stops) stop();
    this.stops = [];
    this.handle!.leave();
  }

  /**
   * Moves to another room: leaves the current one and joins `roomId` (when in a room), moving the
   * listeners added with {@link on}. Subscribers hear of the new room's state if it differs.
   *
   * @example
   * const store = new RoomStore(client.rooms.board, "b1");
   * store.join();
   * store.setRoomId("b2"); // leaves b1, joins b2
   */
  setRoomId(roomId: string): void {
    if (roomId === this.roomId) return;
    this.roomId = roomId;
    if (!this.isIn) return;
    this.leave();
    this.join();
  }

  /**
   * Calls `onChange` (not at once) whenever the snapshot changes; joins the room if the store is
   * not in it. Returns an unsubscribe.
   *
   * @example
   * const store = new RoomStore(client.rooms.board, "b1");
   * const stop = store.subscribe(() => render(store.getSnapshot()));
   */
  subscribe(onChange: () => void): () => void {
    if (typeof onChange !== "function") throw new TypeError("RoomStore.subscribe: pass a callback () => ….");
    this.join();
    const subscriber = { onChange };
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }

  /**
   * The room's state: the same object until a part changes. Joins the room if the store never
   * was in it; after {@link leave}, the last state seen.
   *
   * @example
   * const store = new RoomStore(client.rooms.board, "b1");
   * const { userStatuses, isConnected } = store.getSnapshot();
   */
  getSnapshot(): RoomSnapshot<R> {
    if (this.snapshot === undefined) this.join();
    return this.snapshot!;
  }

  /**
   * Broadcasts an event to the other members (NETWORK error while offline).
   *
   * @example
   * const store = new RoomStore(client.rooms.documentEditor, "doc-123");
   * await store.emit("like", { targetId: "p1" });
   */
  emit<K extends keyof RoomEvents<R> & string>(event: K, data: RoomEvents<R>[K]): Promise<DatabaseResult<void>> {
    return this.target().emit(event, data);
  }

  /**
   * Sets a key of the room's shared status (`undefined` removes it).
   *
   * @example
   * const store = new RoomStore(client.rooms.documentEditor, "doc-123");
   * await store.set("documentTitle", "Sprint notes");
   */
  set<K extends keyof RoomStatus<R> & string>(
    key: K,
    value: RoomStatus<R>[K] | undefined,
  ): Promise<DatabaseResult<void>> {
    return this.target().set(key, value);
  }

  /**
   * Sets a key of this user's status (`undefined` removes it).
   *
   * @example
   * const store = new RoomStore(client.rooms.board, "b1");
   * await store.setUserStatus("cursor", { x: 1, y: 2 });
   */
  setUserStatus<K extends keyof UserStatus<R> & string>(
    key: K,
    value: UserStatus<R>[K] | undefined,
  ): Promise<DatabaseResult<void>> {
    return this.target().setUserStatus(key, value);
  }

  /**
   * Listens to an event other members emit, on this handle and every later one of the store
   * (the listener gets the data, the sender's user id and when the server relayed it); returns
   * an unsubscribe. Throws at once for a listener that is not a function or an event the
   * room type does not have.
   *
   * @example
   * const store = new RoomStore(client.rooms.documentEditor, "doc-123");
   * const stop = store.on("like", (data, fromUserId) => showToast(`${fromUserId} liked ${data.targetId}`));
   */
  on<K extends keyof RoomEvents<R> & string>(event: K, listener: RoomEventListener<R, K>): () => void {
    if (typeof listener !== "function") throw new TypeError("room.on(event, listener): listener must be a function.");
    const entry: Entry = { event, listener, stop: this.target().on(event, listener) };
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
      entry.stop();
    };
  }

  /**
   * Removes every listener added with {@link on}.
   *
   * @example
   * const store = new RoomStore(client.rooms.documentEditor, "doc-123");
   * store.on("like", (data) => showToast(`Liked ${data.targetId}`));
   * store.removeListeners(); // a component unmounts
   */
  removeListeners(): void {
    for (const entry of this.listeners) entry.stop();
    this.listeners.clear();
  }

  /** The handle actions go to: the latest one, joined now if there was none. */
  private target(): RoomHandle<R> {
    return this.handle ?? this.join();
  }
}
