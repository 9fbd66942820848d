import { createSchema, type DatabaseError, type DatabaseResult, t } from "@trellis/core";
import { describe, expectTypeOf, it } from "vitest";
import { createClient } from "../create-client.js";
import { RoomStore } from "./room-store.js";
import type { RoomEventMeta, RoomHandle } from "./room-types.js";

const schema = createSchema({
  entities: { users: { name: t.string({ fallback: "" }) } },
  rooms: {
    documentEditor: {
      events: { like: t.object({ targetId: t.string({ fallback: "" }) }), ping: t.number({ fallback: 0 }) },
      userStatus: {
        cursor: t.object({ x: t.number({ fallback: 0 }), y: t.number({ fallback: 0 }) }),
        isTyping: t.boolean({ fallback: false }),
        selection: t.array(t.string({ fallback: "" })),
      },
      roomStatus: { documentTitle: t.string({ optional: true }), collaboratorCount: t.number({ fallback: 0 }) },
    },
    lobby: { events: { wave: t.string({ fallback: "" }) } },
  },
});
const client = createClient({ schema });

describe("room types", () => {
  it("has one function per room type, the room id optional", () => {
    expectTypeOf(client.rooms).toHaveProperty("documentEditor");
    expectTypeOf(client.rooms).toHaveProperty("lobby");
    expectTypeOf(client.rooms.documentEditor).parameters.toEqualTypeOf<[roomId?: string]>();
    // @ts-expect-error not a room of the schema
    void client.rooms.chat;
  });

  it("types refusals from the server", () => {
    const room = client.rooms.lobby();
    expectTypeOf(room.onError).parameter(0).parameter(0).toEqualTypeOf<DatabaseError>();
    expectTypeOf(room.getError()).toEqualTypeOf<DatabaseError | undefined>();
  });

  it("types event names and data", () => {
    const room = client.rooms.documentEditor("doc-1");
    expectTypeOf(room.emit("like", { targetId: "p1" })).toEqualTypeOf<Promise<DatabaseResult<void>>>();
    // @ts-expect-error unknown event
    void room.emit("dislike", { targetId: "p1" });
    // @ts-expect-error wrong data type
    void room.emit("like", { targetId: 1 });
    // @ts-expect-error wrong data type
    void room.emit("ping", "1");
    room.on("like", (data, from, meta) => {
      expectTypeOf(data).toEqualTypeOf<{ targetId: string }>();
      expectTypeOf(from).toEqualTypeOf<string | null>();
      expectTypeOf(meta).toEqualTypeOf<RoomEventMeta>();
      expectTypeOf(meta.at).toEqualTypeOf<number>();
      expectTypeOf(meta.hlc).toEqualTypeOf<string>();
    });
    expectTypeOf(room.on("ping", () => {})).toEqualTypeOf<() => void>();
    // @ts-expect-error a listener takes at most the data, the sender and the meta
    room.on("ping", (_data: number, _from: string | null, _meta: RoomEventMeta, _extra: string) => {});
    // @ts-expect-error the meta's time is a number of milliseconds
    room.on("ping", (_data: number, _from: string | null, _meta: { at: Date }) => {});
  });

  it("types status keys and values", () => {
    const room = client.rooms.documentEditor();
    void room.setUserStatus("cursor", { x: 1, y: 2 });
    void room.setUserStatus("selection", ["a"]);
    // @ts-expect-error a room status key is not a user status key
    void room.setUserStatus("documentTitle", "x");
    // @ts-expect-error wrong value type
    void room.setUserStatus("isTyping", "yes");
    void room.set("documentTitle", "Draft");
    // @ts-expect-error a user status key is not a room status key
    void room.set("cursor", { x: 1, y: 2 });
    expectTypeOf(room.getMyUserStatus().cursor).toEqualTypeOf<{ x: number; y: number } | undefined>();
    expectTypeOf(room.getRoomStatus().collaboratorCount).toEqualTypeOf<number | undefined>();
    expectTypeOf(room.getUserStatuses()).toEqualTypeOf<
      Record<string, { cursor?: { x: number; y: number }; isTyping?: boolean; selection?: string[] }>
    >();
    room.onUserStatus((all) => expectTypeOf(all["bob"]?.isTyping).toEqualTypeOf<boolean | undefined>());
    room.onRoomStatus((status) => expectTypeOf(status.documentTitle).toEqualTypeOf<string | undefined>());
  });

  it("a room type without statuses has no status keys", () => {
    const lobby: RoomHandle<(typeof schema.rooms)["lobby"]> = client.rooms.lobby();
    // @ts-expect-error no user status keys
    void lobby.setUserStatus("cursor", 1);
    void lobby.emit("wave", "hi");
  });

  it("types a RoomStore like the handle of its room type", () => {
    const store = new RoomStore(client.rooms.documentEditor, "doc-1");
    expectTypeOf(store.getSnapshot().roomStatus.documentTitle).toEqualTypeOf<string | undefined>();
    expectTypeOf(store.getSnapshot().userStatuses["bob"]?.isTyping).toEqualTypeOf<boolean | undefined>();
    void store.emit("like", { targetId: "p1" });
    // @ts-expect-error unknown event
    void store.emit("dislike", { targetId: "p1" });
    // @ts-expect-error a room status key is not a user status key
    void store.setUserStatus("documentTitle", "x");
    store.on("like", (data) => expectTypeOf(data).toEqualTypeOf<{ targetId: string }>());
    store.on("like", (_data, _from, meta) => expectTypeOf(meta).toEqualTypeOf<RoomEventMeta>());
  });
});
