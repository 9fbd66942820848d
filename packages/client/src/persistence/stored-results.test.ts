import "fake-indexeddb/auto";
import { createSchema, type DatabaseResult, normalizeQuery, t } from "@trellis/core";
import { afterEach, describe, expect, it } from "vitest";
import { createClient, type TrellisClient } from "../create-client.js";
import { waitFor } from "../testing/live-server.js";
import { createIndexedDbStorage } from "./indexeddb-storage.js";
import { createMemoryStorage } from "./memory-storage.js";
import type { ClientStorage, StoredCollection } from "./storage.js";

// A subscription that was live in the last run answers from its stored result before its
// collection is read, and only while that result is known to be current.

const schema = createSchema({
  entities: { todos: { n: t.number({ fallback: 0 }), open: t.boolean({ fallback: true }) } },
});
type Client = TrellisClient<typeof schema>;
const FIRST_OPEN = {
  fields: { n: true },
  where: { open: true },
  orderBy: [
    ["n", "asc"],
    ["id", "asc"],
  ],
  limit: 3,
} as const;

const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

function open(storage: ClientStorage): Client {
  const client = createClient({ schema, storage });
  clients.push(client);
  return client;
}

/** A storage whose collection reads wait until `release()`: what a large collection costs. */
function slowReads(inner: ClientStorage) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let reads = 0;
  const storage: ClientStorage = {
    ...inner,
    readCollection: async (collection): Promise<DatabaseResult<StoredCollection>> => {
      reads++;
      await released;
      return inner.readCollection(collection);
    },
  };
  return { storage, release, reads: () => reads };
}

/** Follows FIRST_OPEN; `seen` holds every non-loading result. */
function follow(client: Client) {
  const seen: number[][] = [];
  const subscription = client.database.todos.subscribe(FIRST_OPEN, (rows, _error, loading) => {
    if (!loading) seen.push(rows!.map((row) => row.n));
  });
  return { seen, subscription };
}

/** A first run: 20 todos, FIRST_OPEN followed until its result is stored. */
async function firstRun(storage: ClientStorage): Promise<void> {
  const client = open(storage);
  for (let n = 20; n > 0; n--) await client.database.todos.create({ n, open: n % 2 === 0 });
  const { seen } = follow(client);
  await waitFor(() => seen.length > 0, "the first run's result");
  expect(seen.at(-1)).toEqual([2, 4, 6]);
  await client.close();
}

describe("stored results", () => {
  it("answer a query followed in the last run before its collection is read, then go on live", async () => {
    const inner = createMemoryStorage();
    await firstRun(inner);
    const slow = slowReads(inner);
    const client = open(slow.storage);
    const { seen } = follow(client);
    await waitFor(() => seen.length > 0, "the early answer");
    expect(seen).toEqual([[2, 4, 6]]);
    expect(slow.reads()).toBe(1); // the collection read has started but not finished
    slow.release();
    // The whole collection arrives: the same result, so no second call; then it is live.
    await client.database.todos.create({ n: 1, open: true });
    await waitFor(() => seen.length > 1, "the live update");
    expect(seen).toEqual([
      [2, 4, 6],
      [1, 2, 4],
    ]);
  });

  it("are not used once another run changed their collection", async () => {
    const inner = createMemoryStorage();
    await firstRun(inner);
    const other = open(inner);
    await other.database.todos.create({ n: 0, open: true });
    await other.close();
    const slow = slowReads(inner);
    const client = open(slow.storage);
    const { seen } = follow(client);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen).toEqual([]); // waiting for the collection: the stored result is out of date
    slow.release();
    await waitFor(() => seen.length > 0, "the answer after the read");
    expect(seen).toEqual([[0, 2, 4]]);
  });

  it("are not stored by a client that missed another's commit (as tabs can)", async () => {
    const inner = createMemoryStorage();
    const a = open(inner);
    for (let n = 1; n <= 6; n++) await a.database.todos.create({ n: n * 10, open: true });
    const { seen } = follow(a);
    await waitFor(() => seen.length > 0, "a's result");
    // b commits a todo that belongs in a's result; a never hears of it (no tab channel here).
    const b = open(inner);
    await b.database.todos.create({ n: 5, open: true });
    // a commits again: its result, without b's todo, must not be stored as current.
    await a.database.todos.create({ n: 99, open: false });
    // Nor later: a no longer knows what the stored collection holds.
    await a.database.todos.create({ n: 98, open: false });
    await a.close();
    await b.close();
    const slow = slowReads(inner);
    const client = open(slow.storage);
    const next = follow(client);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(next.seen).toEqual([]);
    slow.release();
    await waitFor(() => next.seen.length > 0, "the answer after the read");
    expect(next.seen).toEqual([[5, 10, 20]]);
  });
});

describe("stored results with several tabs", () => {
  it("keep being stored while another tab commits: its `stored` message carries the version on", async () => {
    const appId = `stored-tabs-${Date.now()}`;
    const tab = () => {
      const client = createClient({ schema, appId, storage: "indexeddb" });
      clients.push(client);
      return client;
    };
    const a = tab();
    const b = tab();
    await Promise.all([a.storage.ready, b.storage.ready]);
    const { seen } = follow(a);
    for (const n of [10, 20, 30]) await a.database.todos.create({ n, open: true });
    // b commits a todo that belongs in a's result; a hears it, then its commit's version.
    await b.database.todos.create({ n: 5, open: true });
    await waitFor(
      () => seen.at(-1)?.join() === "5,10,20",
      () => `a sees b's todo (${JSON.stringify(seen.at(-1))})`,
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    await a.database.todos.create({ n: 99, open: false });
    const raw = createIndexedDbStorage({ name: `trellis-${appId}` });
    await raw.open();
    const key = JSON.stringify(normalizeQuery(schema.collections.todos!, FIRST_OPEN).data);
    const stored = (await raw.readResult(key)).data;
    await raw.close();
    const ns = (stored ?? [])
      .map((document) => document.triples.find((triple) => triple.field === "n")?.value)
      .sort((x, y) => Number(x) - Number(y));
    expect(ns).toEqual([5, 10, 20]);
  });
});
