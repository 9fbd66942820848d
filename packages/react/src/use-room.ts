import {
  type ClientConnection,
  type DatabaseResult,
  type RoomEventListener,
  type RoomEvents,
  type RoomHandle,
  type RoomSnapshot,
  type RoomStatus,
  RoomStore,
  type UserStatus,
} from "@trellis/client";
import { useEffect, useMemo, useSyncExternalStore } from "react";
import { createExternalStore } from "./external-store.js";

/** What {@link useRoom} gives: the room's state and stable functions to act in it. */
export interface RoomResult<R> extends RoomSnapshot<R> {
  /** Broadcasts an event to the other members (NETWORK error while offline). */
  readonly emit: <K extends keyof RoomEvents<R> & string>(
    event: K,
    data: RoomEvents<R>[K],
  ) => Promise<DatabaseResult<void>>;
  /** Sets a key of the room's shared status (`undefined` removes it). */
  readonly set: <K extends keyof RoomStatus<R> & string>(
    key: K,
    value: RoomStatus<R>[K] | undefined,
  ) => Promise<DatabaseResult<void>>;
  /** Sets a key of this user's status (`undefined` removes it). */
  readonly setUserStatus: <K extends keyof UserStatus<R> & string>(
    key: K,
    value: UserStatus<R>[K] | undefined,
  ) => Promise<DatabaseResult<void>>;
  /**
   * Listens to an event other members emit; returns an unsubscribe. Listeners are removed when
   * the component unmounts anyway: call it in an effect.
   */
  readonly on: <K extends keyof RoomEvents<R> & string>(event: K, listener: RoomEventListener<R, K>) => () => void;
}

/** Options of {@link useRoom}. */
export interface UseRoomOptions {
  /** The connection `isConnected` follows; default the room handle's (its client's). */
  readonly connection?: ClientConnection;
}

/**
 * Joins a room while the component is mounted (leaving it on unmount) and follows its room
 * status, every member's user status, its latest error and whether the client is connected.
 * `emit`, `set`, `setUserStatus` and `on` keep their identity for one room.
 *
 * @example
 * import { useEffect } from "react";
 * function Editor({ docId }: { docId: string }) {
 *   const { userStatuses, setUserStatus, emit, on } = useRoom(client.rooms.documentEditor, docId);
 *   useEffect(() => on("like", (data, fromUserId) => showToast(`${fromUserId} liked ${data.targetId}`)), [on]);
 *   return <div onPointerMove={(e) => setUserStatus("cursor", { x: e.clientX, y: e.clientY })}>
 *     {Object.entries(userStatuses).map(([userId, { cursor }]) => <i key={userId} style={{ left: cursor?.x, top: cursor?.y }} />)}
 *     <button onClick={() => emit("like", { targetId: docId })}>Like</button>
 *   </div>;
 * }
 */
export function useRoom<R>(
  room: (roomId?: string) => RoomHandle<R>,
  roomId?: string,
  options: UseRoomOptions = {},
): RoomResult<R> {
  const { connection } = options;
  const { roomStore, store, actions } = useMemo(() => {
    const roomStore = new RoomStore(room, roomId, connection);
    // Joined with the first render; left once the last subscriber is gone (see createExternalStore).
    const store = createExternalStore<RoomSnapshot<R>>((onChange) => {
      const stop = roomStore.subscribe(onChange);
      return {
        read: () => roomStore.getSnapshot(),
        close: () => {
          stop();
          roomStore.leave();
        },
      };
    });
    const inRoom =
      <A extends unknown[], T>(call: (...args: A) => T) =>
      (...args: A): T => {
        store.source();
        return call(...args);
      };
    const actions: Pick<RoomResult<R>, "emit" | "set" | "setUserStatus" | "on"> = {
      emit: inRoom((event, data) => roomStore.emit(event, data)),
      set: inRoom((key, value) => roomStore.set(key, value)),
      setUserStatus: inRoom((key, value) => roomStore.setUserStatus(key, value)),
      on: inRoom((event, listener) => roomStore.on(event, listener)),
    };
    return { roomStore, store, actions };
  }, [room, roomId, connection]);
  // Declared before the component's own effects: on unmount (and StrictMode's rehearsal) it
  // drops the listeners they added, and they add them again on remount.
  useEffect(() => () => roomStore.removeListeners(), [roomStore]);
  const snapshot = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getServerSnapshot);
  return useMemo(() => ({ ...snapshot, ...actions }), [snapshot, actions]);
}
