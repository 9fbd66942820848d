import "fake-indexeddb/auto";
import { createSchema, type DatabaseResult, t } from "@trellis/core";
import { afterEach, describe, expect, it } from "vitest";
import { createClient, type TrellisClient } from "../create-client.js";
import { waitFor } from "../testing/live-server.js";
import { EARLY_ANSWER_MARK, type EarlyAnswerMark } from "./early-answers.js";
import { createIndexedDbStorage } from "./indexeddb-storage.js";
import { createMemoryStorage } from "./memory-storage.js";
import { MAX_EXAMINED } from "./ordered-answers.js";
import type { ClientStorage, StoredCollection } from "./storage.js";

// A subscription to an ordered first page, with nothing stored for it by an earlier run, answers
// from its documents read in order through the order index before its collection is read, and
// only when that answer is the one the whole collection gives.

const schema = createSchema({
  entities: {
    todos: {
      title: t.string({ optional: true, fallback: "" }),
      done: t.boolean({ optional: true, fallback: false }),
      n: t.number({ optional: true }),
      rank: t.number({ optional: true, fallback: 100 }),
    },
  },
});
type Client = TrellisClient<typeof schema>;
type Fields = { title?: string; done?: boolean; n?: number; rank?: number };

const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  performance.clearMarks(EARLY_ANSWER_MARK);
});

let databases = 0;
/** Each backend makes a new store of data, and storage objects for it, one per run (a client closes its own). */
const backends: { name: string; create: () => () => ClientStorage }[] = [
  {
    name: "memory",
    create: () => {
      const storage = createMemoryStorage();
      return () => storage;
    },
  },
  {
    name: "indexeddb",
    create: () => {
      const name = `ordered-${++databases}`;
      return () => createIndexedDbStorage({ name });
    },
  },
];
type Runs = () => ClientStorage;

function open(storage: ClientStorage, options: { serverUrl?: string } = {}): Client {
  const client = createClient({ schema, storage, reconnect: { baseMs: 10_000, maxMs: 10_000 }, ...options });
  clients.push(client);
  return client;
}

/**
 * A storage whose collection reads wait until `release()` (what a large collection costs), and
 * that settles `tried` once the early answer's reads (stored result, then ordered) are done.
 */
function slowReads(inner: ClientStorage) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const reads: Promise<unknown>[] = [];
  const storage: ClientStorage = {
    ...inner,
    readCollection: async (collection, page): Promise<DatabaseResult<StoredCollection>> => {
      await released;
      return inner.readCollection(collection, page);
    },
    readResult: (key) => track(inner.readResult(key)),
    readOrdered: (collection, read) => track(inner.readOrdered(collection, read)),
  };
  const track = <T>(read: Promise<T>): Promise<T> => {
    reads.push(read);
    return read;
  };
  const tried = async () => {
    await waitFor(() => reads.length > 0, "the early answer's first read");
    for (let settled = 0; settled < reads.length;) {
      settled = reads.length;
      await Promise.all(reads);
      // What follows a read (the next read, or applying and delivering the answer) runs in a few turns.
      for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setTimeout(resolve, 0));
    }
  };
  return { storage, release, tried };
}

/** A first run that stores `todos` (in this order, so createdAt follows it) and follows nothing. */
async function firstRun(runs: Runs, todos: readonly Fields[], options: { serverUrl?: string } = {}) {
  const client = open(runs(), options);
  const created = await client.database.todos.createMany(todos.map((todo) => ({ title: "", ...todo })));
  expect(created.error).toBeUndefined();
  await client.close();
  return created.data!.map((todo) => todo.id);
}

type Query = Parameters<Client["database"]["todos"]["query"]>[0];

/**
 * Follows `query` on a reloaded client whose collection reads wait: its first result (undefined
 * while it is still loading when the check runs), then the result once the collection is in.
 */
async function coldAnswer(runs: Runs, query: Query) {
  const slow = slowReads(runs());
  const client = open(slow.storage);
  const seen: string[][] = [];
  client.database.todos.subscribe({ ...query, fields: { title: true } } as never, (rows, _error, loading) => {
    if (!loading) seen.push((rows as { title: string }[]).map((row) => row.title));
  });
  await slow.tried();
  const early = seen[0];
  const marks = performance.getEntriesByName(EARLY_ANSWER_MARK).map((mark) => (mark as PerformanceMark).detail);
  slow.release();
  const { data: whole } = await client.database.todos.query(query);
  await waitFor(() => seen.length > 0, "the first result");
  return {
    early,
    from: (marks as EarlyAnswerMark[]).at(-1)?.from,
    whole: whole!.map((row) => row.title),
    last: seen.at(-1),
  };
}

const titled = (count: number, fields: (index: number) => Fields = () => ({})) =>
  Array.from({ length: count }, (_, index) => ({ title: `t${String(index).padStart(4, "0")}`, ...fields(index) }));

describe.each(backends)("ordered first pages on $name storage", (backend) => {
  it("answer newest first with a filter, and oldest first, before the collection is read", async () => {
    const storage = backend.create();
    await firstRun(
      storage,
      titled(40, (index) => ({ done: index % 3 === 0 })),
    );
    const newest = await coldAnswer(storage, { where: { done: false }, orderBy: ["createdAt", "desc"], limit: 5 });
    expect(newest.from).toBe("order index");
    expect(newest.early).toEqual(["t0038", "t0037", "t0035", "t0034", "t0032"]);
    expect(newest.whole).toEqual(newest.early);
    expect(newest.last).toEqual(newest.early);
    const oldest = await coldAnswer(storage, { orderBy: ["createdAt", "asc"], limit: 3 });
    expect(oldest.early).toEqual(["t0000", "t0001", "t0002"]);
    expect(oldest.whole).toEqual(oldest.early);
  });

  it("read through the ties of the last value, which the engine orders by id", async () => {
    const storage = backend.create();
    const n = [5, 9, 9, 7, 9, 9, 3, 9];
    const ids = await firstRun(
      storage,
      n.map((value, index) => ({ title: `n${value}-${index}`, n: value })),
    );
    const byId = [...ids.keys()].filter((index) => n[index] === 9).sort((a, b) => (ids[a]! < ids[b]! ? -1 : 1));
    const answer = await coldAnswer(storage, { orderBy: ["n", "desc"], limit: 3 });
    expect(answer.from).toBe("order index");
    expect(answer.early).toEqual(byId.slice(0, 3).map((index) => `n9-${index}`));
    expect(answer.whole).toEqual(answer.early);
    const filtered = await coldAnswer(storage, { where: { n: { greaterThan: 4 } }, orderBy: ["n", "desc"], limit: 6 });
    expect(filtered.early).toEqual([...byId.map((index) => `n9-${index}`), "n7-3"]);
  });

  it("answer only when documents without the field cannot be among the first", async () => {
    const storage = backend.create();
    // n: optional without fallback (missing sorts first ascending, last descending); rank reads 100 when missing.
    await firstRun(storage, [
      ...titled(6, (index) => ({ n: index, rank: 10 + index })),
      { title: "bare" },
      { title: "high", rank: 200 },
    ]);
    const desc = await coldAnswer(storage, { orderBy: ["n", "desc"], limit: 2 });
    expect([desc.from, desc.early]).toEqual(["order index", ["t0005", "t0004"]]);
    // All six values and then those missing: the index cannot tell which those are.
    const beyond = await coldAnswer(storage, { orderBy: ["n", "desc"], limit: 7 });
    expect([beyond.early, beyond.whole.slice(0, 6)]).toEqual([
      undefined,
      ["t0005", "t0004", "t0003", "t0002", "t0001", "t0000"],
    ]);
    const asc = await coldAnswer(storage, { orderBy: ["n", "asc"], limit: 2 });
    expect([asc.early, asc.whole.sort()]).toEqual([undefined, ["bare", "high"]]);
    // Below the fallback 100: exact; reaching it: "bare" reads as 100, ahead of "high".
    const ranked = await coldAnswer(storage, { orderBy: ["rank", "asc"], limit: 6 });
    expect([ranked.from, ranked.early]).toEqual(["order index", titled(6).map((todo) => todo.title)]);
    const past = await coldAnswer(storage, { orderBy: ["rank", "asc"], limit: 7 });
    expect([past.early, past.whole?.at(-1)]).toEqual([undefined, "bare"]);
    expect((await coldAnswer(storage, { orderBy: ["rank", "desc"], limit: 1 })).early).toEqual(["high"]);
    // Titles read "" when missing: the first ascending, never read through the index.
    expect((await coldAnswer(storage, { orderBy: ["title", "asc"], limit: 1 })).early).toBeUndefined();
    expect((await coldAnswer(storage, { orderBy: ["title", "desc"], limit: 1 })).early).toEqual(["t0005"]);
  });

  it("leave out deleted documents and show what the last run wrote and deleted, synced or not", async () => {
    const storage = backend.create();
    const client = open(storage(), { serverUrl: "http://127.0.0.1:9" });
    const { data: todos } = await client.database.todos.createMany(titled(10));
    await client.database.todos.delete(todos!.at(-1)!.id);
    await client.database.todos.update({ id: todos![0]!.id, fields: { title: "renamed" } });
    await client.close();
    // The writes were never synced: the next run finds them in the outbox and in the documents.
    const stored = storage();
    expect((await stored.open()).data?.outbox.length).toBeGreaterThanOrEqual(3);
    await stored.close();
    const answer = await coldAnswer(storage, { orderBy: ["createdAt", "desc"], limit: 9 });
    expect(answer.from).toBe("order index");
    expect(answer.early).toEqual(["t0008", "t0007", "t0006", "t0005", "t0004", "t0003", "t0002", "t0001", "renamed"]);
    expect(answer.whole).toEqual(answer.early);
  });

  it(`give up after ${MAX_EXAMINED} documents when the filter matches too few, and answer once the collection is read`, async () => {
    const storage = backend.create();
    const count = MAX_EXAMINED + 100;
    await firstRun(
      storage,
      titled(count, (index) => ({ done: index === 0 || index === 1 })),
    );
    const sparse = await coldAnswer(storage, { where: { done: true }, orderBy: ["createdAt", "desc"], limit: 2 });
    expect([sparse.early, sparse.whole]).toEqual([undefined, ["t0001", "t0000"]]);
    const near = await coldAnswer(storage, { where: { done: true }, orderBy: ["createdAt", "asc"], limit: 2 });
    expect(near.early).toEqual(["t0000", "t0001"]);
  });
});
