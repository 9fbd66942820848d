import { type ClientConnection, type RoomHandle, type RoomSnapshot, RoomStore } from "@trellis/client";
import { onDestroy, untrack } from "svelte";
import { createSubscriber } from "svelte/reactivity";
import { subscribeReactive } from "./live-state.svelte.js";
import type { MaybeGetter } from "./resolve-input.js";

/**
 * What {@link useRoom} gives: reactive room state, the room's actions (those of its handle; the
 * listeners added with `on` are removed with the component anyway), and the store contract.
 */
export interface ReactiveRoom<R> extends RoomSnapshot<R>, Pick<RoomHandle<R>, "emit" | "set" | "setUserStatus" | "on"> {
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
 * <script lang="ts">
 *   let { documentId }: { documentId: string } = $props();
 *   const room = useRoom(client.rooms.documentEditor, () => documentId);
 *   room.on("like", (like, fromUserId) => showToast(`${fromUserId} liked ${like.targetId}`));
 * </script>
 * <div role="presentation" onpointermove={(e) => room.setUserStatus("cursor", { x: e.clientX, y: e.clientY })}>
 *   {#each Object.entries(room.userStatuses) as [id, status] (id)}
 *     {#if status.cursor}<span class="cursor" style:left="{status.cursor.x}px" style:top="{status.cursor.y}px">{id}</span>{/if}
 *   {/each}
 * </div>
 */
export function useRoom<R>(
  room: (roomId?: string) => RoomHandle<R>,
  roomId?: MaybeGetter<string | undefined>,
  options: UseRoomOptions = {},
): ReactiveRoom<R> {
  const readRoomId = typeof roomId === "function" ? roomId : () => roomId;
  const currentId = $derived(readRoomId() ?? "");
  const store = new RoomStore(room, undefined, options.connection);
  // Reads and actions move to the current room id first: they may run before the effect below.
  const inRoom = () => {
    const id = currentId;
    untrack(() => store.setRoomId(id));
    return store;
  };
  untrack(inRoom).join();
  // Moves to a new room as soon as the id changes, even when nothing reads the room's state.
  $effect.pre(() => void inRoom());
  onDestroy(() => {
    store.removeListeners();
    store.leave();
  });
  const track = createSubscriber((update) => store.subscribe(update));
  const read = (): RoomSnapshot<R> => {
    inRoom();
    track();
    return store.getSnapshot();
  };
  return {
    get roomStatus() {
      return read().roomStatus;
    },
    get userStatuses() {
      return read().userStatuses;
    },
    get error() {
      return read().error;
    },
    get isConnected() {
      return read().isConnected;
    },
    emit: (event, data) => untrack(inRoom).emit(event, data),
    set: (key, value) => untrack(inRoom).set(key, value),
    setUserStatus: (key, value) => untrack(inRoom).setUserStatus(key, value),
    on: (event, listener) => untrack(inRoom).on(event, listener),
    subscribe: (run) => subscribeReactive(read, run),
  };
}
