import { createClient, type DatabaseError, type RoomEventMeta } from "@trellis/client";
import { createSchema, t } from "@trellis/core";
import { describe, expectTypeOf, it } from "vitest";
import type { ReactiveRoom } from "./use-room.svelte.js";

// Not a shared fixture's schema: an exported inferred schema trips the type checker's
// declaration portability check.
const schema = createSchema({
  entities: {},
  rooms: {
    board: {
      events: { like: t.object({ targetId: t.string({ fallback: "" }) }) },
      userStatus: { cursor: t.object({ x: t.number({ fallback: 0 }), y: t.number({ fallback: 0 }) }) },
      roomStatus: { title: t.string({ optional: true }) },
    },
  },
});
const client = createClient({ schema });
type Board = typeof schema.rooms.board;

describe("ReactiveRoom types", () => {
  it("reads the room's state and acts on it as its handle does, typed by the schema's room", () => {
    // useRoom needs a component to run: its return type is what is checked.
    const room = {} as ReactiveRoom<Board>;
    expectTypeOf(room.roomStatus).toEqualTypeOf<{ title?: string }>();
    expectTypeOf(room.userStatuses).toEqualTypeOf<Record<string, { cursor?: { x: number; y: number } }>>();
    expectTypeOf(room.error).toEqualTypeOf<DatabaseError | undefined>();
    expectTypeOf(room.isConnected).toEqualTypeOf<boolean>();
    const handle = client.rooms.board("b1");
    expectTypeOf(room.emit).toEqualTypeOf(handle.emit);
    expectTypeOf(room.set).toEqualTypeOf(handle.set);
    expectTypeOf(room.setUserStatus).toEqualTypeOf(handle.setUserStatus);
    expectTypeOf(room.on).toEqualTypeOf(handle.on);
    room.on("like", (data, fromUserId, meta) => {
      expectTypeOf(data).toEqualTypeOf<{ targetId: string }>();
      expectTypeOf(fromUserId).toEqualTypeOf<string | null>();
      expectTypeOf(meta).toEqualTypeOf<RoomEventMeta>();
    });
    // @ts-expect-error: not an event of board
    void room.emit("dislike", {});
    // @ts-expect-error: not a key of the user status
    void room.setUserStatus("colour", "red");
    room.subscribe((snapshot) => expectTypeOf(snapshot.roomStatus).toEqualTypeOf<{ title?: string }>());
  });
});
