// @vitest-environment jsdom
import { createClient } from "@trellis/client";
import { createSchema, t } from "@trellis/core";
import { render, screen } from "@testing-library/svelte";
import { afterEach, describe, expect, expectTypeOf, it } from "vitest";
import { NodeWebSocket, useBuiltServer } from "./testing/server-process.js";
import { type ReactiveRoom, useRoom } from "./use-room.svelte.js";
import Board from "./test-components/Board.svelte";
import Connection from "./test-components/Connection.svelte";
import TodoList from "./test-components/TodoList.svelte";

const schema = createSchema({
  entities: { todos: { title: t.string({ fallback: "" }) } },
  rooms: {
    board: {
      events: { like: t.object({ targetId: t.string({ fallback: "" }) }) },
      userStatus: { cursor: t.number({ optional: true }) },
      roomStatus: { title: t.string({ optional: true }) },
    },
  },
});

const server = useBuiltServer();
const clients: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});
let apps = 0;
const newApp = (prefix: string) => `${prefix}-${Date.now()}-${++apps}`;

function connected(appId: string, userId: string) {
  const client = createClient({
    schema,
    appId,
    userId,
    serverUrl: server.url,
    WebSocket: NodeWebSocket,
    reconnect: { baseMs: 20, maxMs: 200 },
    storage: "memory",
  });
  clients.push(client);
  return client;
}

async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string | (() => string),
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${typeof what === "string" ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const items = () => screen.queryAllByRole("listitem").map((item) => item.textContent);

describe("bindings against a server", () => {
  it("renders another client's writes", async () => {
    const appId = newApp("svelte-query");
    const viewer = connected(appId, "ada");
    const writer = connected(appId, "bob");
    render(TodoList, { collection: viewer.database.todos, input: { orderBy: ["title", "asc"] } });
    expect(screen.getByTestId("synced").textContent).toBe("false");
    await waitFor(() => screen.getByTestId("loading").textContent === "false", "the first answer");
    expect(screen.getByTestId("synced").textContent).toBe("true");
    await writer.database.todos.create({ title: "from bob" });
    await waitFor(
      () => items().includes("from bob"),
      () => `bob's write shows (${items().join()})`,
    );
  });

  it("shows the connection state", async () => {
    const client = connected(newApp("svelte-connection"), "ada");
    render(Connection, { client });
    await waitFor(
      () => screen.getByTestId("state").textContent === "online:0",
      () => `online (${screen.getByTestId("state").textContent})`,
    );
  });

  it("shares statuses and events between two clients, and leaves on destroy", async () => {
    const appId = newApp("svelte-room");
    const ada = connected(appId, "ada");
    const bob = connected(appId, "bob");
    let adaRoom: ReactiveRoom<unknown> | undefined;
    const likes: [string, string | null][] = [];
    const board = render(Board, {
      room: ada.rooms.board,
      roomId: "b1",
      // No connection passed and no client set in context: isConnected follows the room handle's.
      onLike: (targetId: string, from: string | null) => likes.push([targetId, from]),
      expose: (room: ReactiveRoom<unknown>) => (adaRoom = room),
    });
    const bobRoom = bob.rooms.board("b1");
    await waitFor(() => screen.getByTestId("connected").textContent === "true", "ada connected");
    await bobRoom.setUserStatus("cursor", 7);
    await waitFor(
      () => items().includes("bob:7"),
      () => `bob's cursor shows (${items().join()})`,
    );
    await bobRoom.set("title", "Plan");
    await waitFor(() => screen.getByTestId("title").textContent === "Plan", "room status shows");
    await (adaRoom as unknown as { setUserStatus(key: string, value: number): Promise<unknown> }).setUserStatus(
      "cursor",
      3,
    );
    await waitFor(() => bobRoom.getUserStatuses()["ada"]?.cursor === 3, "bob sees ada's cursor");
    await waitFor(async () => {
      await bobRoom.emit("like", { targetId: "p1" });
      return likes.length > 0;
    }, "ada hears bob's like");
    expect(likes[0]).toEqual(["p1", "bob"]);

    // Destroying the component leaves the room: ada's status disappears from bob's view.
    board.unmount();
    await waitFor(() => bobRoom.getUserStatuses()["ada"] === undefined, "ada left the room");
    bobRoom.leave();
  });

  it("follows a room id getter: leaves the old room, joins the new one, keeps the listeners", async () => {
    const appId = newApp("svelte-room-id");
    const ada = connected(appId, "ada");
    const bob = connected(appId, "bob");
    const likes: string[] = [];
    let adaRoom: { setUserStatus(key: string, value: number): Promise<unknown> } | undefined;
    const board = render(Board, {
      room: ada.rooms.board,
      roomId: "one",
      connection: ada.connection,
      onLike: (targetId: string) => likes.push(targetId),
      expose: (room: unknown) => (adaRoom = room as typeof adaRoom),
    });
    const bobInOne = bob.rooms.board("one");
    const bobInTwo = bob.rooms.board("two");
    await bobInTwo.setUserStatus("cursor", 2);
    await adaRoom!.setUserStatus("cursor", 1);
    await waitFor(() => bobInOne.getUserStatuses()["ada"]?.cursor === 1, "ada is in room one");
    await board.rerender({ roomId: "two" });
    await waitFor(
      () => items().includes("bob:2"),
      () => `room two's statuses show (${items().join()})`,
    );
    await waitFor(async () => {
      await bobInTwo.emit("like", { targetId: "in-two" });
      return likes.includes("in-two");
    }, "the listener moved to room two");
    await waitFor(() => bobInOne.getUserStatuses()["ada"] === undefined, "ada left room one");
    await adaRoom!.setUserStatus("cursor", 5);
    await waitFor(() => bobInTwo.getUserStatuses()["ada"]?.cursor === 5, "ada's actions go to room two");
    board.unmount();
    bobInOne.leave();
    bobInTwo.leave();
  });

  it("types room state and actions by the schema", () => {
    // Type-level only: useRoom needs a component to run.
    const _board = (client: ReturnType<typeof connected>) => useRoom(client.rooms.board, "b1");
    type Room = ReturnType<typeof _board>;
    expectTypeOf<Room["roomStatus"]["title"]>().toEqualTypeOf<string | undefined>();
    expectTypeOf<NonNullable<Room["userStatuses"][string]["cursor"]>>().toEqualTypeOf<number>();
    expectTypeOf<Parameters<Room["emit"]>>().toEqualTypeOf<["like", { targetId: string }]>();
    expectTypeOf<Room["isConnected"]>().toEqualTypeOf<boolean>();
  });
});
