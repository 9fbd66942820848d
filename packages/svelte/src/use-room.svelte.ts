import type {
  ClientConnection,
  DatabaseError,
  DatabaseResult,
  RoomEvents,
  RoomHandle,
  RoomStatus,
  UserStatus,
} from "@trellis/client";
import { onDestroy, untrack } from "svelte";
import { createLiveState, type Feed, subscribeReactive } from "./live-state.svelte.js";
import type { MaybeGetter } from "./resolve-input.js";

/** A room's state at one moment: the value of `$room`. */
export interface RoomSnapshot<R> {
  readonly roomStatus: RoomStatus<R>;
  /** Every member's status by user id (this user's included once known). */
  readonly userStatuses: Record<string, UserStatus<R>>;
  /** The latest refusal the server sent about this room, if any. */
  readonly error: DatabaseError | undefined;
  /** True while the client is connected to its server (always false for a local-only client). */
  readonly isConnected: boolean;
}

/** What {@link useRoom} gives: reactive room state, the room's actions, and the store contract. */
export interface ReactiveRoom<R> extends RoomSnapshot<R> {
  /** Broadcasts an event to the other members (NETWORK error while offline). */
  emit<K extends keyof RoomEvents<R> & string>(event: K, data: RoomEvents<R>[K]): Promise<DatabaseResult<void>>;
  /** Sets a key of the room's shared status (`undefined` removes it). */
  set<K extends keyof RoomStatus<R> & string>(
    key: K,
    value: RoomStatus<R>[K] | undefined,
  ): Promise<DatabaseResult<void>>;
  /** Sets a key of this user's status (`undefined` removes it). */
  setUserStatus<K extends keyof UserStatus<R> & string>(
    key: K,
    value: UserStatus<R>[K] | undefined,
  ): Promise<DatabaseResult<void>>;
  /** Listens to an event other members emit; returns an unsubscribe. Removed with the component anyway. */
  on<K extends keyof RoomEvents<R> & string>(
    event: K,
    listener: (data: RoomEvents<R>[K], fromUserId: string | null) => void,
  ): () => void;
  subscribe(run: (snapshot: RoomSnapshot<R>) => void): () => void;
}

/** Options of {@link useRoom}. */
export interface UseRoomOptions {
  /** The connection `isConnected` follows; default the room handle's (its client's). */
  readonly connection?: ClientConnection;
}

/**
 * Joins a room for the life of the component (call it during component initialisation): on
 * destroy its listeners are removed and the room is left. Room status, user statuses, error and
 * `isConnected` are reactive, and the object is a store (`$room`). A getter for the room id
 * follows reactive state (a route parameter, say): a new id leaves the old room, joins the new
 * one and moves the listeners added with `on`.
 *
 * @example
 * <script>
 *   let { data } = $props();
 *   const room = useRoom(client.rooms.board, () => data.boardId);
 *   room.on("like", (like, fromUserId) => toast(`${fromUserId} liked ${like.targetId}`));
 * </script>
 * <div onpointermove={(e) => room.setUserStatus("cursor", { x: e.clientX, y: e.clientY })}>
 *   {#each Object.entries(room.userStatuses) as [userId, status]}<Cursor {userId} {...status.cursor} />{/each}
 * </div>
 */
export function useRoom<R>(
  room: (roomId?: string) => RoomHandle<R>,
  roomId?: MaybeGetter<string | undefined>,
  options: UseRoomOptions = {},
): ReactiveRoom<R> {
  if (typeof room !== "function")
    throw new TypeError("useRoom: pass a room type of the client, like client.rooms.board.");
  const readRoomId = typeof roomId === "function" ? roomId : () => roomId;
  const currentId = $derived(readRoomId() ?? "");
  let handleId = untrack(() => currentId);
  let handle = room(handleId);
  const connection = options.connection ?? handle.connection;
  // Loosely typed inside: `on` checks event names and data against the schema.
  type Listener = (data: any, fromUserId: string | null) => void;
  const listeners = new Set<{ readonly event: string; readonly listener: Listener; stop: () => void }>();

  // The handle of the current room id: a changed id leaves the old room and joins the new one.
  const current = (): RoomHandle<R> => {
    const id = currentId;
    if (id !== handleId) {
      untrack(() => {
        handle.leave();
        handleId = id;
        handle = room(id);
        for (const entry of listeners)
          entry.stop = handle.on(entry.event as keyof RoomEvents<R> & string, entry.listener);
      });
    }
    return handle;
  };
  // Moves to a new room as soon as the id changes, even when nothing reads the room's state.
  $effect.pre(() => {
    current();
  });
  onDestroy(() => handle.leave());

  const roomKey = () => currentId;
  const roomStatus = follow(
    roomKey,
    () => handle.getRoomStatus(),
    (onChange) => handle.onRoomStatus(onChange),
    current,
  );
  const userStatuses = follow(
    roomKey,
    () => handle.getUserStatuses(),
    (onChange) => handle.onUserStatus(onChange),
    current,
  );
  const error = follow(
    roomKey,
    () => handle.getError(),
    (onChange) => handle.onError(onChange),
    current,
  );
  const isConnected = follow(
    () => "",
    () => isUp(connection.state),
    (onChange) => connection.subscribe(onChange),
    () => undefined,
  );
  return {
    get roomStatus() {
      return roomStatus();
    },
    get userStatuses() {
      return userStatuses();
    },
    get error() {
      return error();
    },
    get isConnected() {
      return isConnected();
    },
    emit: (event, data) => untrack(current).emit(event, data),
    set: (key, value) => untrack(current).set(key, value),
    setUserStatus: (key, value) => untrack(current).setUserStatus(key, value),
    on(event, listener) {
      const entry = { event, listener: listener as Listener, stop: untrack(current).on(event, listener) };
      listeners.add(entry);
      return () => {
        listeners.delete(entry);
        entry.stop();
      };
    },
    subscribe: (run) =>
      subscribeReactive(
        () => ({ roomStatus: roomStatus(), userStatuses: userStatuses(), error: error(), isConnected: isConnected() }),
        run,
      ),
  };
}

/** A reactive read of one part of the room; `prepare` swaps in the current room's handle first. */
function follow<S>(
  key: () => string,
  read: () => S,
  listen: (onChange: () => void) => () => void,
  prepare: () => unknown,
): () => S {
  const feed: Feed<S> = { current: read, follow: (onChange) => listen(() => onChange()) };
  return createLiveState(key, () => {
    prepare();
    return feed;
  }).read;
}

function isUp(state: ClientConnection["state"]): boolean {
  return state === "online" || state === "syncing";
}
