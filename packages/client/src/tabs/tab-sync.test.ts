import "fake-indexeddb/auto";
import { createSchema, t } from "@trellis/core";
import { describe, expect, it } from "vitest";
import { type ClientOptions, createClient, type TrellisClient } from "../create-client.js";
import { allOnline, FAST_RECONNECT, type FrameLog, recordFrames, recorder, useServerProcess, waitFor } from "../testing/live-server.js";

// Tabs of one app in one process: clients on the same (fake) IndexedDB database and the same
// BroadcastChannel, as tabs of one browser profile are. Node has no Web Locks, so these run the
// BroadcastChannel lease; Chromium's Web Locks are covered by the browser tests.

const schema = createSchema({
  entities: { todos: { title: t.string({ fallback: "" }), done: t.boolean({ optional: true, fallback: false }) } },
  rooms: { board: { userStatus: { cursor: t.number({ fallback: 0 }) } } },
});
type Client = TrellisClient<typeof schema>;
type Row = { readonly title: string };

const live = useServerProcess();

function tab(appId: string, options: Partial<ClientOptions<typeof schema>> = {}): Client {
  return live.track(createClient({ schema, appId, storage: "indexeddb", reconnect: FAST_RECONNECT, userId: "ada", ...options }));
}

function syncedTab(appId: string, userId = "ada"): [Client, FrameLog] {
  const frames = recordFrames();
  return [tab(appId, { serverUrl: live.server.url, WebSocket: frames.WebSocket, userId }), frames];
}

/** Another machine: its own memory, its own connection. */
function elsewhere(appId: string): Client {
  return live.track(createClient({ schema, appId, serverUrl: live.server.url, reconnect: FAST_RECONNECT, storage: "memory" }));
}

function watch(client: Client) {
  const calls = recorder<readonly Row[]>();
  client.database.todos.subscribe({ fields: { title: true }, orderBy: ["title", "asc"] }, calls.callback);
  return calls;
}

const titles = (calls: ReturnType<typeof watch>) => calls.last?.data?.map((row) => row.title) ?? [];

describe("tabs without a server", () => {
  it("shows a write made in one tab in the other tab's subscription", async () => {
    const appId = live.newApp("tabs-local");
    const a = tab(appId);
    const b = tab(appId);
    await Promise.all([a.storage.ready, b.storage.ready]);
    const seenByB = watch(b);
    await a.database.todos.create({ title: "milk" });
    await waitFor(() => titles(seenByB).includes("milk"), "tab B sees tab A's write");
    await b.database.todos.create({ title: "bread" });
    const seenByA = watch(a);
    await waitFor(() => titles(seenByA).join() === "bread,milk", "tab A sees both");
  });
});

describe("tabs sharing sync", () => {
  it("lets one tab own the connection and pushes a follower's write once", async () => {
    const appId = live.newApp("tabs-sync");
    const [a, framesA] = syncedTab(appId);
    await allOnline([a]);
    const [b, framesB] = syncedTab(appId);
    await b.storage.ready;
    await waitFor(() => b.connection.state === "online", () => `the follower mirrors the leader's state (${b.connection.state})`);
    expect(framesA.sockets).toBe(1);
    expect(framesB.sockets).toBe(0);

    const other = elsewhere(appId);
    const seenElsewhere = watch(other);
    const seenByA = watch(a);
    const created = await b.database.todos.create({ title: "from the follower" });
    expect(created.error).toBeUndefined();
    await waitFor(() => titles(seenByA).includes("from the follower"), "the leader tab sees it");
    await waitFor(() => titles(seenElsewhere).includes("from the follower"), "another machine gets it through the server");
    await waitFor(() => b.connection.pending === 0 && a.connection.pending === 0, "acknowledged in both tabs");
    const pushed = framesA.sentOf("push").flatMap((push) => push.triples).filter((triple) => triple.id === created.data!.id && triple.field === "title");
    expect(pushed).toHaveLength(1);
    expect(framesB.sentOf("push")).toEqual([]);
  });

  it("syncs a follower's query through the leader and delivers others' changes to it", async () => {
    const appId = live.newApp("tabs-sync");
    const other = elsewhere(appId);
    await other.database.todos.create({ title: "already there" });
    await allOnline([other]);
    const [a] = syncedTab(appId);
    await allOnline([a]);
    const [b, framesB] = syncedTab(appId);
    const seenByB = watch(b);
    await waitFor(() => seenByB.last?.loading === false, "the follower's query is answered");
    expect(titles(seenByB)).toEqual(["already there"]);
    await other.database.todos.create({ title: "later" });
    await waitFor(() => titles(seenByB).join() === "already there,later", "a later change reaches the follower");
    expect(framesB.sockets).toBe(0);
  });

  it("hands the connection to another tab when the leader closes, without losing its unsent writes", async () => {
    const appId = live.newApp("tabs-sync");
    const [a, framesA] = syncedTab(appId);
    await allOnline([a]);
    const [b, framesB] = syncedTab(appId);
    const seenByB = watch(b);
    await waitFor(() => b.connection.state === "online" && seenByB.last?.loading === false, "the follower is up");
    // The leader stores a write but dies before it reaches the server.
    framesA.holdPushes();
    await a.database.todos.create({ title: "stored, never sent" });
    await a.close();
    const startedAt = Date.now();
    await waitFor(() => framesB.sockets === 1 && b.connection.state === "online", () => `the follower takes over (${b.connection.state})`, 5_000);
    const handoverMs = Date.now() - startedAt;
    await b.database.todos.create({ title: "after the handover" });
    const other = elsewhere(appId);
    const seenElsewhere = watch(other);
    await waitFor(() => titles(seenElsewhere).join() === "after the handover,stored, never sent", () => `both writes reach the server: ${titles(seenElsewhere)}`);
    await waitFor(() => b.connection.pending === 0, "nothing left pending");
    expect(handoverMs).toBeLessThan(5_000);
    // Each write went out once, from the new leader.
    const pushedTitles = framesB.sentOf("push").flatMap((push) => push.triples).filter((triple) => triple.field === "title").map((triple) => triple.value);
    expect(pushedTitles.sort()).toEqual(["after the handover", "stored, never sent"]);
  });

  it("gives a follower in a room a socket of its own while it is in the room", async () => {
    const appId = live.newApp("tabs-sync");
    const [a] = syncedTab(appId);
    await allOnline([a]);
    const [b, framesB] = syncedTab(appId, "bea");
    await waitFor(() => b.connection.state === "online", "the follower is up");
    expect(framesB.sockets).toBe(0);
    const roomA = a.rooms.board("r1");
    const roomB = b.rooms.board("r1");
    await roomB.setUserStatus("cursor", 42);
    await waitFor(() => roomA.getUserStatuses().bea?.cursor === 42, () => `the leader tab's room sees the follower's status: ${JSON.stringify(roomA.getUserStatuses())}`);
    expect(framesB.sockets).toBe(1);
    // Its socket carries rooms only: no query follows, no pushes.
    await b.database.todos.create({ title: "pushed by the leader" });
    await waitFor(() => b.connection.pending === 0, "acknowledged through the leader");
    expect(framesB.sentOf("subscribe")).toEqual([]);
    expect(framesB.sentOf("push")).toEqual([]);
    roomB.leave();
    await waitFor(() => roomA.getUserStatuses().bea === undefined, "the follower left the room");
  });
});
