import "fake-indexeddb/auto";
import { createSchema, t } from "@trellis/core";
import { removeDataDir, type ServerProcess, startServerProcess } from "@trellis/server/testing";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type ClientOptions, createClient, type TrellisClient } from "./create-client.js";
import { createMemoryStorage } from "./persistence/memory-storage.js";
import type { ClientStorage } from "./persistence/storage.js";
import { recorder, waitFor } from "./testing/live-server.js";
import { nextTask } from "./testing/stored-clients.js";

// The test setup loads persistence's code first, as a page's later clients find it. These
// tests take a page's first client: a fresh module graph whose persistence chunk arrives (or
// fails) when the test says, so what the client is asked before that meets the code not there.

const schema = createSchema({
  entities: { todos: { title: t.string({ fallback: "" }) } },
});
type Client = TrellisClient<typeof schema>;
const CHUNK = "./persistence/wire-persistence.js";

const clients: Client[] = [];
const servers: ServerProcess[] = [];
/** Chunks a failed test left on their way: closing their clients waits for them. */
const chunks: (() => void)[] = [];
afterEach(async () => {
  for (const arrive of chunks.splice(0)) arrive();
  await Promise.all(clients.splice(0).map((client) => client.close()));
  for (const server of servers.splice(0)) {
    await server.stop();
    removeDataDir(server.dataDir);
  }
  vi.doUnmock(CHUNK);
  vi.resetModules();
});

/** A page's first `createClient`, whose persistence chunk arrives on `arrive()` or fails on `fail()`. */
async function firstClientOfPage() {
  let arrive!: () => void;
  let fail!: (error: Error) => void;
  const chunk = new Promise<void>((resolve, reject) => {
    arrive = resolve;
    fail = reject;
  });
  chunks.push(arrive);
  let isFetched = false;
  vi.resetModules();
  vi.doMock(CHUNK, async (importOriginal) => {
    isFetched = true;
    await chunk;
    return importOriginal();
  });
  const fresh = (await import("./create-client.js")).createClient;
  const open = (options: ClientOptions<typeof schema>): Client => {
    const client = fresh(options);
    clients.push(client);
    return client;
  };
  return { open, arrive, fail, isFetched: () => isFetched };
}

let apps = 0;
const backends: { name: string; storage: () => { storage: ClientStorage | "indexeddb"; appId: string } }[] = [
  { name: "memory storage", storage: () => ({ storage: createMemoryStorage(), appId: `mem-${++apps}` }) },
  { name: "indexeddb", storage: () => ({ storage: "indexeddb", appId: `idb-${++apps}` }) },
];

/** Writes `titles` with a client whose code is loaded, and closes it: the storage a reload finds. */
async function stored(options: Partial<ClientOptions<typeof schema>>, titles: string[]): Promise<void> {
  const client = createClient({ schema, ...options });
  for (const title of titles) await client.database.todos.create({ title });
  await client.close();
}

const titles = (todos: readonly { title: string }[] | undefined) => todos?.map((todo) => todo.title);

describe.each(backends)("a page's first client on $name, before its persistence code arrives", (backend) => {
  it("holds writes and queries back, then runs them in order once the code arrived, and stores them", async () => {
    const options = backend.storage();
    await stored(options, ["bread"]);
    const page = await firstClientOfPage();
    let ids = 0;
    const client = page.open({ schema, ...options, generateId: () => `t${++ids}` });
    let isReady = false;
    void client.storage.ready.then(() => (isReady = true));
    const calls = recorder<readonly { title: string }[]>();
    client.database.todos.subscribe({ orderBy: ["title", "asc"] }, calls.callback);
    const created = client.database.todos.create({ title: "milk" });
    const updated = client.database.todos.update({ id: "t1", fields: { title: "oat milk" } });
    const queried = client.database.todos.query({ orderBy: ["title", "asc"] });
    let isAnswered = false;
    void queried.then(() => (isAnswered = true));
    for (let task = 0; task < 5; task++) await nextTask();
    expect(page.isFetched()).toBe(true);
    expect([isReady, isAnswered]).toEqual([false, false]);
    expect(calls.calls).toEqual([{ data: undefined, error: undefined, loading: true }]);

    page.arrive();
    expect(await client.storage.ready).toEqual({ data: undefined, error: undefined });
    expect((await created).error).toBeUndefined();
    // In order: the update of the document created before it finds it.
    expect((await updated).error).toBeUndefined();
    expect(titles((await queried).data)).toEqual(["bread", "oat milk"]);
    await waitFor(() => calls.last?.loading === false, "the subscription answers");
    expect(titles(calls.last?.data)).toEqual(["bread", "oat milk"]);
    await client.close();

    const reloaded = createClient({ schema, ...options });
    clients.push(reloaded);
    expect(titles((await reloaded.database.todos.query({ orderBy: ["title", "asc"] })).data)).toEqual([
      "bread",
      "oat milk",
    ]);
  });

  it("keeps a map's collection whole once ready, so `get` reads its stored entries at once", async () => {
    const options = backend.storage();
    const first = createClient({ schema, ...options });
    await first.map("prefs").set("theme", "dark");
    await first.close();
    const page = await firstClientOfPage();
    const client = page.open({ schema, ...options });
    const prefs = client.map("prefs");
    expect(prefs.get("theme")).toBeUndefined();
    page.arrive();
    await client.storage.ready;
    expect(prefs.get("theme")).toBe("dark");
  });

  it("ends with a STORAGE error on ready when the chunk cannot be fetched, and runs in memory", async () => {
    const options = backend.storage();
    await stored(options, ["bread"]);
    const page = await firstClientOfPage();
    const client = page.open({ schema, ...options });
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const calls = recorder<readonly { title: string }[]>();
    client.database.todos.subscribe({}, calls.callback);
    const created = client.database.todos.create({ title: "milk" });
    page.fail(new Error("Failed to fetch dynamically imported module"));
    const ready = await client.storage.ready;
    expect(ready.error?.code).toBe("STORAGE");
    expect(ready.error?.message).toMatch(/^The (memory|indexeddb) storage could not be loaded: /);
    expect(ready.error?.details).toEqual({ reason: "load", during: "open" });
    expect(warn).toHaveBeenCalledOnce();
    warn.mockRestore();
    // As when the browser refuses the database: writes apply to memory and say they were not stored.
    expect((await created).error?.code).toBe("STORAGE");
    expect((await client.database.todos.create({ title: "eggs" })).error?.code).toBe("STORAGE");
    expect(titles((await client.database.todos.query({ orderBy: ["title", "asc"] })).data)).toEqual(["eggs", "milk"]);
    await waitFor(() => calls.last?.data?.length === 2, "the subscription sees memory");
    expect(calls.last?.loading).toBe(false);
    await client.close();

    const reloaded = createClient({ schema, ...options });
    clients.push(reloaded);
    expect(titles((await reloaded.database.todos.query({})).data)).toEqual(["bread"]);
  });
});

describe("a page's first client", () => {
  it('never fetches the persistence chunk with storage "memory"', async () => {
    const page = await firstClientOfPage();
    const client = page.open({ schema, storage: "memory" });
    expect((await client.database.todos.create({ title: "milk" })).error).toBeUndefined();
    expect(titles((await client.database.todos.query({})).data)).toEqual(["milk"]);
    expect((await client.storage.ready).error).toBeUndefined();
    expect(page.isFetched()).toBe(false);
  });

  it("refuses a bad cacheSize at once, before any code is fetched", async () => {
    const page = await firstClientOfPage();
    expect(() => page.open({ schema, storage: createMemoryStorage(), cacheSize: 2.5 })).toThrow(
      /cacheSize must be a whole number/,
    );
    expect(page.isFetched()).toBe(false);
  });

  it("opens its storage at once, while the chunk is on its way", async () => {
    const page = await firstClientOfPage();
    const storage = createMemoryStorage();
    const opened = vi.spyOn(storage, "open");
    const client = page.open({ schema, storage });
    expect(opened).toHaveBeenCalledOnce();
    page.arrive();
    expect((await client.storage.ready).error).toBeUndefined();
    expect(opened).toHaveBeenCalledOnce();
  });

  it("shows preloaded data as a client with its code does, and syncs once the chunk arrived", async () => {
    const server = await startServerProcess();
    servers.push(server);
    const seed = createClient({ schema, appId: "shop", serverUrl: server.url });
    clients.push(seed);
    await seed.database.todos.create({ title: "milk" });
    await waitFor(() => seed.connection.pending === 0, "milk on the server");
    const preloaded = (await seed.database.todos.preload({})).data!;
    const options = { schema, appId: "shop", serverUrl: server.url };
    const loaded = createClient({ ...options, storage: createMemoryStorage() });
    clients.push(loaded);
    const shown = recorder<readonly { title: string }[]>();
    loaded.database.todos.subscribe(preloaded, shown.callback);
    const shownAtOnce = [...shown.calls];
    const page = await firstClientOfPage();
    const client = page.open({ ...options, storage: createMemoryStorage() });
    const calls = recorder<readonly { title: string }[]>();
    client.database.todos.subscribe(preloaded, calls.callback);
    expect(calls.calls).toEqual(shownAtOnce);
    expect(titles(calls.calls[0]?.data)).toEqual(["milk"]);
    page.arrive();
    await client.storage.ready;
    const synced = (browser: Client) => browser.connection.state === "online" && browser.connection.pending === 0;
    await waitFor(() => synced(loaded) && synced(client), "both clients synced the query");
    // The server had nothing to add: the preloaded data stays, without another call.
    expect(calls.calls).toEqual([
      { data: [expect.objectContaining({ title: "milk" })], error: undefined, loading: false },
    ]);
    expect(calls.calls).toEqual(shown.calls);
  });
});
