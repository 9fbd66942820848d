import type { ClientConnection, DatabaseError, RoomHandle, RoomStatus, UserStatus } from "@trellis/client";
import { createExternalStore, type ExternalStore, type OpenedSource } from "./external-store.js";

/** What a room shows: replaced as a whole when a part changes. */
export interface RoomSnapshot<R> {
  readonly roomStatus: RoomStatus<R>;
  readonly userStatuses: Record<string, UserStatus<R>>;
  /** The latest refusal the server sent about this room, if any. */
  readonly error: DatabaseError | undefined;
  /** True while the client is connected to its server (always false for a local-only client). */
  readonly isConnected: boolean;
}

type EventListener = (data: unknown, fromUserId: string | null) => void;

/** An open room: its handle, and the handle's listeners per event. */
interface OpenRoom<R> extends OpenedSource<RoomSnapshot<R>> {
  readonly handle: RoomHandle<R>;
  listenTo(event: string): void;
}

/** A room as an external store, plus `on` listeners that outlive a handle being reopened. */
export interface RoomStore<R> extends ExternalStore<RoomSnapshot<R>, OpenRoom<R>> {
  /** Adds an event listener; returns its removal. */
  on(event: string, listener: EventListener): () => void;
  /** Removes every listener added with {@link on}. */
  removeListeners(): void;
}

const isUp = (connection: ClientConnection | undefined) =>
  connection?.state === "online" || connection?.state === "syncing";

/**
 * A room handle (joined on open, left on close) as an external store of its statuses, error
 * and connection.
 *
 * @example
 * const store = createRoomStore(() => client.rooms.board("b1"), client.connection);
 * store.on("like", (data, from) => console.log(from, data));
 */
export function createRoomStore<R>(join: () => RoomHandle<R>, connection: ClientConnection | undefined): RoomStore<R> {
  const listeners = new Map<string, Set<EventListener>>();
  const store = createExternalStore<RoomSnapshot<R>, OpenRoom<R>>((onChange) => {
    const handle = join();
    const followed = connection ?? handle.connection;
    const read = (): RoomSnapshot<R> => ({
      roomStatus: handle.getRoomStatus(),
      userStatuses: handle.getUserStatuses(),
      error: handle.getError(),
      isConnected: isUp(followed),
    });
    let snapshot = read();
    const refresh = () => {
      const next = read();
      // Only a change of some part makes a new snapshot (and a render).
      if ((Object.keys(next) as (keyof RoomSnapshot<R>)[]).every((key) => next[key] === snapshot[key])) return;
      snapshot = next;
      onChange();
    };
    const stops = [
      handle.onRoomStatus(refresh),
      handle.onUserStatus(refresh),
      handle.onError(refresh),
      followed.subscribe(refresh),
    ];
    const heard = new Set<string>();
    const listenTo = (event: string) => {
      if (heard.has(event)) return;
      heard.add(event);
      handle.on(event as never, (data: unknown, from: string | null) => {
        for (const listener of [...(listeners.get(event) ?? [])]) listener(data, from);
      });
    };
    for (const event of listeners.keys()) listenTo(event);
    return {
      handle,
      listenTo,
      read: () => snapshot,
      close: () => {
        for (const stop of stops) stop?.();
        handle.leave();
      },
    };
  });
  return {
    ...store,
    on(event, listener) {
      if (typeof listener !== "function")
        throw new TypeError("useRoom().on(event, listener): listener must be a function.");
      let set = listeners.get(event);
      if (set === undefined) listeners.set(event, (set = new Set()));
      set.add(listener);
      store.source().listenTo(event);
      return () => {
        listeners.get(event)?.delete(listener);
      };
    },
    removeListeners: () => listeners.clear(),
  };
}
