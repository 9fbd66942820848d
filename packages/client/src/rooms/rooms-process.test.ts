import { createSchema, decodeHlc, hlcMillis, t } from "@trellis/core";
import { removeDataDir, type ServerProcess, startServerProcess } from "@trellis/server/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createClient, type TrellisClient } from "../create-client.js";
import { RoomStore } from "./room-store.js";
import type { RoomEventMeta } from "./room-types.js";
import { FAST_RECONNECT, recordFrames, waitFor } from "../testing/live-server.js";

// The rooms test list, against a real `trellis-server` process and several real clients.

const schema = createSchema({
  entities: {},
  rooms: {
    documentEditor: {
      events: { like: t.object({ targetId: t.string({ fallback: "" }) }) },
      userStatus: { cursor: t.object({ x: t.number({ fallback: 0 }), y: t.number({ fallback: 0 }) }) },
      roomStatus: { documentTitle: t.string({ optional: true }), collaboratorCount: t.number({ fallback: 0 }) },
    },
  },
});

type Client = TrellisClient<typeof schema>;
type Room = ReturnType<Client["rooms"]["documentEditor"]>;

/** How long a test waits before concluding that something did not arrive. */
const ABSENCE_MS = 150;

let server: ServerProcess;
let clients: Client[] = [];
let apps = 0;

beforeAll(async () => {
  server = await startServerProcess();
});
afterEach(async () => {
  await Promise.all(clients.map((client) => client.close()));
  clients = [];
});
afterAll(async () => {
  await server?.stop();
  if (server) removeDataDir(server.dataDir);
});

function connect(
  appId: string,
  userId: string,
  options: { WebSocket?: ReturnType<typeof recordFrames>["WebSocket"] } = {},
): Client {
  const client = createClient({ schema, appId, userId, serverUrl: server.url, reconnect: FAST_RECONNECT, ...options });
  clients.push(client);
  return client;
}

/** Records every `like` a room handle receives, as [targetId, from]. */
function likesOf(room: Room): [string, string | null][] {
  const likes: [string, string | null][] = [];
  room.on("like", (data, from) => likes.push([data.targetId, from]));
  return likes;
}

/** Sets a cursor on each room and waits until every room sees every other member's cursor (so all are joined). */
async function joinedTogether(rooms: readonly [Room, string][]): Promise<void> {
  for (const [room, userId] of rooms) await room.setUserStatus("cursor", { x: userId.length, y: 0 });
  for (const [room] of rooms) {
    for (const [, userId] of rooms) {
      await waitFor(
        () => room.getUserStatuses()[userId]?.cursor?.x === userId.length,
        () => `${userId}'s cursor in ${room.roomId}; statuses: ${JSON.stringify(room.getUserStatuses())}`,
      );
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("rooms against a server process", () => {
  it("delivers events to the other members with the sender's user id, never to another room or app", async () => {
    const appA = `rooms-process-${++apps}`;
    const appB = `rooms-process-${++apps}`;
    const [alice, bob, carol, dave] = [
      connect(appA, "alice"),
      connect(appA, "bob"),
      connect(appA, "carol"),
      connect(appA, "dave"),
    ];
    const [otherBob, otherCarol] = [connect(appB, "bob"), connect(appB, "carol")];
    const aliceDoc1 = alice.rooms.documentEditor("doc-1");
    const aliceDoc2 = alice.rooms.documentEditor("doc-2");
    const bobDoc1 = bob.rooms.documentEditor("doc-1");
    const carolDoc1 = carol.rooms.documentEditor("doc-1");
    const daveDoc2 = dave.rooms.documentEditor("doc-2");
    const otherBobDoc1 = otherBob.rooms.documentEditor("doc-1");
    const otherCarolDoc1 = otherCarol.rooms.documentEditor("doc-1");
    const [aliceGot, bobGot, carolGot, daveGot] = [
      likesOf(aliceDoc1),
      likesOf(bobDoc1),
      likesOf(carolDoc1),
      likesOf(daveDoc2),
    ];
    const [otherBobGot, otherCarolGot] = [likesOf(otherBobDoc1), likesOf(otherCarolDoc1)];
    await joinedTogether([
      [aliceDoc1, "alice"],
      [bobDoc1, "bob"],
      [carolDoc1, "carol"],
    ]);
    await joinedTogether([
      [aliceDoc2, "alice"],
      [daveDoc2, "dave"],
    ]);
    await joinedTogether([
      [otherBobDoc1, "bob"],
      [otherCarolDoc1, "carol"],
    ]);
    // App B's doc-1 holds only app B's members.
    expect(Object.keys(otherBobDoc1.getUserStatuses()).sort()).toEqual(["bob", "carol"]);

    for (const targetId of ["p1", "p2", "p3"])
      expect(await aliceDoc1.emit("like", { targetId })).toEqual({ data: undefined, error: undefined });
    expect(await aliceDoc2.emit("like", { targetId: "d2" })).toMatchObject({ error: undefined });
    expect(await otherCarolDoc1.emit("like", { targetId: "b1" })).toMatchObject({ error: undefined });
    const fromAlice = [
      ["p1", "alice"],
      ["p2", "alice"],
      ["p3", "alice"],
    ];
    await waitFor(
      () => bobGot.length >= 3 && carolGot.length >= 3,
      () => `alice's likes at bob and carol: ${JSON.stringify([bobGot, carolGot])}`,
    );
    await waitFor(
      () => daveGot.length >= 1 && otherBobGot.length >= 1,
      () => `doc-2's like at dave, app B's at bob: ${JSON.stringify([daveGot, otherBobGot])}`,
    );
    await sleep(ABSENCE_MS);
    expect(bobGot).toEqual(fromAlice);
    expect(carolGot).toEqual(fromAlice);
    expect(daveGot).toEqual([["d2", "alice"]]);
    expect(otherBobGot).toEqual([["b1", "carol"]]);
    expect(aliceGot).toEqual([]); // never echoed to the sender
    expect(otherCarolGot).toEqual([]);
  });

  it("delivers 200 events from one sender in order to two receivers", async () => {
    const app = `rooms-process-${++apps}`;
    const [alice, bob, carol] = [connect(app, "alice"), connect(app, "bob"), connect(app, "carol")];
    const [roomA, roomB, roomC] = [alice, bob, carol].map((client) => client.rooms.documentEditor("burst"));
    const [bobGot, carolGot] = [likesOf(roomB!), likesOf(roomC!)];
    await joinedTogether([
      [roomA!, "alice"],
      [roomB!, "bob"],
      [roomC!, "carol"],
    ]);
    const expected = Array.from({ length: 200 }, (_, index) => [`e${index}`, "alice"]);
    const results = await Promise.all(expected.map(([targetId]) => roomA!.emit("like", { targetId: targetId! })));
    expect(results.filter((result) => result.error !== undefined)).toEqual([]);
    await waitFor(
      () => bobGot.length >= 200 && carolGot.length >= 200,
      () => `200 likes; bob has ${bobGot.length}, carol ${carolGot.length}`,
    );
    expect(bobGot).toEqual(expected);
    expect(carolGot).toEqual(expected);
  });

  it("tells listeners when the server relayed each event: its clock in ms and its HLC, which orders them", async () => {
    const app = `rooms-process-${++apps}`;
    const [alice, bob] = [connect(app, "alice"), connect(app, "bob")];
    const [roomA, roomB] = [alice.rooms.documentEditor("stamped"), bob.rooms.documentEditor("stamped")];
    const got: [string, string | null, RoomEventMeta][] = [];
    roomB.on("like", (data, from, meta) => got.push([data.targetId, from, meta]));
    // A store (what the React and Svelte bindings use) hands its listeners the same stamp.
    const store = new RoomStore(bob.rooms.documentEditor, "stamped");
    const viaStore: RoomEventMeta[] = [];
    store.on("like", (_data, _from, meta) => viaStore.push(meta));
    await joinedTogether([
      [roomA, "alice"],
      [roomB, "bob"],
    ]);
    const before = Date.now();
    for (const targetId of ["a", "b", "c"]) expect((await roomA.emit("like", { targetId })).error).toBeUndefined();
    await waitFor(
      () => got.length === 3,
      () => `3 likes, got ${got.length}`,
    );
    const after = Date.now();
    expect(got.map(([targetId, from]) => [targetId, from])).toEqual([
      ["a", "alice"],
      ["b", "alice"],
      ["c", "alice"],
    ]);
    const metas = got.map(([, , meta]) => meta);
    for (const { at, hlc } of metas) {
      // The server runs on this machine: its clock reads between the emit and the receipt.
      expect(at).toBeGreaterThanOrEqual(before);
      expect(at).toBeLessThanOrEqual(after);
      expect(at).toBe(hlcMillis(decodeHlc(hlc).data!));
    }
    const hlcs = metas.map((meta) => meta.hlc);
    expect(new Set(hlcs).size).toBe(3);
    expect([...hlcs].sort()).toEqual(hlcs);
    await waitFor(
      () => viaStore.length === 3,
      () => `3 likes through the store, got ${viaStore.length}`,
    );
    expect(viaStore).toEqual(metas);
    store.leave();
  });

  it("shows user status, its changes, and drops it on leave and on close", async () => {
    const app = `rooms-process-${++apps}`;
    const [alice, bob, carol] = [connect(app, "alice"), connect(app, "bob"), connect(app, "carol")];
    const [roomA, roomB, roomC] = [alice, bob, carol].map((client) => client.rooms.documentEditor("status"));
    await joinedTogether([
      [roomA!, "alice"],
      [roomB!, "bob"],
      [roomC!, "carol"],
    ]);
    expect(await roomA!.setUserStatus("cursor", { x: 40, y: 41 })).toMatchObject({ error: undefined });
    for (const room of [roomB!, roomC!]) {
      await waitFor(
        () => room.getUserStatuses()["alice"]?.cursor?.x === 40,
        () => `alice's new cursor: ${JSON.stringify(room.getUserStatuses())}`,
      );
      expect(room.getUserStatuses()["alice"]).toEqual({ cursor: { x: 40, y: 41 } });
    }

    roomA!.leave();
    for (const room of [roomB!, roomC!]) {
      await waitFor(
        () => room.getUserStatuses()["alice"] === undefined,
        () => `alice gone after leave: ${JSON.stringify(room.getUserStatuses())}`,
      );
    }
    await bob.close();
    await waitFor(
      () => roomC!.getUserStatuses()["bob"] === undefined,
      () => `bob gone after close: ${JSON.stringify(roomC!.getUserStatuses())}`,
    );
    expect(Object.keys(roomC!.getUserStatuses())).toEqual(["carol"]);
  });

  it("shares room status between members and drops it when the last member leaves", async () => {
    const app = `rooms-process-${++apps}`;
    const [alice, bob, carol, dave] = [
      connect(app, "alice"),
      connect(app, "bob"),
      connect(app, "carol"),
      connect(app, "dave"),
    ];
    const roomA = alice.rooms.documentEditor("shared");
    const roomB = bob.rooms.documentEditor("shared");
    await joinedTogether([
      [roomA, "alice"],
      [roomB, "bob"],
    ]);
    expect(await roomA.set("documentTitle", "Draft")).toMatchObject({ error: undefined });
    await waitFor(
      () => roomB.getRoomStatus().documentTitle === "Draft",
      () => `title at bob: ${JSON.stringify(roomB.getRoomStatus())}`,
    );
    expect(await roomB.set("collaboratorCount", 2)).toMatchObject({ error: undefined });
    await waitFor(
      () => roomA.getRoomStatus().collaboratorCount === 2,
      () => `count at alice: ${JSON.stringify(roomA.getRoomStatus())}`,
    );
    expect(roomA.getRoomStatus()).toEqual({ documentTitle: "Draft", collaboratorCount: 2 });
    expect(roomB.getRoomStatus()).toEqual({ documentTitle: "Draft", collaboratorCount: 2 });

    roomA.leave();
    await waitFor(() => roomB.getUserStatuses()["alice"] === undefined, "alice leaves bob's view");
    roomB.leave();
    // The server handles one connection's messages in order: once bob's next join is answered, his leave was handled.
    const bobOther = bob.rooms.documentEditor("elsewhere");
    const carolOther = carol.rooms.documentEditor("elsewhere");
    await joinedTogether([
      [bobOther, "bob"],
      [carolOther, "carol"],
    ]);

    const roomC = carol.rooms.documentEditor("shared");
    const roomD = dave.rooms.documentEditor("shared");
    await joinedTogether([
      [roomC, "carol"],
      [roomD, "dave"],
    ]);
    expect(roomC.getRoomStatus()).toEqual({});
    expect(roomD.getRoomStatus()).toEqual({});
    expect(Object.keys(roomC.getUserStatuses()).sort()).toEqual(["carol", "dave"]);
  });

  it("refuses schema-breaking payloads and unknown names with VALIDATION errors, sending nothing", async () => {
    const app = `rooms-process-${++apps}`;
    const frames = recordFrames();
    const alice = connect(app, "alice", { WebSocket: frames.WebSocket });
    const bob = connect(app, "bob");
    const roomA = alice.rooms.documentEditor("checked");
    const roomB = bob.rooms.documentEditor("checked");
    const bobGot = likesOf(roomB);
    await joinedTogether([
      [roomA, "alice"],
      [roomB, "bob"],
    ]);
    const sentBefore = frames.sent.length;
    const refused = [
      await roomA.emit("nope" as never, { targetId: "x" } as never),
      await roomA.emit("like", { targetId: 5 } as never),
      await roomA.emit("like", { targetId: "x", extra: true } as never),
      await roomA.emit("like", "x" as never),
      await roomA.setUserStatus("cursor", { x: "left", y: 0 } as never),
      await roomA.setUserStatus("nope" as never, 1 as never),
      await roomA.set("documentTitle", 42 as never),
      await roomA.set("nope" as never, "x" as never),
    ];
    for (const result of refused) {
      expect(result.error?.code, JSON.stringify(result)).toBe("VALIDATION");
      expect(result.error?.details).toMatchObject({ roomType: "documentEditor", roomId: "checked" });
    }
    expect(frames.sent.slice(sentBefore).filter((message) => message.type !== "ping")).toEqual([]);
    // What was refused changed nothing locally or at bob.
    expect(roomA.getMyUserStatus()).toEqual({ cursor: { x: 5, y: 0 } });
    expect(roomA.getRoomStatus()).toEqual({});

    expect(await roomA.emit("like", { targetId: "ok" })).toMatchObject({ error: undefined });
    await waitFor(() => bobGot.length >= 1, "the valid like reaches bob");
    await sleep(ABSENCE_MS);
    expect(bobGot).toEqual([["ok", "alice"]]);
    expect(roomB.getUserStatuses()["alice"]).toEqual({ cursor: { x: 5, y: 0 } });
    expect(roomB.getRoomStatus()).toEqual({});
  });

  // Last: it restarts the shared server process.
  it("restores user status after a server restart: clients re-join and re-send", async () => {
    const app = `rooms-process-${++apps}`;
    const [alice, bob, carol] = [connect(app, "alice"), connect(app, "bob"), connect(app, "carol")];
    const [roomA, roomB, roomC] = [alice, bob, carol].map((client) => client.rooms.documentEditor("restart"));
    const bobGot = likesOf(roomB!);
    await joinedTogether([
      [roomA!, "alice"],
      [roomB!, "bob"],
      [roomC!, "carol"],
    ]);
    await roomA!.setUserStatus("cursor", { x: 7, y: 8 });
    await roomA!.set("documentTitle", "Before restart");
    await waitFor(
      () =>
        roomB!.getUserStatuses()["alice"]?.cursor?.x === 7 && roomB!.getRoomStatus().documentTitle === "Before restart",
      "alice's status at bob",
    );

    // Down: statuses set now go with the re-join (user status) or right after it (room status); events fail.
    await server.kill();
    await waitFor(
      () => [alice, bob, carol].every((client) => client.connection.state !== "online"),
      "every client noticed the server is gone",
    );
    await roomA!.setUserStatus("cursor", { x: 8, y: 9 });
    await roomC!.set("collaboratorCount", 3);
    expect((await roomA!.emit("like", { targetId: "while-down" })).error?.code).toBe("NETWORK");
    await server.restart();
    // Room status lives in the server's memory only: the title is gone, the change made while down is back.
    for (const room of [roomA!, roomB!, roomC!]) {
      await waitFor(
        () => JSON.stringify(room.getRoomStatus()) === JSON.stringify({ collaboratorCount: 3 }),
        () => `room status after the restart: ${JSON.stringify(room.getRoomStatus())}`,
      );
    }
    for (const room of [roomB!, roomC!]) {
      await waitFor(
        () => JSON.stringify(room.getUserStatuses()["alice"]) === JSON.stringify({ cursor: { x: 8, y: 9 } }),
        () => `alice's cursor restored: ${JSON.stringify(room.getUserStatuses())}`,
      );
    }
    await waitFor(
      () => ["bob", "carol"].every((userId) => roomA!.getUserStatuses()[userId] !== undefined),
      () => `alice sees bob and carol: ${JSON.stringify(roomA!.getUserStatuses())}`,
    );
    // And the room works again: a new status and an event get through.
    await roomC!.setUserStatus("cursor", { x: 99, y: 0 });
    await waitFor(() => roomA!.getUserStatuses()["carol"]?.cursor?.x === 99, "carol's new cursor reaches alice");
    await waitFor(
      async () => (await roomA!.emit("like", { targetId: "after" })).error === undefined,
      "alice can emit again",
    );
    await waitFor(() => bobGot.some(([targetId]) => targetId === "after"), "the like after the restart reaches bob");
    expect(bobGot).toEqual([["after", "alice"]]);
  });
});
