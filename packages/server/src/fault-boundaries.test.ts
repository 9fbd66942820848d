import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROTOCOL_VERSION } from "@trellis/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FaultPoint } from "./faults.js";
import type { LogLevel } from "./log.js";
import { createServer, type TrellisServer } from "./server.js";
import { bystander, type Bystander } from "./testing/probes.js";
import {
  closeAllSockets,
  connect,
  documentTriples,
  nextId,
  openSocket,
  post,
  query,
  type RawSocket,
  storedTriples,
  writer,
} from "./testing/raw-socket.js";

const hlc = writer("faults");
/** The handler that throws next (once), standing for a bug in it. */
let failing: FaultPoint | undefined;
const logged: Array<{ level: LogLevel; message: string; fields: Record<string, unknown> | undefined }> = [];
let server: TrellisServer;
let dataDir: string;
let other: Bystander;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "trellis-faults-"));
  server = await createServer({
    port: 0,
    dataDir,
    log: (level, message, fields) =>
      logged.push({ level, message, fields: fields as Record<string, unknown> | undefined }),
    testing: {
      fault: (point) => {
        if (point !== failing) return;
        failing = undefined;
        throw new Error(`injected fault in ${point}`);
      },
    },
  });
  other = await bystander(server.url, "other-app");
});

afterAll(async () => {
  await closeAllSockets();
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The fault was logged as an error naming the handler, and the other app never noticed. */
async function expectContained(point: FaultPoint): Promise<void> {
  expect(
    logged.some(
      (entry) => entry.level === "error" && JSON.stringify(entry.fields).includes(`injected fault in ${point}`),
    ),
  ).toBe(true);
  await other.check();
}

describe("a throw inside a handler (a bug, not bad input)", () => {
  const messages: Array<[FaultPoint, (socket: RawSocket) => void]> = [
    ["subscribe", (socket) => socket.send({ type: "subscribe", queryId: "q", query: query("todos"), cursor: null })],
    ["unsubscribe", (socket) => socket.send({ type: "unsubscribe", queryId: "q" })],
    [
      "push",
      (socket) =>
        socket.send({
          type: "push",
          batchId: "b",
          triples: documentTriples("todos", nextId("d"), { title: "x" }, hlc),
        }),
    ],
    ["ping", (socket) => socket.send({ type: "ping" })],
    ["token", (socket) => socket.send({ type: "token", token: "t" })],
    ["join", (socket) => socket.send({ type: "join", roomType: "doc", roomId: "r", userStatus: {} })],
    ["leave", (socket) => socket.send({ type: "leave", roomType: "doc", roomId: "r" })],
    ["emit", (socket) => socket.send({ type: "emit", roomType: "doc", roomId: "r", event: "e", data: 1 })],
    [
      "setUserStatus",
      (socket) => socket.send({ type: "setUserStatus", roomType: "doc", roomId: "r", status: { x: 1 } }),
    ],
    [
      "setRoomStatus",
      (socket) => socket.send({ type: "setRoomStatus", roomType: "doc", roomId: "r", status: { x: 1 } }),
    ],
  ];

  for (const [point, send] of messages) {
    it(`in "${point}" answers that message with INTERNAL; the connection and every app go on`, async () => {
      const socket = await connect(server.url, "faulty");
      failing = point;
      send(socket);
      expect(await socket.next("error", (error) => error.code === "INTERNAL")).toMatchObject({
        details: expect.objectContaining({ type: point }),
      });
      await socket.sync();
      socket.send({ type: "subscribe", queryId: "after", query: query("todos"), cursor: null });
      await socket.next("snapshot", (snapshot) => snapshot.queryId === "after");
      await expectContained(point);
    });
  }

  it(`in "hello" refuses that handshake with INTERNAL; the next one works`, async () => {
    const socket = await openSocket(server.url);
    failing = "hello";
    socket.send({ type: "hello", protocol: PROTOCOL_VERSION, appId: "faulty", clientId: "c" });
    expect(await socket.next("error")).toMatchObject({ code: "INTERNAL" });
    expect((await socket.closed).code).toBe(1011);
    await connect(server.url, "faulty");
    await expectContained("hello");
  });

  it(`in "commit" answers the pushes of that turn INTERNAL and reopens the app; nothing half-stored, and the retry is stored`, async () => {
    const watcher = await connect(server.url, "committing");
    watcher.send({ type: "subscribe", queryId: "all", query: query("todos"), cursor: null });
    await watcher.next("snapshot");
    const pusher = await connect(server.url, "committing");
    const triples = documentTriples("todos", "retried", { title: "x" }, hlc);
    failing = "commit";
    pusher.send({ type: "push", batchId: "first", triples });
    expect(await pusher.next("error")).toMatchObject({ code: "INTERNAL", details: { batchId: "first" } });
    // The app's connections were dropped, so their clients resync from their cursors.
    expect((await watcher.closed).code).toBe(1011);
    expect(await storedTriples(server.url, "committing")).toEqual([]);
    const again = await connect(server.url, "committing");
    again.send({ type: "push", batchId: "second", triples });
    await again.next("ack");
    expect((await storedTriples(server.url, "committing")).length).toBe(triples.length);
    await expectContained("commit");
  });

  it(`in "route" acknowledges the stored batch, then drops the app's connections so they resync`, async () => {
    const watcher = await connect(server.url, "routing");
    watcher.send({ type: "subscribe", queryId: "all", query: query("todos"), cursor: null });
    await watcher.next("snapshot");
    const pusher = await connect(server.url, "routing");
    failing = "route";
    pusher.send({ type: "push", batchId: "routed", triples: documentTriples("todos", "routed", { title: "x" }, hlc) });
    expect(await pusher.next(["ack", "error"])).toMatchObject({ type: "ack" });
    expect((await watcher.closed).code).toBe(1011);
    // A client coming back resumes and finds the write.
    const back = await connect(server.url, "routing");
    back.send({ type: "subscribe", queryId: "all", query: query("todos"), cursor: null });
    expect((await back.next("snapshot")).triples.some((triple) => triple.id === "routed")).toBe(true);
    await expectContained("route");
  });

  it(`in "http" answers that request 500 INTERNAL; the next one works`, async () => {
    failing = "http";
    const answer = await post(server.url, "/v1/query", { appId: "faulty", query: query("todos"), cursor: null });
    expect(answer).toMatchObject({ status: 500, body: { error: { code: "INTERNAL" } } });
    expect((await post(server.url, "/v1/query", { appId: "faulty", query: query("todos"), cursor: null })).status).toBe(
      200,
    );
    await expectContained("http");
  });
});
