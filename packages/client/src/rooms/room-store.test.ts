import { createSchema, encodeHlc, type ServerMessage, t } from "@trellis/core";
import { afterEach, describe, expect, it } from "vitest";
import type { TrellisClient } from "../create-client.js";
import { createFakeClient } from "../testing/fake-client.js";
import { RoomStore } from "./room-store.js";

// The behaviour React's useRoom and Svelte's useRoom share, tested once here.

const schema = createSchema({
  entities: {},
  rooms: {
    board: {
      events: { like: t.object({ targetId: t.string({ fallback: "" }) }) },
      userStatus: { cursor: t.number({ fallback: 0 }) },
      roomStatus: { title: t.string({ optional: true }) },
    },
  },
});
const WELCOME: ServerMessage = {
  type: "welcome",
  serverHlc: encodeHlc({ ticks: Date.now() * 1024, node: "server" }),
  userId: "ada",
};

let clients: TrellisClient<typeof schema>[] = [];
afterEach(async () => {
  await Promise.all(clients.map((client) => client.close()));
  clients = [];
});

function setup() {
  const { client, fake } = createFakeClient(schema, { userId: "ada" });
  clients.push(client);
  const welcome = () => {
    fake.last().open();
    fake.last().receive(WELCOME);
  };
  const like = (roomId: string, targetId: string) =>
    fake.last().receive({
      type: "roomEvent",
      roomType: "board",
      roomId,
      event: "like",
      data: { targetId },
      userId: "bob",
      hlc: WELCOME.type === "welcome" ? WELCOME.serverHlc : "",
    });
  const joined = () => fake.last().sent.filter((message) => message.type === "join" || message.type === "leave");
  return { client, welcome, like, joined };
}

describe("RoomStore", () => {
  it("keeps its snapshot until a part changes, and calls subscribers only then", async () => {
    const { client } = setup();
    const store = new RoomStore(client.rooms.board, "b1");
    const first = store.getSnapshot();
    expect(first).toEqual({ roomStatus: {}, userStatuses: { ada: {} }, error: undefined, isConnected: false });
    let calls = 0;
    const stop = store.subscribe(() => calls++);
    expect(calls).toBe(0);
    await store.set("title", "Sprint");
    expect(calls).toBe(1);
    expect(store.getSnapshot()).not.toBe(first);
    expect(store.getSnapshot().roomStatus).toEqual({ title: "Sprint" });
    const second = store.getSnapshot();
    await store.setUserStatus("cursor", 3);
    expect(calls).toBe(2);
    expect(store.getSnapshot().roomStatus).toBe(second.roomStatus);
    stop();
    await store.set("title", "Later");
    expect(calls).toBe(2);
    store.leave();
  });

  it("follows the connection: isConnected once welcomed", () => {
    const { client, welcome } = setup();
    const store = new RoomStore(client.rooms.board, "b1");
    const seen: boolean[] = [];
    store.subscribe(() => seen.push(store.getSnapshot().isConnected));
    welcome();
    expect(seen.at(-1)).toBe(true);
    store.leave();
  });

  it("keeps `on` listeners across leaving and joining again, and moves them to a new room id", () => {
    const { client, welcome, like, joined } = setup();
    welcome();
    const store = new RoomStore(client.rooms.board, "b1");
    const likes: string[] = [];
    const off = store.on("like", (data, from) => likes.push(`${from}:${data.targetId}`));
    like("b1", "one");
    store.leave();
    like("b1", "gone");
    store.join();
    like("b1", "two");
    store.setRoomId("b2");
    like("b1", "old room");
    like("b2", "three");
    off();
    like("b2", "after off");
    expect(likes).toEqual(["bob:one", "bob:two", "bob:three"]);
    expect(joined().map((message) => `${message.type}:${(message as { roomId: string }).roomId}`)).toEqual([
      "join:b1",
      "leave:b1",
      "join:b1",
      "leave:b1",
      "join:b2",
    ]);
    store.removeListeners();
    store.leave();
  });

  it("refuses what is not a room type or a listener at once", () => {
    const { client } = setup();
    expect(() => new RoomStore(undefined as never)).toThrow(/room type of the client/);
    const store = new RoomStore(client.rooms.board, "b1");
    expect(() => store.on("like", "listener" as never)).toThrow(/listener must be a function/);
    expect(() => store.on("nope" as never, () => {})).toThrow(/not an event/);
    store.leave();
  });

  it("sends actions to the handle it left after leave, which refuses them", async () => {
    const { client } = setup();
    const store = new RoomStore(client.rooms.board, "b1");
    store.join();
    store.leave();
    expect((await store.set("title", "x")).error?.code).toBe("VALIDATION");
  });
});
