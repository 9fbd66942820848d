import { describe, expect, it } from "vitest";
import { createClock, decodeHlc } from "../hlc.js";
import { createSchema } from "../schema/create-schema.js";
import { t } from "../schema/t.js";
import { TripleStore } from "../store/triple-store.js";
import type { Triple } from "../triples.js";
import { createBatchCollection, executeBatch } from "./batch.js";
import { LocalWriter } from "./local-writer.js";
import { normalizeQuery } from "../query/normalize.js";
import { runQuery } from "../query/run-query.js";

const schema = createSchema({
  entities: {
    todos: {
      text: t.string({ fallback: "" }),
      done: t.boolean({ fallback: false }),
      tagIds: t.refMany("tags"),
      notes: t.string({ optional: true }),
    },
    tags: { name: t.string({ fallback: "" }) },
  },
});

function setup(userId?: string) {
  const store = new TripleStore();
  let now = 1_700_000_000_000;
  const clock = createClock({ node: "writer", wallClock: () => now });
  let next = 0;
  const reported: Triple[][] = [];
  const writer = new LocalWriter(
    schema,
    store,
    clock,
    userId,
    () => `gen${next++}`,
    (triples) => reported.push([...triples]),
  );
  return { store, clock, writer, reported, advance: (ms: number) => (now += ms) };
}

describe("LocalWriter.createMany", () => {
  it("creates every document whole, in order, with generated ids and auto fields", () => {
    const { writer } = setup("alice");
    const result = writer.createMany("todos", [
      { text: "a", done: false },
      { text: "b", done: true, tagIds: ["t1"] },
    ]);
    expect(result.error).toBeUndefined();
    const docs = result.data as Record<string, unknown>[];
    expect(docs.map((doc) => [doc.id, doc.text, doc.done, doc.tagIds, doc.createdBy])).toEqual([
      ["gen0", "a", false, [], "alice"],
      ["gen1", "b", true, ["t1"], "alice"],
    ]);
    expect(docs[0]!.createdAt).toBeInstanceOf(Date);
    expect(writer.read("todos", "gen1")).toEqual(docs[1]);
  });

  it("writes in one transaction and one reported write, each document under the next clock reading", () => {
    const { writer, store, reported } = setup();
    const commits: number[] = [];
    store.watch("todos");
    store.onCommit((commit) => commits.push([...commit.tables.values()][0]!.size));
    writer.createMany("todos", [
      { text: "a", done: false },
      { text: "b", done: false },
      { text: "c", done: false },
    ]);
    expect(commits).toEqual([3]);
    expect(reported).toHaveLength(1);
    const stampOf = new Map(reported[0]!.map((triple) => [triple.id, triple.hlc]));
    const ticks = [...stampOf.values()].map((stamp) => decodeHlc(stamp).data!.ticks);
    expect(ticks).toEqual([ticks[0]!, ticks[0]! + 1, ticks[0]! + 2]);
  });

  it("sorts the documents of one call by createdAt in the order given, past a millisecond's ticks", () => {
    const { writer, store } = setup(); // the wall clock stands still
    const texts = Array.from({ length: 2_500 }, (_, index) => `t${index}`);
    writer.createMany(
      "todos",
      texts.map((text) => ({ text, done: false })),
      { returnDocuments: false },
    );
    const byCreation = normalizeQuery(schema.collections.todos!, { orderBy: ["createdAt", "asc"] }, schema.collections);
    const table = store.table("todos")!;
    expect(runQuery(store, byCreation.data!).map((row) => table.get(row, "text"))).toEqual(texts);
  });

  it("returns { count } and builds no documents with returnDocuments: false", () => {
    const { writer } = setup();
    expect(writer.createMany("todos", [{ text: "a", done: false }], { returnDocuments: false })).toEqual({
      data: { count: 1 },
      error: undefined,
    });
    expect(writer.read("todos", "gen0")?.text).toBe("a");
  });

  it("writes nothing when one document is invalid, and names it by index", () => {
    const { writer, store, reported } = setup();
    const result = writer.createMany("todos", [
      { text: "a", done: false },
      { text: 1, done: false },
    ]);
    expect(result.error?.code).toBe("VALIDATION");
    expect(result.error?.details).toMatchObject({ index: 1, field: "text", collection: "todos" });
    expect(result.error?.message).toMatch(/document 1: todos\.text expects a string/);
    expect(store.table("todos")).toBeUndefined();
    expect(reported).toEqual([]);
  });

  it("creates nothing for an empty array", () => {
    const { writer, reported } = setup();
    expect(writer.createMany("todos", []).data).toEqual([]);
    expect(writer.createMany("todos", [], { returnDocuments: false }).data).toEqual({ count: 0 });
    expect(reported).toEqual([]);
  });

  it("refuses what is not an array, unknown collections and bad options", () => {
    const { writer } = setup();
    expect(writer.createMany("todos", { text: "a" }).error?.message).toMatch(/takes an array of documents/);
    expect(writer.createMany("nope", []).error?.code).toBe("VALIDATION");
    for (const options of [{ returnDocs: false }, { returnDocuments: "no" }, null, 5, "yes"])
      expect(writer.createMany("todos", [], options).error?.message, JSON.stringify(options)).toMatch(
        /options must be \{ returnDocuments\?: boolean \}/,
      );
    expect(writer.createMany("todos", [null]).error?.details).toMatchObject({ index: 0 });
  });
});

describe("caller-supplied ids", () => {
  it("create and createMany keep a well-formed new id", () => {
    const { writer } = setup();
    expect(writer.create("todos", { id: "first", text: "a", done: false }).data?.id).toBe("first");
    const many = writer.createMany("todos", [
      { id: "second", text: "b", done: false },
      { text: "c", done: false },
    ]);
    expect((many.data as Array<{ id: string }>).map((doc) => doc.id)).toEqual(["second", "gen0"]);
  });

  it("an id left undefined is generated", () => {
    const { writer } = setup();
    expect(writer.create("todos", { id: undefined, text: "a", done: false }).data?.id).toBe("gen0");
  });

  it("refuses malformed ids", () => {
    const { writer } = setup();
    for (const id of ["", "has space", "x".repeat(65), 7, null, "é"]) {
      const result = writer.create("todos", { id, text: "a", done: false });
      expect(result.error?.code, String(id)).toBe("VALIDATION");
      expect(result.error?.details).toMatchObject({ field: "id" });
    }
  });

  it("refuses an id in use, without overwriting it", () => {
    const { writer } = setup();
    writer.create("todos", { id: "t1", text: "original", done: false });
    const again = writer.create("todos", { id: "t1", text: "copy", done: true });
    expect(again.error?.code).toBe("VALIDATION");
    expect(again.error?.message).toMatch(/id "t1" exists already/);
    expect(writer.read("todos", "t1")?.text).toBe("original");
    const many = writer.createMany("todos", [
      { text: "new", done: false },
      { id: "t1", text: "copy", done: true },
    ]);
    expect(many.error?.details).toMatchObject({ index: 1, id: "t1" });
    expect(writer.read("todos", "gen0")).toBeUndefined();
  });

  it("refuses the id of a deleted document: delete wins, it is not resurrected", () => {
    const { writer } = setup();
    writer.create("todos", { id: "gone", text: "a", done: false });
    writer.delete("todos", "gone");
    const result = writer.create("todos", { id: "gone", text: "back", done: false });
    expect(result.error?.message).toMatch(/was deleted/);
    expect(writer.read("todos", "gone")).toBeUndefined();
  });

  it("refuses the same id twice in one createMany", () => {
    const { writer, store } = setup();
    const result = writer.createMany("todos", [
      { id: "x", text: "a", done: false },
      { text: "b", done: false },
      { id: "x", text: "c", done: false },
    ]);
    expect(result.error?.message).toMatch(/documents 0 and 2 both have id "x"/);
    expect(result.error?.details).toMatchObject({ index: 2 });
    expect(store.table("todos")).toBeUndefined();
  });

  it("ids are per collection", () => {
    const { writer } = setup();
    writer.create("tags", { id: "same", name: "t" });
    expect(writer.create("todos", { id: "same", text: "a", done: false }).error).toBeUndefined();
  });
});

describe("batch createMany", () => {
  it("describes the documents as data that survives JSON, and execute runs it", () => {
    const { writer } = setup();
    const todos = createBatchCollection("todos");
    const operation = todos.createMany!([
      { text: "a", done: false, notes: undefined } as never,
      { id: "b", text: "b", done: true } as never,
    ] as never);
    expect(operation).toEqual({
      kind: "createMany",
      collection: "todos",
      documents: [
        { text: "a", done: false, notes: null },
        { id: "b", text: "b", done: true },
      ],
    });
    const counted = todos.createMany!([{ text: "c", done: false }] as never, { returnDocuments: false } as never);
    const results = writer.transaction(() =>
      executeBatch(schema, writer, JSON.parse(JSON.stringify([operation, counted]))),
    );
    expect(results.error).toBeUndefined();
    const [created, count] = results.data!;
    expect((created!.data as Array<{ id: string }>).map((doc) => doc.id)).toEqual(["gen0", "b"]);
    expect(count!.data).toEqual({ count: 1 });
  });

  it("reports a bad createMany as that operation's error", () => {
    const { writer } = setup();
    const results = executeBatch(schema, writer, [
      { kind: "createMany", collection: "todos", documents: "nope" },
      { kind: "createMany", collection: "todos", documents: [{ text: 3 }] },
    ]);
    expect(results.data!.map((result) => result.error?.code)).toEqual(["VALIDATION", "VALIDATION"]);
  });
});
