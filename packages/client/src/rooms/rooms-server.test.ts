import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSchema, t } from "@trellis/core";
import { createServer, type TrellisServer } from "@trellis/server";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createClient, type TrellisClient } from "../create-client.js";
import { FAST_RECONNECT, waitFor } from "../testing/live-server.js";

// The rooms client against the real server code (in process, real WebSockets).

const schema = createSchema({
  entities: {},
  rooms: {
    documentEditor: {
      events: { like: t.object({ targetId: t.string({ fallback: "" }) }) },
      userStatus: { cursor: t.object({ x: t.number({ fallback: 0 }), y: t.number({ fallback: 0 }) }) },
      roomStatus: { documentTitle: t.string({ optional: true }) },
    },
  },
});

let server: TrellisServer;
let dataDir: string;
let clients: TrellisClient<typeof schema>[] = [];
let apps = 0;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "trellis-client-rooms-"));
  server = await createServer({ port: 0, dataDir, log: () => {} });
});
afterEach(async () => {
  await Promise.all(clients.map((client) => client.close()));
  clients = [];
});
afterAll(async () => {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function connect(appId: string, userId: string) {
  const client = createClient({ schema, appId, userId, serverUrl: server.url, reconnect: FAST_RECONNECT });
  clients.push(client);
  return client;
}

describe("rooms against the server", () => {
  it("shares events, user status and room status between members, and drops a user on leave", async () => {
    const app = `rooms-${++apps}`;
    const [a, b] = [connect(app, "alice"), connect(app, "bob")];
    const roomA = a.rooms.documentEditor("doc-1");
    const roomB = b.rooms.documentEditor("doc-1");
    const likes: unknown[] = [];
    roomB.on("like", (data, from) => likes.push([data, from]));
    await roomA.setUserStatus("cursor", { x: 1, y: 2 });
    await roomA.set("documentTitle", "Draft");
    await waitFor(
      () => roomB.getUserStatuses()["alice"]?.cursor?.x === 1,
      () => `alice's cursor at bob: ${JSON.stringify(roomB.getUserStatuses())}`,
    );
    await waitFor(() => roomB.getRoomStatus().documentTitle === "Draft", "the title reaches bob");
    await waitFor(
      async () => (await roomA.emit("like", { targetId: "p1" })).error === undefined && likes.length > 0,
      "a like reaches bob",
    );
    expect(likes[0]).toEqual([{ targetId: "p1" }, "alice"]);
    roomA.leave();
    await waitFor(() => roomB.getUserStatuses()["alice"] === undefined, "alice leaves bob's view");
  });

  it("re-joins with its status after a reconnect", async () => {
    const app = `rooms-${++apps}`;
    const [a, b] = [connect(app, "alice"), connect(app, "bob")];
    const roomA = a.rooms.documentEditor();
    const roomB = b.rooms.documentEditor();
    await roomA.setUserStatus("cursor", { x: 5, y: 5 });
    await waitFor(() => roomB.getUserStatuses()["alice"]?.cursor?.x === 5, "alice's cursor reaches bob");
    a.disconnect();
    await waitFor(() => roomB.getUserStatuses()["alice"] === undefined, "alice leaves bob's view");
    expect((await roomA.emit("like", { targetId: "p" })).error?.code).toBe("NETWORK");
    await roomA.setUserStatus("cursor", { x: 6, y: 6 });
    a.connect();
    await waitFor(() => roomB.getUserStatuses()["alice"]?.cursor?.x === 6, "alice is back with her new cursor");
  });
});
