import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROTOCOL_VERSION } from "@trellis/core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { Log } from "./log.js";
import { createServer, type ServerOptions, type TrellisServer } from "./server.js";
import { closeAllSockets, connect, type RawSocket } from "./testing/raw-socket.js";

const quiet: Log = () => {};
const dirs: string[] = [];
let server: TrellisServer;

async function start(options: Partial<ServerOptions> = {}): Promise<TrellisServer> {
  const dataDir = mkdtempSync(join(tmpdir(), "trellis-rooms-"));
  dirs.push(dataDir);
  return createServer({ port: 0, dataDir, log: quiet, ...options });
}

beforeAll(async () => {
  server = await start();
});
afterEach(async () => {
  await closeAllSockets();
});
afterAll(async () => {
  await server.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const doc = { roomType: "documentEditor", roomId: "doc-1" };

/** Connects as `userId` to `app` and joins `room`; resolves with the socket once `roomState` arrived. */
async function member(
  app: string,
  userId: string | undefined,
  room = doc,
  userStatus: Record<string, unknown> = {},
): Promise<RawSocket> {
  const socket = await connect(server.url, app, userId === undefined ? {} : { userId });
  socket.send({ type: "join", ...room, userStatus });
  await socket.next("roomState", (state) => state.roomType === room.roomType && state.roomId === room.roomId);
  return socket;
}

/** Everything the socket was sent and not taken yet, once the server handled what came before. */
async function drained(socket: RawSocket): Promise<string[]> {
  await socket.sync();
  return socket.pending().map((message) => message.type);
}

describe("rooms over the sync socket", () => {
  it("sends events to the other members with the sender's user id, never to another room or app", async () => {
    const ada = await member("rooms-a", "ada");
    const bob = await member("rooms-a", "bob");
    const otherRoom = await member("rooms-a", "cy", { ...doc, roomId: "doc-2" });
    const otherApp = await member("rooms-b", "dee");
    const appWide = await member("rooms-a", "eve", { roomType: "documentEditor", roomId: "" });
    await ada.next("userStatus", (message) => message.userId === "bob");
    ada.send({ type: "emit", ...doc, event: "like", data: { targetId: "p1" } });
    const event = await bob.next("roomEvent");
    expect(event).toMatchObject({ ...doc, event: "like", data: { targetId: "p1" }, userId: "ada" });
    expect(typeof event.hlc).toBe("string");
    expect(await drained(ada)).toEqual([]);
    for (const outsider of [otherRoom, otherApp, appWide]) expect(await drained(outsider)).toEqual([]);
  });

  it("delivers 200 events from one sender in order", async () => {
    const ada = await member("rooms-order", "ada");
    const bob = await member("rooms-order", "bob");
    for (let i = 0; i < 200; i++) ada.send({ type: "emit", ...doc, event: "tick", data: i });
    const received: unknown[] = [];
    const hlcs: string[] = [];
    for (let i = 0; i < 200; i++) {
      const event = await bob.next("roomEvent");
      received.push(event.data);
      hlcs.push(event.hlc);
    }
    expect(received).toEqual([...Array(200).keys()]);
    expect(new Set(hlcs).size).toBe(200);
  });

  it("shows a user's status as it appears, changes and disappears on leave and on socket close", async () => {
    const ada = await member("rooms-status", "ada", doc, { cursor: { x: 1 } });
    const bob = await connect(server.url, "rooms-status", { userId: "bob" });
    bob.send({ type: "join", ...doc, userStatus: { cursor: { x: 5 } } });
    expect(await bob.next("roomState")).toEqual({
      type: "roomState",
      ...doc,
      roomStatus: {},
      users: { ada: { cursor: { x: 1 } }, bob: { cursor: { x: 5 } } },
    });
    expect(await ada.next("userStatus")).toEqual({
      type: "userStatus",
      ...doc,
      userId: "bob",
      status: { cursor: { x: 5 } },
    });
    bob.send({ type: "setUserStatus", ...doc, status: { cursor: { x: 6 }, typing: true } });
    expect(await ada.next("userStatus")).toMatchObject({ userId: "bob", status: { cursor: { x: 6 }, typing: true } });
    bob.send({ type: "setUserStatus", ...doc, status: { typing: null } });
    expect(await ada.next("userStatus")).toMatchObject({ userId: "bob", status: { cursor: { x: 6 } } });
    bob.send({ type: "leave", ...doc });
    expect(await ada.next("userStatus")).toEqual({ type: "userStatus", ...doc, userId: "bob", status: null });
    expect(await drained(bob)).toEqual([]);

    // An anonymous connection shows as anon:<clientId>; closing its socket removes it.
    const anon = await connect(server.url, "rooms-status", { clientId: "tab-9" });
    anon.send({ type: "join", ...doc, userStatus: { hi: 1 } });
    await anon.next("roomState");
    expect(await ada.next("userStatus")).toMatchObject({ userId: "anon:tab-9", status: { hi: 1 } });
    await anon.close();
    expect(await ada.next("userStatus")).toMatchObject({ userId: "anon:tab-9", status: null });
  });

  it("keeps one user while any of its connections is in the room", async () => {
    const ada = await member("rooms-tabs", "ada");
    const tab1 = await member("rooms-tabs", "bob", doc, { a: 1 });
    const tab2 = await member("rooms-tabs", "bob", doc, { b: 2 });
    expect(await ada.next("userStatus")).toMatchObject({ userId: "bob", status: { a: 1 } });
    expect(await ada.next("userStatus")).toMatchObject({ userId: "bob", status: { a: 1, b: 2 } });
    await tab1.close();
    expect(await drained(ada)).toEqual([]);
    await tab2.close();
    expect(await ada.next("userStatus")).toMatchObject({ userId: "bob", status: null });
  });

  it("shares room status with every member and drops it with the last member", async () => {
    const ada = await member("rooms-shared", "ada");
    const bob = await member("rooms-shared", "bob");
    ada.send({ type: "setRoomStatus", ...doc, status: { title: "Draft" } });
    for (const socket of [ada, bob])
      expect(await socket.next("roomStatus")).toEqual({ type: "roomStatus", ...doc, status: { title: "Draft" } });
    const cy = await connect(server.url, "rooms-shared", { userId: "cy" });
    cy.send({ type: "join", ...doc, userStatus: {} });
    expect(await cy.next("roomState")).toMatchObject({ roomStatus: { title: "Draft" } });
    await Promise.all([ada.close(), bob.close()]);
    cy.send({ type: "leave", ...doc });
    await cy.sync();
    cy.send({ type: "join", ...doc, userStatus: {} });
    expect(await cy.next("roomState")).toEqual({ type: "roomState", ...doc, roomStatus: {}, users: { cy: {} } });
  });

  it("answers bad room messages with errors and keeps serving", async () => {
    const ada = await member("rooms-bad", "ada");
    const bob = await member("rooms-bad", "bob");
    ada.send({ type: "emit", roomType: "documentEditor", roomId: "nope", event: "like", data: 1 });
    expect(await ada.next("error")).toMatchObject({
      code: "VALIDATION",
      details: { roomType: "documentEditor", roomId: "nope" },
    });
    ada.send({ type: "emit", ...doc, event: "like", data: "x".repeat(70 * 1024) });
    expect(await ada.next("error")).toMatchObject({ code: "VALIDATION", details: { ...doc, maxBytes: 65536 } });
    ada.send({ type: "setRoomStatus", ...doc, status: { "bad key": 1 } });
    expect(await ada.next("error")).toMatchObject({ code: "PROTOCOL" });
    ada.send({ type: "emit", ...doc, event: "like", data: { constructor: 1 } });
    expect(await ada.next("error")).toMatchObject({ code: "PROTOCOL" });
    ada.send({ type: "join", roomType: "9x", roomId: "", userStatus: {} });
    expect(await ada.next("error")).toMatchObject({ code: "PROTOCOL", details: { path: "roomType" } });
    ada.send({ type: "emit", ...doc, event: "like", data: "ok" });
    expect(await bob.next("roomEvent")).toMatchObject({ data: "ok", userId: "ada" });
    expect(await drained(bob)).toEqual([]);
  });

  it("removes a user whose socket misses the heartbeat", async () => {
    const fast = await start({ heartbeatMs: 100 });
    try {
      const watcher = await connect(fast.url, "rooms-heartbeat", { userId: "watcher" });
      watcher.send({ type: "join", ...doc, userStatus: {} });
      await watcher.next("roomState");
      // A socket that never answers pings: half-open, as far as the server can tell.
      const silent = new WebSocket(`${fast.url.replace(/^http/, "ws")}/v1/sync`, { autoPong: false });
      await new Promise((resolve, reject) => {
        silent.once("open", resolve);
        silent.once("error", reject);
      });
      silent.send(
        JSON.stringify({
          type: "hello",
          protocol: PROTOCOL_VERSION,
          appId: "rooms-heartbeat",
          clientId: "silent",
          userId: "ghost",
        }),
      );
      silent.send(JSON.stringify({ type: "join", ...doc, userStatus: { here: true } }));
      expect(await watcher.next("userStatus")).toMatchObject({ userId: "ghost", status: { here: true } });
      expect(await watcher.next("userStatus", undefined, 5_000)).toMatchObject({ userId: "ghost", status: null });
      silent.terminate();
      await watcher.close();
    } finally {
      await fast.close();
    }
  });

  it("drops room messages over the rate limit with an error, and never a leave", async () => {
    const limited = await start({ rooms: { messagesPerSecond: 1, burst: 5 } });
    try {
      const ada = await connect(limited.url, "rooms-rate", { userId: "ada" });
      const bob = await connect(limited.url, "rooms-rate", { userId: "bob" });
      bob.send({ type: "join", ...doc, userStatus: {} });
      await bob.next("roomState");
      ada.send({ type: "join", ...doc, userStatus: {} });
      for (let i = 0; i < 10; i++) ada.send({ type: "emit", ...doc, event: "tick", data: i });
      ada.send({ type: "leave", ...doc });
      await ada.next("roomState");
      const errors = [];
      for (let i = 0; i < 6; i++) errors.push(await ada.next("error"));
      expect(errors[0]).toMatchObject({ code: "VALIDATION", details: { ...doc, messagesPerSecond: 1, burst: 5 } });
      expect(errors[0]!.message).toContain("Too many room messages");
      expect(await bob.next("userStatus")).toMatchObject({ userId: "ada", status: {} });
      const received = [];
      for (let i = 0; i < 4; i++) received.push((await bob.next("roomEvent")).data);
      expect(received).toEqual([0, 1, 2, 3]);
      expect(await bob.next("userStatus", (message) => message.status === null)).toMatchObject({ userId: "ada" });
      expect(await drained(bob)).toEqual([]);
      expect(await drained(ada)).toEqual([]);
    } finally {
      await closeAllSockets();
      await limited.close();
    }
  });
});
