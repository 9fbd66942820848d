import {
  createClient,
  type DatabaseError,
  type PreloadData,
  type RoomEventMeta,
  type SubscriptionState,
} from "@trellis/client";
import { createSchema, t } from "@trellis/core";
import { describe, expectTypeOf, it } from "vitest";
import { useConnection } from "./use-connection.js";
import { usePaginated } from "./use-paginated.js";
import { useQuery } from "./use-query.js";
import { useQueryOne } from "./use-query-one.js";
import { useRoom } from "./use-room.js";

// Not the shared fixture's schema: an exported inferred schema trips the type checker's
// declaration portability check.
const schema = createSchema({
  entities: {
    todos: {
      title: t.string({ fallback: "" }),
      done: t.boolean({ optional: true, fallback: false }),
      note: t.string({ optional: true }),
    },
  },
  rooms: {
    board: {
      events: { like: t.object({ targetId: t.string({ fallback: "" }) }) },
      userStatus: { cursor: t.object({ x: t.number({ fallback: 0 }), y: t.number({ fallback: 0 }) }) },
      roomStatus: { title: t.string({ optional: true }) },
    },
  },
});
const client = createClient({ schema });
const todos = client.database.todos;
const noop = () => {};
type Row<T> = NonNullable<T> extends readonly (infer R)[] ? R : never;

describe("useQuery types", () => {
  it("follows the query's fields", () => {
    const { data, loading, error, hasSynced } = useQuery(todos, { fields: { title: true }, where: { done: false } });
    expectTypeOf(hasSynced).toEqualTypeOf<boolean>();
    expectTypeOf(data).toEqualTypeOf(
      todos.subscribe({ fields: { title: true }, where: { done: false } }, noop).getCurrentState().data,
    );
    expectTypeOf<Row<typeof data>>().toHaveProperty("title").toEqualTypeOf<string>();
    expectTypeOf<Row<typeof data>>().not.toHaveProperty("done");
    expectTypeOf(loading).toEqualTypeOf<boolean>();
    expectTypeOf(error).toEqualTypeOf<SubscriptionState<never>["error"]>();
  });

  it("gives whole documents without fields, and refuses unknown fields", () => {
    const { data } = useQuery(todos);
    expectTypeOf(data).toEqualTypeOf(todos.subscribe({}, noop).getCurrentState().data);
    expectTypeOf<Row<typeof data>>().toHaveProperty("done").toEqualTypeOf<boolean>();
    expectTypeOf<Row<typeof data>>().toHaveProperty("note").toEqualTypeOf<string | undefined>();
    // @ts-expect-error: colour is not a field of todos
    useQuery(todos, { where: { colour: "red" } });
    // @ts-expect-error: nor can it be selected
    useQuery(todos, { fields: { colour: true } });
  });

  it("types aggregate rows", () => {
    const { data } = useQuery(todos, { aggregations: { n: { count: "*" } }, where: { done: false } });
    expectTypeOf(data).toEqualTypeOf(
      todos.subscribe({ aggregations: { n: { count: "*" } }, where: { done: false } }, noop).getCurrentState().data,
    );
    expectTypeOf<Row<typeof data>>().toHaveProperty("n").toEqualTypeOf<number>();
  });

  it("carries the preloaded type", () => {
    const preloaded = {} as PreloadData<{ readonly id: string; readonly title: string }, "many">;
    expectTypeOf(useQuery(preloaded).data).toEqualTypeOf<
      readonly { readonly id: string; readonly title: string }[] | undefined
    >();
    expectTypeOf(useQuery(todos, preloaded).data).toEqualTypeOf<
      readonly { readonly id: string; readonly title: string }[] | undefined
    >();
    const one = {} as PreloadData<{ readonly title: string }, "one">;
    // @ts-expect-error: data from preloadOne goes to useQueryOne
    useQuery(one);
    expectTypeOf(useQueryOne(one).data).toEqualTypeOf<{ readonly title: string } | undefined>();
  });
});

describe("useQueryOne types", () => {
  it("gives one document or undefined", () => {
    const { data } = useQueryOne(todos, { fields: { title: true, done: true } });
    expectTypeOf(data).toEqualTypeOf(
      todos.subscribeOne({ fields: { title: true, done: true } }, noop).getCurrentState().data,
    );
    expectTypeOf<NonNullable<typeof data>>().toHaveProperty("done").toEqualTypeOf<boolean>();
    expectTypeOf<NonNullable<typeof data>>().not.toHaveProperty("note");
  });
});

describe("usePaginated types", () => {
  it("gives the page's documents, the page facts and next/previous", () => {
    const page = usePaginated(todos, { fields: { title: true }, orderBy: ["title", "asc"], pageSize: 10 });
    expectTypeOf(page.data).toEqualTypeOf(
      todos.paginated({ fields: { title: true }, orderBy: ["title", "asc"], pageSize: 10 }).getCurrentState().data,
    );
    expectTypeOf<Row<typeof page.data>>().toHaveProperty("title").toEqualTypeOf<string>();
    expectTypeOf<Row<typeof page.data>>().not.toHaveProperty("done");
    expectTypeOf(page.currentPage).toEqualTypeOf<number>();
    expectTypeOf(page.hasNext).toEqualTypeOf<boolean>();
    expectTypeOf(page.hasSynced).toEqualTypeOf<boolean>();
    expectTypeOf(page.next).toEqualTypeOf<() => Promise<void>>();
    expectTypeOf(page.previous).toEqualTypeOf<() => Promise<void>>();
    // @ts-expect-error: pageSize is required
    usePaginated(todos, { orderBy: ["title", "asc"] });
  });

  it("gives an aggregate query's rows, and a preloaded page's type", () => {
    const groups = usePaginated(todos, {
      aggregations: { n: { count: "*" } },
      groupBy: ["done"],
      orderBy: ["n", "desc"],
      pageSize: 10,
    });
    expectTypeOf(groups.data).toEqualTypeOf<readonly { done: boolean; n: number }[] | undefined>();
    const preloaded = {} as PreloadData<{ done: boolean; n: number }, "paginated">;
    expectTypeOf(usePaginated(preloaded).data).toEqualTypeOf<readonly { done: boolean; n: number }[] | undefined>();
    expectTypeOf(usePaginated(todos, preloaded).data).toEqualTypeOf(groups.data);
    // @ts-expect-error: orderBy names a group field or an aggregate
    usePaginated(todos, { groupBy: ["done"], orderBy: ["title", "asc"], pageSize: 10 });
  });
});

describe("useRoom types", () => {
  it("follows the schema's room", () => {
    const room = useRoom(client.rooms.board, "b1");
    expectTypeOf(room.roomStatus).toEqualTypeOf<{ title?: string }>();
    expectTypeOf(room.userStatuses).toEqualTypeOf<Record<string, { cursor?: { x: number; y: number } }>>();
    expectTypeOf(room.error).toEqualTypeOf<DatabaseError | undefined>();
    expectTypeOf(room.isConnected).toEqualTypeOf<boolean>();
    room.on("like", (data, fromUserId, meta) => {
      expectTypeOf(data).toEqualTypeOf<{ targetId: string }>();
      expectTypeOf(fromUserId).toEqualTypeOf<string | null>();
      expectTypeOf(meta).toEqualTypeOf<RoomEventMeta>();
    });
    void room.emit("like", { targetId: "card-1" });
    void room.setUserStatus("cursor", { x: 1, y: 2 });
    void room.set("title", "Sprint");
    // @ts-expect-error: not an event of board
    void room.emit("dislike", {});
    // @ts-expect-error: the event's data has the wrong shape
    void room.emit("like", { targetId: 1 });
    // @ts-expect-error: not a key of the user status
    void room.setUserStatus("colour", "red");
  });
});

describe("useConnection types", () => {
  it("gives the connection status", () => {
    const { state, pending, lastError } = useConnection();
    expectTypeOf(state).toEqualTypeOf<"initial" | "offline" | "connecting" | "syncing" | "online">();
    expectTypeOf(pending).toEqualTypeOf<number>();
    expectTypeOf(lastError).toEqualTypeOf<DatabaseError | undefined>();
  });
});
