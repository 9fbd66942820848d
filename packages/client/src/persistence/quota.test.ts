import "fake-indexeddb/auto";
import { createSchema, t } from "@trellis/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createClient, type TrellisClient } from "../create-client.js";
import { waitFor } from "../testing/live-server.js";
import { createIndexedDbStorage } from "./indexeddb-storage.js";
import { createMemoryStorage } from "./memory-storage.js";
import type { QuotaEstimate } from "./quota-watcher.js";
import type { ClientStorage, StorageCommit } from "./storage.js";

// The client near and over its storage quota: `client.storage.onQuota` / `estimate` over the
// browser's estimate (stubbed here: Node has none), and a commit the browser refuses for quota.

const schema = createSchema({ entities: { todos: { title: t.string({ fallback: "" }) } } });
type Client = TrellisClient<typeof schema>;
/** Nothing listens there: the client stays offline and keeps its writes in the outbox. */
const UNREACHABLE = "http://127.0.0.1:9";

const clients: Client[] = [];
afterEach(async () => {
  vi.unstubAllGlobals();
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

let apps = 0;
function open(storage: ClientStorage | "indexeddb" | "memory", appId = `quota-${++apps}`, serverUrl?: string): Client {
  const client = createClient({
    schema,
    appId,
    storage,
    reconnect: { baseMs: 60_000, maxMs: 60_000 },
    ...(serverUrl ? { serverUrl } : {}),
  });
  clients.push(client);
  return client;
}

function stubEstimate(usage: number, quota: number) {
  const estimate = vi.fn(async () => ({ usage, quota }));
  vi.stubGlobal("navigator", { storage: { estimate } });
  return estimate;
}

/**
 * IndexedDB storage whose commits fail, while `isFull`, the way a full disk makes them fail: a
 * `QuotaExceededError` DOMException raised inside the IndexedDB commit (from reading the commit,
 * after its transaction began), so the storage's own error mapping turns it into a result.
 */
function fillableStorage(name: string): { storage: ClientStorage; state: { isFull: boolean } } {
  const inner = createIndexedDbStorage({ name });
  const state = { isFull: false };
  const full = {
    [Symbol.iterator]() {
      throw new DOMException("full", "QuotaExceededError");
    },
  } as unknown as StorageCommit["documents"];
  return {
    state,
    storage: { ...inner, commit: (commit) => inner.commit(state.isFull ? { ...commit, documents: full } : commit) },
  };
}

describe("client.storage quota", () => {
  it("warns through onQuota once IndexedDB storage opens above 80% of the quota", async () => {
    const estimate = stubEstimate(900, 1000);
    const client = open("indexeddb");
    const warnings: QuotaEstimate[] = [];
    client.storage.onQuota((reading) => warnings.push(reading));
    await client.storage.ready;
    await waitFor(() => warnings.length === 1, "the quota warning");
    expect(warnings).toEqual([{ usage: 900, quota: 1000, ratio: 0.9 }]);
    await client.database.todos.create({ title: "milk" }); // within 10 s of the last reading
    expect(estimate).toHaveBeenCalledTimes(1);
    expect(await client.storage.estimate()).toEqual({ usage: 900, quota: 1000, ratio: 0.9 });
    expect(warnings).toHaveLength(1);
  });

  it("never warns and estimates nothing with memory storage or without persistence", async () => {
    const estimate = stubEstimate(999, 1000);
    for (const client of [open("memory"), open(createMemoryStorage())]) {
      let warnings = 0;
      client.storage.onQuota(() => warnings++);
      await client.storage.ready;
      await client.database.todos.create({ title: "milk" });
      expect(await client.storage.estimate()).toBeUndefined();
      expect(warnings).toBe(0);
    }
    expect(estimate).not.toHaveBeenCalled();
  });

  it("estimates nothing where the browser has no estimate API", async () => {
    vi.stubGlobal("navigator", {});
    const client = open("indexeddb");
    await client.storage.ready;
    expect(await client.storage.estimate()).toBeUndefined();
  });

  it("returns a quota STORAGE error for a write the browser refuses, keeps it, and stores it with the next commit", async () => {
    const appId = `quota-${++apps}`;
    const name = `trellis-${appId}`;
    const { storage, state } = fillableStorage(name);
    const client = open(storage, appId, UNREACHABLE);
    await client.storage.ready;

    state.isFull = true;
    const refused = await client.database.todos.create({ title: "milk" });
    expect(refused.data).toBeUndefined();
    expect(refused.error?.code).toBe("STORAGE");
    expect(refused.error?.details).toMatchObject({ reason: "quota", during: "commit" });
    expect(refused.error?.message).toMatch(/quota/);
    // Not lost: readable in memory, and waiting in the outbox for the server.
    expect((await client.database.todos.query({ fields: { title: true } })).data).toEqual([{ title: "milk" }]);
    expect(client.connection.pending).toBe(1);

    state.isFull = false;
    const stored = await client.database.todos.create({ title: "bread" });
    expect(stored.error).toBeUndefined();
    expect(client.connection.pending).toBe(2);
    await client.close();

    // The next run finds both documents and both pending writes.
    const next = open(createIndexedDbStorage({ name }), appId, UNREACHABLE);
    expect(await next.storage.ready).toEqual({ data: undefined, error: undefined });
    const titles = await next.database.todos.query({ fields: { title: true }, orderBy: ["title", "asc"] });
    expect(titles.data).toEqual([{ title: "bread" }, { title: "milk" }]);
    expect(next.connection.pending).toBe(2);
  });
});
