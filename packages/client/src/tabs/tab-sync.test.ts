import "fake-indexeddb/auto";
import { createSchema, t } from "@trellis/core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type ClientOptions, createClient, type TrellisClient } from "../create-client.js";
import {
  allOnline,
  FAST_RECONNECT,
  type FrameLog,
  recordFrames,
  recorder,
  useServerProcess,
  waitFor,
} from "../testing/live-server.js";
import { createFakeLocks } from "./fake-locks.js";
import { type SimulatedPage, simulatePage } from "./page-environment.js";

// Tabs of one app in one process: clients on the same (fake) IndexedDB database and the same
// BroadcastChannel, as tabs of one browser profile are. Node has no Web Locks, so these run the
// BroadcastChannel lease (but for the cases below that pass an in-process lock manager);
// Chromium's Web Locks are covered by the browser tests.

const schema = createSchema({
  entities: { todos: { title: t.string({ fallback: "" }), done: t.boolean({ optional: true, fallback: false }) } },
  rooms: { board: { userStatus: { cursor: t.number({ fallback: 0 }) } } },
});
type Client = TrellisClient<typeof schema>;
type Row = { readonly title: string };

const live = useServerProcess();

function tab(appId: string, options: Partial<ClientOptions<typeof schema>> = {}): Client {
  return live.track(
    createClient({ schema, appId, storage: "indexeddb", reconnect: FAST_RECONNECT, userId: "ada", ...options }),
  );
}

function syncedTab(appId: string, userId = "ada"): [Client, FrameLog] {
  const frames = recordFrames();
  return [tab(appId, { serverUrl: live.server.url, WebSocket: frames.WebSocket, userId }), frames];
}

/** Another machine: its own memory, its own connection. */
function elsewhere(appId: string): Client {
  return live.track(
    createClient({ schema, appId, serverUrl: live.server.url, reconnect: FAST_RECONNECT, storage: "memory" }),
  );
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
    await waitFor(
      () => b.connection.state === "online",
      () => `the follower mirrors the leader's state (${b.connection.state})`,
    );
    expect(framesA.sockets).toBe(1);
    expect(framesB.sockets).toBe(0);

    const other = elsewhere(appId);
    const seenElsewhere = watch(other);
    const seenByA = watch(a);
    const created = await b.database.todos.create({ title: "from the follower" });
    expect(created.error).toBeUndefined();
    await waitFor(() => titles(seenByA).includes("from the follower"), "the leader tab sees it");
    await waitFor(
      () => titles(seenElsewhere).includes("from the follower"),
      "another machine gets it through the server",
    );
    await waitFor(() => b.connection.pending === 0 && a.connection.pending === 0, "acknowledged in both tabs");
    const pushed = framesA
      .sentOf("push")
      .flatMap((push) => push.triples)
      .filter((triple) => triple.id === created.data!.id && triple.field === "title");
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
    await waitFor(
      () => framesB.sockets === 1 && b.connection.state === "online",
      () => `the follower takes over (${b.connection.state})`,
      5_000,
    );
    const handoverMs = Date.now() - startedAt;
    await b.database.todos.create({ title: "after the handover" });
    const other = elsewhere(appId);
    const seenElsewhere = watch(other);
    await waitFor(
      () => titles(seenElsewhere).join() === "after the handover,stored, never sent",
      () => `both writes reach the server: ${titles(seenElsewhere)}`,
    );
    await waitFor(() => b.connection.pending === 0, "nothing left pending");
    expect(handoverMs).toBeLessThan(5_000);
    // Each write went out once, from the new leader.
    const pushedTitles = framesB
      .sentOf("push")
      .flatMap((push) => push.triples)
      .filter((triple) => triple.field === "title")
      .map((triple) => triple.value);
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
    await waitFor(
      () => roomA.getUserStatuses().bea?.cursor === 42,
      () => `the leader tab's room sees the follower's status: ${JSON.stringify(roomA.getUserStatuses())}`,
    );
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

// A leader that stops making progress: its page is frozen, or its main thread busy (its timers
// stop). Each case runs with Web Locks (an in-process lock manager as `navigator.locks`, shared
// by the tabs as a browser profile's is) and with the BroadcastChannel lease.

const pages: SimulatedPage[] = [];
afterEach(() => {
  for (const page of pages.splice(0)) page.dispose();
});

let simulatedTabs = 0;
/** A tab with a simulated page, its sockets recorded. */
function simulatedTab(appId: string): { client: Client; frames: FrameLog; page: SimulatedPage } {
  const clientId = `tab-${process.pid}-${++simulatedTabs}`;
  const page = simulatePage(clientId);
  pages.push(page);
  const frames = recordFrames();
  const client = live.track(
    createClient({
      schema,
      appId,
      clientId,
      storage: "indexeddb",
      serverUrl: live.server.url,
      WebSocket: frames.WebSocket,
      reconnect: FAST_RECONNECT,
      userId: "ada",
    }),
  );
  return { client, frames, page };
}

const isOnline = (client: Client) => client.connection.state === "online" && client.connection.pending === 0;

/** Two tabs, the first leading, both online; and a client elsewhere. */
async function twoTabs(name: string) {
  const appId = live.newApp(name);
  const a = simulatedTab(appId);
  await allOnline([a.client]);
  const b = simulatedTab(appId);
  const seenByB = watch(b.client);
  await waitFor(
    () => isOnline(b.client) && seenByB.last?.loading === false,
    () => `the follower is up (${b.client.connection.state})`,
  );
  expect([a.frames.sockets, b.frames.sockets]).toEqual([1, 0]);
  const other = elsewhere(appId);
  const seenElsewhere = watch(other);
  await waitFor(() => seenElsewhere.last?.loading === false, "the other machine's query is answered");
  return { appId, a, b, seenByB, other, seenElsewhere };
}

/** Titles pushed over a tab's sockets, one per push of a write. */
const pushedTitles = (frames: FrameLog) =>
  frames
    .sentOf("push")
    .flatMap((push) => push.triples.filter((triple) => triple.field === "title").map((triple) => String(triple.value)));

describe.each([
  ["Web Locks", true],
  ["the BroadcastChannel lease", false],
])("a leader that stops making progress, with %s", (_name, withLocks) => {
  const global = globalThis as { navigator?: unknown };
  const before = global.navigator;
  beforeAll(() => {
    if (withLocks)
      Object.defineProperty(globalThis, "navigator", {
        value: { locks: createFakeLocks() },
        configurable: true,
        writable: true,
      });
  });
  afterAll(() => {
    Object.defineProperty(globalThis, "navigator", { value: before, configurable: true, writable: true });
  });

  it("is replaced while busy: the follower's writes and the other machine's cross, and the old leader's held write is pushed", async () => {
    const { a, b, seenByB, other, seenElsewhere } = await twoTabs("busy-leader");
    // Synced by the leader's own engine until it steps down, then through the new leader.
    const seenByA = watch(a.client);
    // The leader stores a write but its push never leaves (its socket stalls), then it gets busy.
    a.frames.holdPushes();
    await a.client.database.todos.create({ title: "held by the old leader" });
    a.page.block();
    const blockedAt = Date.now();
    await b.client.database.todos.create({ title: "from the follower" });
    await waitFor(
      () => b.frames.sockets === 1,
      () => `the follower takes over (${b.client.connection.state})`,
      15_000,
    );
    const takeoverMs = Date.now() - blockedAt;
    await waitFor(
      () => titles(seenElsewhere).join() === "from the follower,held by the old leader",
      () => `both writes reach the other machine: ${titles(seenElsewhere)}`,
    );
    await other.database.todos.create({ title: "from elsewhere" });
    await waitFor(() => titles(seenByB).includes("from elsewhere"), "the other machine's write reaches the follower");
    await waitFor(
      () => isOnline(b.client),
      () =>
        `the new leader is online with nothing pending (${b.client.connection.state}/${b.client.connection.pending})`,
    );
    // The old leader runs again: it follows, its socket closed, and shows the new leader's state.
    a.page.unblock();
    a.frames.releasePushes();
    await waitFor(
      () => isOnline(a.client) && titles(seenByA).length === 3,
      () => `the old leader follows (${a.client.connection.state}/${a.client.connection.pending}, ${titles(seenByA)})`,
    );
    expect(titles(seenByA)).toEqual(["from elsewhere", "from the follower", "held by the old leader"]);
    const whole = await other.database.todos.query({ fields: { title: true } });
    expect(whole.data?.map((row) => row.title).sort()).toEqual([
      "from elsewhere",
      "from the follower",
      "held by the old leader",
    ]);
    // The follower's write went out once, from the new leader.
    expect(pushedTitles(b.frames).filter((title) => title === "from the follower")).toHaveLength(1);
    expect(pushedTitles(a.frames)).not.toContain("from the follower");
    expect(takeoverMs).toBeLessThan(15_000);
  });

  it("hands over at once when the leader's page freezes, and follows when it resumes", async () => {
    const { a, b, seenByB, other, seenElsewhere } = await twoTabs("frozen-leader");
    a.page.freeze();
    await waitFor(
      () => b.frames.sockets === 1 && isOnline(b.client),
      () => `the other tab leads (${b.client.connection.state})`,
    );
    await waitFor(
      () => a.client.connection.state !== "online" || a.frames.sockets === 1,
      "the frozen tab dropped its leadership",
    );
    await b.client.database.todos.create({ title: "while frozen" });
    await other.database.todos.create({ title: "from elsewhere" });
    await waitFor(
      () => titles(seenByB).join() === "from elsewhere,while frozen",
      () => `the new leader has both (${titles(seenByB)})`,
    );
    await waitFor(
      () => titles(seenElsewhere).join() === "from elsewhere,while frozen",
      () => `the other machine has both (${titles(seenElsewhere)})`,
    );
    a.page.resume();
    const seenByA = watch(a.client);
    await a.client.database.todos.create({ title: "after resuming" });
    await waitFor(
      () => titles(seenElsewhere).length === 3 && isOnline(a.client),
      () => `the resumed tab's write goes through the new leader (${a.client.connection.state})`,
    );
    await waitFor(
      () => titles(seenByA).join() === "after resuming,from elsewhere,while frozen",
      () => `the resumed tab has everything (${titles(seenByA)})`,
    );
    // Its one socket (from before it froze) stayed its only one: it follows.
    expect(a.frames.sockets).toBe(1);
    expect(b.frames.sockets).toBe(1);
  });

  it("says connecting, not syncing, while the leader is silent", async () => {
    const { a, b } = await twoTabs("silent-state");
    const states = new Set<string>();
    const stop = b.client.connection.subscribe(({ state, pending }) => states.add(`${state}/${pending}`));
    // Its socket stalls too: nothing it would push is acknowledged.
    a.frames.holdPushes();
    a.page.block();
    await b.client.database.todos.create({ title: "waiting for a leader" });
    await waitFor(
      () => states.has("connecting/1"),
      () => `the follower says it has no leader (${[...states].join(", ")})`,
      15_000,
    );
    await waitFor(
      () => isOnline(b.client),
      () => `then online through its own connection (${b.client.connection.state}/${b.client.connection.pending})`,
      15_000,
    );
    stop();
    a.page.unblock();
    a.frames.releasePushes();
    await waitFor(() => isOnline(a.client), "the old leader follows");
  });
});
