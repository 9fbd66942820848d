import "fake-indexeddb/auto";
import { createSchema, t } from "@trellis/core";
import { afterEach, describe, expect, it } from "vitest";
import { type ClientOptions, createClient, type TrellisClient } from "./create-client.js";
import { createMemoryStorage } from "./persistence/memory-storage.js";

const schema = createSchema({
  entities: {
    todos: { text: t.string({ fallback: "" }), done: t.boolean({ fallback: false }), tagIds: t.refMany("tags") },
    tags: { name: t.string({ fallback: "" }) },
  },
});
type Client = TrellisClient<typeof schema>;

const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

function open(options: Partial<ClientOptions<typeof schema>> = {}): Client {
  const client = createClient({ schema, ...options });
  clients.push(client);
  return client;
}

describe("database.<collection>.createMany", () => {
  it("resolves with the whole documents, in order, and subscribers hear one change", async () => {
    const { database } = open({ userId: "alice" });
    const calls: number[] = [];
    database.todos.subscribe({}, (todos) => calls.push(todos?.length ?? -1));
    const { data, error } = await database.todos.createMany([
      { text: "a", done: false },
      { id: "mine", text: "b", done: true, tagIds: ["t1"] },
    ]);
    expect(error).toBeUndefined();
    expect(data!.map(({ id, text, done, tagIds, createdBy }) => ({ id, text, done, tagIds, createdBy }))).toEqual([
      {
        id: expect.stringMatching(/^[A-Za-z0-9_-]{21}$/) as string,
        text: "a",
        done: false,
        tagIds: [],
        createdBy: "alice",
      },
      { id: "mine", text: "b", done: true, tagIds: ["t1"], createdBy: "alice" },
    ]);
    expect(calls).toEqual([0, 2]);
    // Ordered by createdAt they come back in the order given (ties broken by the clock, not the ids).
    const byCreation = await database.todos.query({ fields: { text: true }, orderBy: ["createdAt", "asc"] });
    expect(byCreation.data!.map((todo) => todo.text)).toEqual(["a", "b"]);
  });

  it("returns { count } with returnDocuments: false", async () => {
    const { database } = open();
    const result = await database.todos.createMany([{ text: "a", done: false }], { returnDocuments: false });
    expect(result).toEqual({ data: { count: 1 }, error: undefined });
    expect((await database.todos.query()).data).toHaveLength(1);
  });

  it("writes nothing and names the index when a document is invalid", async () => {
    const { database } = open();
    const calls: number[] = [];
    database.todos.subscribe({}, (todos) => calls.push(todos?.length ?? -1));
    const result = await database.todos.createMany([
      { text: "a", done: false },
      // @ts-expect-error a wrong type, as untyped callers may send
      { text: "b", done: "no" },
    ]);
    expect(result.error).toMatchObject({ code: "VALIDATION", details: { index: 1, field: "done" } });
    expect((await database.todos.query()).data).toEqual([]);
    expect(calls).toEqual([0]);
  });

  it("runs in a batch, as data", async () => {
    const { database } = open();
    const operation = database.batch.todos.createMany([{ id: "x", text: "a", done: false }], {
      returnDocuments: false,
    });
    const sent = JSON.parse(JSON.stringify(operation)) as typeof operation;
    const { data } = await database.batch.execute([
      sent,
      database.batch.todos.createMany([{ id: "x", text: "b", done: false }]),
    ]);
    expect(data![0]).toEqual({ data: { count: 1 }, error: undefined });
    expect(data![1]!.error).toMatchObject({ code: "VALIDATION", details: { index: 0, id: "x" } });
  });
});

describe("caller-supplied ids", () => {
  it("create keeps the id and refuses one in use", async () => {
    const { database } = open();
    expect((await database.todos.create({ id: "t1", text: "a", done: false })).data?.id).toBe("t1");
    const again = await database.todos.create({ id: "t1", text: "b", done: true });
    expect(again.error).toMatchObject({ code: "VALIDATION", details: { field: "id", id: "t1" } });
    expect((await database.todos.queryOne({ where: { id: "t1" } })).data?.text).toBe("a");
    expect((await database.todos.create({ id: "not ok", text: "a", done: false })).error?.code).toBe("VALIDATION");
  });

  it.each([
    { name: "memory storage", storage: () => createMemoryStorage() },
    { name: "indexeddb", storage: () => "indexeddb" as const },
  ])("refuses ids that are only in storage, a deleted one included ($name)", async ({ storage }) => {
    const options = { storage: storage(), appId: `ids-${Math.random().toString(36).slice(2)}`, cacheSize: 1 };
    const first = open(options);
    await first.database.todos.createMany([
      { id: "kept", text: "a", done: false },
      { id: "gone", text: "b", done: false },
    ]);
    await first.database.todos.delete("gone");
    await first.close();
    clients.splice(clients.indexOf(first), 1);

    // The next run starts with nothing of the collection in memory.
    const next = open(options);
    for (const id of ["kept", "gone"]) {
      const result = await next.database.todos.createMany([
        { text: "new", done: false },
        { id, text: "c", done: true },
      ]);
      expect(result.error, id).toMatchObject({ code: "VALIDATION", details: { index: 1, id } });
      const single = await next.database.todos.create({ id, text: "c", done: true });
      expect(single.error, id).toMatchObject({ code: "VALIDATION", details: { id } });
    }
    expect((await next.database.todos.query({ orderBy: ["text", "asc"] })).data?.map((todo) => todo.id)).toEqual([
      "kept",
    ]);
  });
});
