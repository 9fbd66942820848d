import { createClock, createSchema, encodeHlc, type ServerMessage, t, TICKS_PER_MS, TripleStore } from "@trellis/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createClient, type TrellisClient } from "../create-client.js";
import { DeferredSync } from "../deferred-sync.js";
import { storeApplier } from "../sync/remote-apply.js";
import { createFakeClient } from "../testing/fake-client.js";
import { createFakeWebSocket } from "../testing/fake-sync.js";
import { type WiredSync, wireSync } from "../wire-sync.js";
import type { RoomHandle } from "./room-types.js";
import { RoomsService } from "./rooms.js";

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
      roomStatus: {
        documentTitle: t.string({ optional: true }),
        collaboratorCount: t.number({ fallback: 0 }),
        savedAt: t.date({ optional: true }),
      },
    },
  },
});

const WELCOME: ServerMessage = {
  type: "welcome",
  serverHlc: encodeHlc({ ticks: Date.now() * 1024, node: "server" }),
  userId: "alice",
};
const ROOM = { roomType: "documentEditor", roomId: "doc-1" } as const;
const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

let clients: TrellisClient<typeof schema>[] = [];
afterEach(async () => {
  await Promise.all(clients.map((client) => client.close()));
  clients = [];
});

function setup() {
  const { client, fake } = createFakeClient(schema);
  clients.push(client);
  const socket = () => fake.last();
  const welcome = () => {
    socket().open();
    socket().receive(WELCOME);
  };
  const roomFrames = () => socket().sent.filter((message) => message.type !== "hello" && message.type !== "ping");
  return { client, socket, welcome, roomFrames };
}

describe("rooms: server refusals", () => {
  it("reaches the room's onError listeners and getError, not other rooms', until unsubscribed", () => {
    const { client, welcome, socket } = setup();
    welcome();
    const room = client.rooms.documentEditor("doc-1");
    const other = client.rooms.documentEditor("doc-2");
    const seen: string[] = [];
    const stop = room.onError((error) => seen.push(`${error.code}: ${error.message}`));
    other.onError((error) => seen.push(`other: ${error.message}`));
    const refusal: ServerMessage = {
      type: "error",
      code: "VALIDATION",
      message: "Too many room messages.",
      details: { ...ROOM, messagesPerSecond: 200 },
    };
    socket().receive(refusal);
    expect(seen).toEqual(["VALIDATION: Too many room messages."]);
    expect(room.getError()).toMatchObject({ code: "VALIDATION", details: { messagesPerSecond: 200 } });
    expect(other.getError()).toBeUndefined();
    expect(client.connection.lastError?.message).toBe("Too many room messages.");
    stop();
    socket().receive(refusal);
    expect(seen).toHaveLength(1);
  });
});

describe("rooms: frames out", () => {
  it("joins on welcome, then sends calls made while connecting, in order", async () => {
    const { client, welcome, roomFrames } = setup();
    const room = client.rooms.documentEditor("doc-1");
    // A handle carries its client's connection, so bindings need nothing else for isConnected.
    expect(room.connection).toBe(client.connection);
    await room.setUserStatus("cursor", { x: 1, y: 2 });
    const emitted = room.emit("like", { targetId: "p1" });
    await room.set("documentTitle", "Draft");
    welcome();
    expect(await emitted).toEqual({ data: undefined, error: undefined });
    expect(roomFrames()).toEqual([
      { type: "join", ...ROOM, userStatus: { cursor: { x: 1, y: 2 } } },
      { type: "emit", ...ROOM, event: "like", data: { targetId: "p1" } },
      { type: "setRoomStatus", ...ROOM, status: { documentTitle: "Draft" } },
    ]);
  });

  it("sends at once when connected; no id is the app-wide room; undefined removes a key", async () => {
    const { client, welcome, roomFrames } = setup();
    welcome();
    const room = client.rooms.documentEditor();
    expect(room.roomId).toBe("");
    await room.setUserStatus("isTyping", true);
    await room.emit("ping", 3);
    await room.set("collaboratorCount", 2);
    await room.set("collaboratorCount", undefined);
    const savedAt = new Date(1_700_000_000_000);
    await room.set("savedAt", savedAt);
    const app = { roomType: "documentEditor", roomId: "" };
    expect(roomFrames()).toEqual([
      { type: "join", ...app, userStatus: {} },
      { type: "setUserStatus", ...app, status: { isTyping: true } },
      { type: "emit", ...app, event: "ping", data: 3 },
      { type: "setRoomStatus", ...app, status: { collaboratorCount: 2 } },
      { type: "setRoomStatus", ...app, status: { collaboratorCount: null } },
      { type: "setRoomStatus", ...app, status: { savedAt: savedAt.getTime() } },
    ]);
    expect(room.getRoomStatus()).toEqual({ savedAt });
  });

  it("emit while offline is a NETWORK error; an emit waiting for a connection that fails is one too", async () => {
    const { client, socket, roomFrames } = setup();
    const room = client.rooms.documentEditor("doc-1");
    const waiting = room.emit("ping", 1);
    socket().drop();
    expect((await waiting).error?.code).toBe("NETWORK");
    expect((await room.emit("ping", 2)).error?.code).toBe("NETWORK");
    expect(roomFrames()).toEqual([]);
  });
});

describe("rooms: validation", () => {
  it("refuses unknown events and keys and wrong types before anything leaves", async () => {
    const { client, welcome, roomFrames } = setup();
    welcome();
    const room = client.rooms.documentEditor("doc-1");
    const loose = room as unknown as {
      emit(e: string, d: unknown): Promise<{ error?: { code: string; details?: unknown } }>;
      set(k: string, v: unknown): Promise<{ error?: { code: string } }>;
      setUserStatus(k: string, v: unknown): Promise<{ error?: { code: string; message: string } }>;
    };
    expect((await loose.emit("nope", {})).error?.code).toBe("VALIDATION");
    expect((await loose.emit("like", { targetId: 1 })).error?.details).toMatchObject({
      field: "documentEditor.events.like.targetId",
      ...ROOM,
    });
    expect((await loose.emit("like", { targetId: "a", extra: 1 })).error?.code).toBe("VALIDATION");
    expect((await loose.set("cursor", { x: 1, y: 1 })).error?.code).toBe("VALIDATION");
    expect((await loose.setUserStatus("selection", ["a", 2])).error?.message).toMatch(/selection\[1\]/);
    expect((await loose.setUserStatus("cursor", { x: Number.NaN, y: 0 })).error?.code).toBe("VALIDATION");
    expect(roomFrames()).toEqual([{ type: "join", ...ROOM, userStatus: {} }]);
    expect(room.getMyUserStatus()).toEqual({});
  });

  it("fills object members with a fallback when left out", async () => {
    const { client, welcome, socket } = setup();
    welcome();
    const room = client.rooms.documentEditor("doc-1");
    await (room as unknown as { setUserStatus(k: string, v: unknown): Promise<unknown> }).setUserStatus("cursor", {
      x: 5,
    });
    expect(socket().sentOf("setUserStatus")[0]?.status).toEqual({ cursor: { x: 5, y: 0 } });
  });
});

describe("rooms: incoming state", () => {
  it("applies roomState, userStatus and roomStatus and calls listeners with whole states", async () => {
    const { client, welcome, socket } = setup();
    welcome();
    const room = client.rooms.documentEditor("doc-1");
    const users: unknown[] = [];
    const statuses: unknown[] = [];
    room.onUserStatus((all) => users.push(all));
    room.onRoomStatus((status) => statuses.push(status));
    socket().receive({
      type: "roomState",
      ...ROOM,
      roomStatus: { documentTitle: "T", unknownKey: 1 },
      users: { alice: {}, bob: { isTyping: true } },
    });
    socket().receive({
      type: "userStatus",
      ...ROOM,
      userId: "bob",
      status: { isTyping: false, cursor: { x: 1, y: 1 } },
    });
    socket().receive({ type: "roomStatus", ...ROOM, status: { collaboratorCount: 2 } });
    socket().receive({ type: "roomStatus", ...ROOM, status: { documentTitle: null } });
    socket().receive({ type: "userStatus", ...ROOM, userId: "bob", status: null });
    // Another room's messages do not reach this one.
    socket().receive({
      type: "roomStatus",
      roomType: "documentEditor",
      roomId: "other",
      status: { collaboratorCount: 9 },
    });
    expect(statuses).toEqual([
      { documentTitle: "T" },
      { documentTitle: "T", collaboratorCount: 2 },
      { collaboratorCount: 2 },
    ]);
    expect(users).toEqual([
      { alice: {}, bob: { isTyping: true } },
      { alice: {}, bob: { isTyping: false, cursor: { x: 1, y: 1 } } },
      { alice: {} },
    ]);
    expect(room.getRoomStatus()).toEqual({ collaboratorCount: 2 });
    expect(room.getUserStatuses()).toEqual({ alice: {} });
  });

  it("keeps its own status over a room state that answers the join from before it was set", async () => {
    const { client, welcome, socket } = setup();
    welcome();
    const room = client.rooms.documentEditor("doc-1");
    await room.setUserStatus("cursor", { x: 3, y: 4 });
    await room.setUserStatus("selection", ["a"]);
    await room.setUserStatus("selection", undefined);
    // The join's answer, built before the server handled the setUserStatus calls (never echoed back).
    socket().receive({
      type: "roomState",
      ...ROOM,
      roomStatus: {},
      users: { alice: { isTyping: true, selection: ["old"] }, bob: {} },
    });
    expect(room.getUserStatuses()).toEqual({ alice: { isTyping: true, cursor: { x: 3, y: 4 } }, bob: {} });
  });

  it("applies its own status changes at once", async () => {
    const { client, welcome } = setup();
    welcome();
    const room = client.rooms.documentEditor("doc-1");
    const users: unknown[] = [];
    room.onUserStatus((all) => users.push(all));
    await room.setUserStatus("cursor", { x: 3, y: 4 });
    expect(room.getMyUserStatus()).toEqual({ cursor: { x: 3, y: 4 } });
    expect(users).toEqual([{ alice: { cursor: { x: 3, y: 4 } } }]);
    await room.set("documentTitle", "Mine");
    expect(room.getRoomStatus()).toEqual({ documentTitle: "Mine" });
  });

  it("calls event listeners with the data, sender and server stamp until unsubscribed; ignores data that does not fit", () => {
    const { client, welcome, socket } = setup();
    welcome();
    const room = client.rooms.documentEditor("doc-1");
    const likes: unknown[] = [];
    const off = room.on("like", (data, from, meta) => likes.push([data, from, meta]));
    const hlc = encodeHlc({ ticks: 1_700_000_000_123 * TICKS_PER_MS + 7, node: "server" });
    const event = (data: unknown) =>
      socket().receive({ type: "roomEvent", ...ROOM, event: "like", data, userId: "bob", hlc });
    event({ targetId: "p1" });
    event("not an object");
    off();
    event({ targetId: "p2" });
    expect(likes).toEqual([[{ targetId: "p1" }, "bob", { at: 1_700_000_000_123, hlc }]]);
  });
});

describe("rooms: membership", () => {
  it("shares one membership between handles; the last leave leaves", async () => {
    const { client, welcome, roomFrames } = setup();
    welcome();
    const first = client.rooms.documentEditor("doc-1");
    const second = client.rooms.documentEditor("doc-1");
    const seen: unknown[] = [];
    first.onRoomStatus((status) => seen.push(status));
    await second.set("documentTitle", "Shared");
    expect(first.getRoomStatus()).toEqual({ documentTitle: "Shared" });
    first.leave();
    first.leave();
    expect((await first.emit("ping", 1)).error?.code).toBe("VALIDATION");
    await second.set("collaboratorCount", 1);
    expect(seen).toEqual([{ documentTitle: "Shared" }]);
    second.leave();
    expect(roomFrames().map((frame) => frame.type)).toEqual(["join", "setRoomStatus", "setRoomStatus", "leave"]);
  });

  it("works with its methods called without the handle, as an effect's cleanup calls leave", async () => {
    const { client, welcome, roomFrames } = setup();
    welcome();
    const { set, onRoomStatus, getRoomStatus, leave } = client.rooms.documentEditor("doc-1");
    const seen: unknown[] = [];
    onRoomStatus((status) => seen.push(status));
    await set("documentTitle", "Detached");
    expect(getRoomStatus()).toEqual({ documentTitle: "Detached" });
    expect(seen).toEqual([{ documentTitle: "Detached" }]);
    leave();
    expect(roomFrames().map((frame) => frame.type)).toEqual(["join", "setRoomStatus", "leave"]);
  });

  it("re-joins every room with its current status after a reconnect", async () => {
    const { client, welcome, socket } = setup();
    welcome();
    const room = client.rooms.documentEditor("doc-1");
    client.rooms.documentEditor();
    await room.setUserStatus("isTyping", true);
    socket().drop();
    await room.setUserStatus("selection", ["a"]);
    await room.set("documentTitle", "Offline title");
    client.connect();
    welcome();
    expect(socket().sent.filter((frame) => frame.type !== "hello")).toEqual([
      { type: "join", ...ROOM, userStatus: { isTyping: true, selection: ["a"] } },
      { type: "join", roomType: "documentEditor", roomId: "", userStatus: {} },
      { type: "setRoomStatus", ...ROOM, status: { documentTitle: "Offline title" } },
    ]);
  });

  it("works locally without a server: own status and room status apply, emit is a NETWORK error", async () => {
    const client = createClient({ schema, userId: "alice" });
    clients.push(client);
    const room = client.rooms.documentEditor("doc-1");
    await room.setUserStatus("isTyping", true);
    expect(room.getUserStatuses()).toEqual({ alice: { isTyping: true } });
    expect((await room.set("documentTitle", "Local")).error).toBeUndefined();
    expect(room.getRoomStatus()).toEqual({ documentTitle: "Local" });
    expect((await room.emit("ping", 1)).error?.code).toBe("NETWORK");
    await tick();
  });

  it("keys its own status as anon:<clientId> on an anonymous development connection", async () => {
    const { client, socket } = setup();
    socket().open();
    socket().receive({ ...WELCOME, userId: null } as ServerMessage);
    const room = client.rooms.documentEditor("doc-1");
    await room.setUserStatus("isTyping", true);
    expect(room.getUserStatuses()).toEqual({ "anon:c1": { isTyping: true } });
  });

  it("a throwing listener does not stop the others", async () => {
    const { client, welcome } = setup();
    welcome();
    const room = client.rooms.documentEditor("doc-1");
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const seen: unknown[] = [];
    room.onRoomStatus(() => {
      throw new Error("boom");
    });
    room.onRoomStatus((status) => seen.push(status));
    await room.set("collaboratorCount", 3);
    expect(seen).toEqual([{ collaboratorCount: 3 }]);
    expect(error).toHaveBeenCalledOnce();
    error.mockRestore();
  });

  it("throws for a bad room id", () => {
    const { client } = setup();
    expect(() => client.rooms.documentEditor(5 as unknown as string)).toThrow(TypeError);
  });
});

describe("rooms: before sync's code arrived", () => {
  it("answer from local state, and send what was asked in order once the code arrives", async () => {
    const store = new TripleStore();
    const clock = createClock({ node: "c1" });
    let arrive!: (wired: WiredSync) => void;
    const sync = new DeferredSync(new Promise<WiredSync>((resolve) => (arrive = resolve)), storeApplier(store, clock));
    const rooms = new RoomsService(schema.roomSpecs!, sync, "alice", "c1", sync.connection);
    type Editor = (typeof schema)["rooms"]["documentEditor"];
    const room = rooms.open("documentEditor", "doc-1") as RoomHandle<Editor>;
    const left = rooms.open("documentEditor", "doc-2") as RoomHandle<Editor>;

    await room.setUserStatus("cursor", { x: 1, y: 2 });
    expect(room.getUserStatuses()).toEqual({ alice: { cursor: { x: 1, y: 2 } } });
    expect((await room.set("documentTitle", 5 as never)).error?.code).toBe("VALIDATION");
    await room.set("documentTitle", "Draft");
    expect(room.getRoomStatus()).toEqual({ documentTitle: "Draft" });
    const emitted = room.emit("like", { targetId: "p1" });
    // Waiting emits are the rooms' own: leaving or closing answers them without sync's code.
    const dropped = left.emit("ping", 1);
    left.leave();
    expect((await dropped).error?.message).toMatch(/room was left before the connection was up/);

    const fake = createFakeWebSocket();
    const serverUrl = "http://127.0.0.1:9";
    const options = { schema, serverUrl, userId: "alice", WebSocket: fake.WebSocket };
    const parts = {
      store,
      clock,
      appId: "app",
      clientId: "c1",
      persistence: undefined,
      serverUrl,
      token: () => undefined,
    };
    expect(fake.sockets).toEqual([]);
    arrive(wireSync(options, { ...parts, notifyWriteError: () => {} }));
    sync.connect();
    await sync.arrival;
    fake.last().open();
    fake.last().receive(WELCOME);
    expect(await emitted).toEqual({ data: undefined, error: undefined });
    expect(fake.last().sent.filter((message) => message.type !== "hello")).toEqual([
      { type: "join", ...ROOM, userStatus: { cursor: { x: 1, y: 2 } } },
      { type: "setRoomStatus", ...ROOM, status: { documentTitle: "Draft" } },
      { type: "emit", ...ROOM, event: "like", data: { targetId: "p1" } },
    ]);
    // What the server sends now reaches the room.
    fake.last().receive({ type: "roomStatus", ...ROOM, status: { collaboratorCount: 2 } });
    expect(room.getRoomStatus()).toEqual({ documentTitle: "Draft", collaboratorCount: 2 });
    rooms.close();
    await sync.close();
  });
});
