import "fake-indexeddb/auto";
import { createSchema, t } from "@trellis/core";
import { removeDataDir, type ServerProcess, startServerProcess } from "@trellis/server/testing";
import { afterEach, describe, expect, it } from "vitest";
import { type ClientOptions, createClient, type TrellisClient } from "../create-client.js";
import { allOnline, FAST_RECONNECT, recordFrames, recorder, waitFor } from "../testing/live-server.js";
import { createMemoryStorage } from "./memory-storage.js";
import type { ClientStorage } from "./storage.js";

// A client with storage restores its data, pending writes, clock and cursors in its next run,
// with no network. Memory storage handed from one client to the next stands in for a page
// reload; the same tests run over IndexedDB (fake-indexeddb). Sync tests use a real server.

const schema = createSchema({
  entities: {
    todos: {
      title: t.string({ fallback: "" }),
      done: t.boolean({ optional: true, fallback: false }),
      tagIds: t.refMany("tags"),
    },
    tags: { name: t.string({ fallback: "" }) },
  },
});
type Client = TrellisClient<typeof schema>;

const clients: Client[] = [];
const servers: ServerProcess[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  for (const server of servers.splice(0)) {
    await server.stop();
    removeDataDir(server.dataDir);
  }
});

function open(options: Partial<ClientOptions<typeof schema>>): Client {
  const client = createClient({ schema, reconnect: FAST_RECONNECT, ...options });
  clients.push(client);
  return client;
}

async function reload(client: Client, options: Partial<ClientOptions<typeof schema>>): Promise<Client> {
  await client.close();
  return open(options);
}

let apps = 0;
const backends: { name: string; storage: () => { storage: ClientStorage | "indexeddb"; appId: string } }[] = [
  { name: "memory storage", storage: () => ({ storage: createMemoryStorage(), appId: `mem-${++apps}` }) },
  { name: "indexeddb", storage: () => ({ storage: "indexeddb", appId: `idb-${++apps}` }) },
];

describe.each(backends)("a local-only client on $name", (backend) => {
  it("finds its documents again after a reload", async () => {
    const options = backend.storage();
    const first = open(options);
    const milk = await first.database.todos.create({ title: "milk", tagIds: ["a", "b"] });
    const bread = await first.database.todos.create({ title: "bread" });
    await first.database.todos.update({ id: bread.data!.id, fields: { done: true } });
    await first.database.todos.delete(milk.data!.id);
    await first.database.todos.create({ title: "eggs", tagIds: ["c"] });

    const second = await reload(first, options);
    const todos = await second.database.todos.query({ orderBy: ["title", "asc"] });
    expect(todos.data?.map(({ title, done, tagIds }) => ({ title, done, tagIds: [...tagIds] }))).toEqual([
      { title: "bread", done: true, tagIds: [] },
      { title: "eggs", done: false, tagIds: ["c"] },
    ]);
    expect(await second.storage.ready).toEqual({ data: undefined, error: undefined });
  });

  it("shows a subscription loading until stored data is in, then the data", async () => {
    const options = backend.storage();
    const first = open(options);
    await first.database.todos.create({ title: "milk" });
    await first.close();
    const second = open(options);
    const calls = recorder<readonly { title: string }[]>();
    second.database.todos.subscribe({ fields: { title: true } }, calls.callback);
    expect(calls.calls).toEqual([{ data: undefined, error: undefined, loading: true }]);
    await second.storage.ready;
    await waitFor(() => calls.calls.length === 2, "the stored data arrives");
    expect(calls.last).toEqual({ data: [{ title: "milk" }], error: undefined, loading: false });
  });

  it("applies writes made before the storage opened after the stored data, and stores them", async () => {
    const options = backend.storage();
    const first = open(options);
    const milk = await first.database.todos.create({ title: "milk" });
    await first.close();
    const second = open(options);
    // Issued at once, before the stored data is in: it must win over the stored title.
    const renaming = second.database.todos.update({ id: milk.data!.id, fields: { title: "oat milk" } });
    const renamed = await renaming;
    expect(renamed.error).toBeUndefined();
    const third = await reload(second, options);
    expect((await third.database.todos.query({})).data?.map((todo) => todo.title)).toEqual(["oat milk"]);
  });

  it("never lets the clock go back across reloads, even when the wall clock does", async () => {
    const options = backend.storage();
    const first = open({ ...options, now: () => 5_000_000 });
    const created = await first.database.todos.create({ title: "written at t=5000s" });
    // The machine's clock was set back by more than an hour.
    const second = await reload(first, { ...options, now: () => 1_000 });
    await second.database.todos.update({ id: created.data!.id, fields: { title: "written later" } });
    const third = await reload(second, options);
    expect((await third.database.todos.query({})).data?.map((todo) => todo.title)).toEqual(["written later"]);
  });

  it("resolves a write once it is stored", async () => {
    const storage = createMemoryStorage();
    const client = open({ storage, appId: `mem-${++apps}` });
    await client.storage.ready;
    await client.database.todos.create({ title: "milk" });
    // Read the storage directly, as the next run would: the write is there already.
    const stored = await storage.readCollection("todos");
    expect(
      stored.data?.documents.flatMap((document) =>
        document.triples.filter((triple) => triple.field === "title").map((triple) => triple.value),
      ),
    ).toEqual(["milk"]);
  });
});

describe("storage option", () => {
  it("refuses an unknown storage with a TypeError naming the choices", () => {
    expect(() => createClient({ schema, storage: "localStorage" as never })).toThrow(/"memory", "indexeddb"/);
  });

  it("defaults to memory outside browsers", () => {
    const client = open({});
    expect(client.storage.kind).toBe("memory");
  });

  it("reports a storage that cannot open as a STORAGE error on ready and on writes, and keeps working in memory", async () => {
    const broken: ClientStorage = {
      kind: "broken",
      open: async () => ({
        data: undefined,
        error: Object.assign(new Error("disk gone"), { code: "STORAGE" as const }) as never,
      }),
      commit: async () => ({ data: { versions: new Map() }, error: undefined }),
      readCollection: async () => ({ data: { documents: [], version: 0 }, error: undefined }),
      readResult: async () => ({ data: undefined, error: undefined }),
      readDocuments: async () => ({ data: [], error: undefined }),
      readMatching: async () => ({ data: [], error: undefined }),
      readOrdered: async () => ({ data: undefined, error: undefined }),
      listCollections: async () => ({ data: [], error: undefined }),
      prune: async () => ({ data: 0, error: undefined }),
      readSyncState: async () => ({ data: { outbox: [], cursors: new Map() }, error: undefined }),
      close: async () => {},
    };
    const warn = console.warn;
    console.warn = () => {};
    try {
      const client = open({ storage: broken });
      expect((await client.storage.ready).error?.message).toBe("disk gone");
      const created = await client.database.todos.create({ title: "milk" });
      expect(created.error?.code).toBe("STORAGE");
      expect((await client.database.todos.query({})).data?.map((todo) => todo.title)).toEqual(["milk"]);
    } finally {
      console.warn = warn;
    }
  });
});

describe.each(backends)("a client with a server on $name", (backend) => {
  it("keeps writes made offline across a reload and pushes them once the server is back", async () => {
    const server = await startServerProcess();
    servers.push(server);
    const options = { ...backend.storage(), serverUrl: server.url };
    await server.stop();
    const first = open(options);
    for (const title of ["one", "two", "three"])
      expect((await first.database.todos.create({ title })).error).toBeUndefined();
    expect(first.connection.pending).toBe(3);

    const second = await reload(first, options);
    await second.storage.ready;
    expect(second.connection.pending).toBe(3);
    await server.restart();
    await allOnline([second]);

    const other = open({ appId: options.appId, serverUrl: server.url });
    const seen = await other.database.todos.query({ orderBy: ["title", "asc"] });
    expect(seen.data?.map((todo) => todo.title)).toEqual(["one", "three", "two"]);
    // Acknowledged entries are not pushed again by a later run.
    const framesAfter = recordFrames();
    const third = await reload(second, { ...options, WebSocket: framesAfter.WebSocket });
    await allOnline([third]);
    expect(third.connection.pending).toBe(0);
    expect(framesAfter.sentOf("push")).toEqual([]);
  });

  it("answers a query synced in an earlier run from stored data and resumes it from its cursor", async () => {
    const server = await startServerProcess();
    servers.push(server);
    const { appId, storage } = backend.storage();
    const writer = open({ appId, serverUrl: server.url, storage: "memory" });
    await writer.database.todos.create({ title: "before" });
    const first = open({ appId, serverUrl: server.url, storage });
    const firstCalls = recorder<readonly { title: string }[]>();
    first.database.todos.subscribe({ fields: { title: true } }, firstCalls.callback);
    await waitFor(() => firstCalls.last?.data?.length === 1, "the first run syncs the query");
    await first.close();

    await writer.database.todos.create({ title: "while away" });
    await allOnline([writer]);
    const frames = recordFrames();
    const second = open({ appId, serverUrl: server.url, storage, WebSocket: frames.WebSocket });
    const calls = recorder<readonly { title: string }[]>();
    second.database.todos.subscribe({ fields: { title: true } }, calls.callback);
    await waitFor(() => calls.last?.data?.length === 2, "the change made while away arrives");
    // Loading only until the stored data was in; then stored data, not loading, before the server answered.
    expect(calls.calls[0]).toEqual({ data: undefined, error: undefined, loading: true });
    expect(calls.calls[1]).toEqual({ data: [{ title: "before" }], error: undefined, loading: false });
    const [subscribe] = frames.sentOf("subscribe");
    expect(subscribe?.cursor).not.toBeNull();
    // Only what changed since the cursor came back.
    const snapshot = frames.receivedOf("snapshot")[0];
    expect(snapshot?.triples.filter((triple) => triple.field === "title").map((triple) => triple.value)).toEqual([
      "while away",
    ]);
  });
});
