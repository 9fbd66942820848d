import { describe, expect, it } from "vitest";
import { LiveQueryRegistry } from "../query/live-registry.js";
import { normalizeQuery } from "../query/normalize.js";
import { runQuery } from "../query/run-query.js";
import { createSchema } from "../schema/create-schema.js";
import { t } from "../schema/t.js";
import { TripleStore } from "./triple-store.js";

const schema = createSchema({ entities: { posts: { title: t.string({ fallback: "" }), tagIds: t.refMany("posts") } } });
const posts = schema.collections.posts!;
const at = (ticks: number) => ({ ticks, node: "n" });

function idsOf(store: TripleStore, where: Record<string, unknown>): string[] {
  const query = normalizeQuery(posts, { where, orderBy: ["id", "asc"] }, schema.collections).data!;
  const table = store.table("posts")!;
  return runQuery(store, query).map((row) => table.idOf(row));
}

/**
 * A plain value written to a set field (an old client that stored the field as a string, a
 * malformed triple) has the wrong type for that document only.
 */
describe("Table with a plain value in a set field", () => {
  it("keeps the other documents' sets readable", () => {
    // Regression: one plain write created a plain column that `get` preferred for every row,
    // so every document's tags read as empty.
    const store = new TripleStore();
    store.setElement("posts", "p1", "tagIds", "x", true, at(1));
    store.setElement("posts", "p2", "tagIds", "y", true, at(1));
    expect(idsOf(store, { tagIds: "x" })).toEqual(["p1"]); // builds the equality index
    store.setField("posts", "stray", "tagIds", "x", at(2));
    const table = store.table("posts")!;
    expect(table.get(table.rowOf("p1")!, "tagIds")).toEqual(["x"]);
    expect(idsOf(store, { tagIds: "x" })).toEqual(["p1"]);
    expect(idsOf(store, { tagIds: { in: ["x", "y"] } })).toEqual(["p1", "p2"]);
    expect(idsOf(store, { tagIds: { isDefined: true } })).toEqual(["p1", "p2"]);
    // New members after the stray write are indexed and read too.
    store.setElement("posts", "p3", "tagIds", "x", true, at(3));
    expect(idsOf(store, { tagIds: "x" })).toEqual(["p1", "p3"]);
  });

  it("reads a document's members again once its plain value is removed", () => {
    const store = new TripleStore();
    store.setElement("posts", "p1", "tagIds", "x", true, at(1));
    expect(idsOf(store, { tagIds: "x" })).toEqual(["p1"]);
    store.setField("posts", "p1", "tagIds", "x", at(2)); // wrong type: the set reads as empty
    expect(idsOf(store, { tagIds: "x" })).toEqual([]);
    store.setElement("posts", "p1", "tagIds", "z", true, at(3));
    store.setElement("posts", "p1", "tagIds", "x", false, at(4));
    store.setElement("posts", "p1", "tagIds", "x", true, at(5));
    store.setField("posts", "p1", "tagIds", null, at(6));
    expect(idsOf(store, { tagIds: "x" })).toEqual(["p1"]);
    expect(idsOf(store, { tagIds: "z" })).toEqual(["p1"]);
  });

  it("lets live queries routed by the set see deletes of documents with members", () => {
    // The change record must remember the members a deleted row had, not the empty plain cell.
    const store = new TripleStore();
    const registry = new LiveQueryRegistry(store);
    store.setElement("posts", "p1", "tagIds", "x", true, at(1));
    store.setField("posts", "stray", "tagIds", "x", at(1));
    const live = registry.acquire(normalizeQuery(posts, { where: { tagIds: "x" }, fields: { id: true } }).data!);
    expect(live.result.value).toEqual([{ id: "p1" }]);
    store.delete("posts", "p1", at(2));
    expect(live.result.value).toEqual([]);
    registry.dispose();
  });
});

describe("Table.liveRows", () => {
  it("skips tombstones, whatever order the delete and the writes arrive in", () => {
    const store = new TripleStore();
    for (const id of ["p0", "p1", "p2"]) store.setField("posts", id, "title", id, at(1));
    store.delete("posts", "p1", at(2));
    store.delete("posts", "never-written", at(2)); // a delete that arrives before any write
    store.setField("posts", "never-written", "title", "late", at(1));
    store.setField("posts", "p1", "title", "after the delete", at(3));
    const table = store.table("posts")!;
    expect(table.liveRows().map((row) => table.idOf(row))).toEqual(["p0", "p2"]);
    expect(table.liveRows()).toHaveLength(table.liveCount);
    // Its callers: a full scan and a relational filter without an index see only live documents.
    expect(idsOf(store, {})).toEqual(["p0", "p2"]);
    store.setElement("posts", "p2", "tagIds", "p1", true, at(4));
    store.setElement("posts", "p0", "tagIds", "p2", true, at(4));
    expect(idsOf(store, { tagIds: { where: { title: { startsWith: "p" } } } })).toEqual(["p0"]);
  });

  it("skips forgotten and unloaded rows, and lists a reused row once it is written again", () => {
    const store = new TripleStore();
    for (const id of ["p0", "p1", "p2"]) store.setField("posts", id, "title", id, at(1));
    store.delete("posts", "p2", at(2));
    store.forget([{ collection: "posts", id: "p0" }]);
    store.unload("posts", [store.table("posts")!.rowOf("p1")!]);
    const table = store.table("posts")!;
    expect(table.liveRows()).toEqual([]);
    store.setField("posts", "p3", "title", "p3", at(3));
    expect(table.liveRows().map((row) => table.idOf(row))).toEqual(["p3"]);
  });
});

describe("TripleStore.dropTable", () => {
  it("forgets an unwatched collection and rebuilds it from later writes", () => {
    const store = new TripleStore();
    store.setField("posts", "p1", "title", "a", at(1));
    expect(store.dropTable("posts")).toBe(true);
    expect(store.table("posts")).toBeUndefined();
    store.setField("posts", "p2", "title", "b", at(2));
    expect(store.table("posts")!.ids).toEqual(["p2"]);
  });

  it("refuses while a live query watches the collection", () => {
    const store = new TripleStore();
    store.setField("posts", "p1", "title", "a", at(1));
    const registry = new LiveQueryRegistry(store);
    const live = registry.acquire(normalizeQuery(posts, {}).data!);
    expect(store.isWatched("posts")).toBe(true);
    expect(store.dropTable("posts")).toBe(false);
    registry.release(live);
    expect(store.isWatched("posts")).toBe(false);
    expect(store.dropTable("posts")).toBe(true);
  });
});

describe("TripleStore.transactUnheard and LiveQueryRegistry.refresh", () => {
  it("applies changes no live query hears, until a refresh recomputes them once", () => {
    const store = new TripleStore();
    const registry = new LiveQueryRegistry(store);
    const live = registry.acquire(normalizeQuery(posts, { orderBy: ["id", "asc"] }).data!);
    const results: number[] = [];
    const stop = live.result.subscribe((docs) => results.push(docs.length));
    store.transactUnheard("posts", () => {
      for (let n = 0; n < 3; n++) store.setField("posts", `p${n}`, "title", `t${n}`, at(1));
    });
    expect(live.result.value).toHaveLength(0);
    expect(store.isWatched("posts")).toBe(true);
    registry.refresh("posts");
    expect(live.result.value).toHaveLength(3);
    // Heard again afterwards.
    store.setField("posts", "p9", "title", "t9", at(2));
    expect(live.result.value).toHaveLength(4);
    expect(results).toEqual([0, 3, 4]);
    stop();
  });
});

describe("TripleStore.unload", () => {
  const tagged = createSchema({
    entities: {
      posts: {
        title: t.string({ fallback: "" }),
        tag: t.string({ optional: true }),
        likes: t.number({ optional: true }),
      },
    },
  }).collections.posts!;

  it("forgets single documents, reuses their rows, and leaves the others and the indexes right", () => {
    const store = new TripleStore();
    for (let n = 0; n < 6; n++)
      store.setFields(
        "posts",
        `p${n}`,
        [
          ["title", `t${n}`],
          ["tag", n % 2 === 0 ? "even" : "odd"],
          ["likes", n],
        ],
        at(1 + n),
      );
    store.delete("posts", "p5", at(10));
    const table = store.table("posts")!;
    // Indexes built before the unload must drop the rows too.
    expect(runQuery(store, normalizeQuery(tagged, { where: { tag: "even" } }).data!)).toHaveLength(3);
    expect(runQuery(store, normalizeQuery(tagged, { where: { likes: { greaterThanOrEqual: 1 } } }).data!)).toHaveLength(
      4,
    );
    const unloaded = [table.rowOf("p0")!, table.rowOf("p1")!, table.anyRowOf("p5")!];
    expect(store.unload("posts", unloaded)).toBe(true);
    expect(table.isPartial).toBe(true);
    expect(table.residentCount).toBe(3);
    expect(table.liveCount).toBe(3);
    expect(table.anyRowOf("p0")).toBeUndefined();
    expect(table.anyRowOf("p5")).toBeUndefined();
    expect(store.documentTriples("posts", "p1")).toEqual([]);
    expect([...store.triples()].map((triple) => triple.id).sort()).toEqual([
      "p2",
      "p2",
      "p2",
      "p3",
      "p3",
      "p3",
      "p4",
      "p4",
      "p4",
    ]);
    const ids = (query: object) =>
      runQuery(store, normalizeQuery(tagged, query).data!)
        .map((row) => table.idOf(row))
        .sort();
    expect(ids({ where: { tag: "even" } })).toEqual(["p2", "p4"]);
    expect(ids({ where: { likes: { greaterThanOrEqual: 1 } } })).toEqual(["p2", "p3", "p4"]);
    // Loading a document again reuses a freed row, with none of the old cells.
    store.setFields("posts", "p9", [["title", "new"]], at(20));
    expect(unloaded).toContain(table.rowOf("p9"));
    expect(store.documentTriples("posts", "p9").map((triple) => triple.field)).toEqual(["title"]);
    expect(ids({ where: { tag: "even" } })).toEqual(["p2", "p4"]);
    expect(table.residentCount).toBe(4);
    // A document unloaded after its delete can be read back, tombstone first: later writes lose.
    store.delete("posts", "p5", at(10));
    expect(store.setField("posts", "p5", "title", "back", at(30))).toBe(false);
  });

  it("is refused inside a transaction", () => {
    const store = new TripleStore();
    store.setField("posts", "p1", "title", "a", at(1));
    store.transact(() => expect(store.unload("posts", [0])).toBe(false));
    expect(store.table("posts")!.residentCount).toBe(1);
  });

  it("live views name the rows they hold; a view built on a partial table is not complete until a reset on a whole one", () => {
    const store = new TripleStore();
    for (let n = 0; n < 4; n++)
      store.setFields(
        "posts",
        `p${n}`,
        [
          ["title", `t${n}`],
          ["tag", n < 2 ? "a" : "b"],
        ],
        at(1 + n),
      );
    const registry = new LiveQueryRegistry(store);
    const table = store.table("posts")!;
    const tagA = registry.acquire(normalizeQuery(tagged, { where: { tag: "a" }, limit: 1 }).data!);
    expect([...registry.heldRows("posts")!].map((row) => table.idOf(row)).sort()).toEqual(["p0", "p1"]);
    expect(registry.liveQuery(normalizeQuery(tagged, { where: { tag: "a" }, limit: 1 }).data!)).toBe(tagA);
    store.unload("posts", [table.rowOf("p2")!]);
    const tagB = registry.acquire(normalizeQuery(tagged, { where: { tag: "b" } }).data!);
    expect(tagA.isComplete).toBe(true);
    expect(tagB.isComplete).toBe(false);
    expect(tagB.result.value.map((doc) => doc.id)).toEqual(["p3"]);
    store.setFields(
      "posts",
      "p2",
      [
        ["title", "t2"],
        ["tag", "b"],
      ],
      at(1),
    );
    table.isPartial = false;
    registry.refresh("posts");
    expect(tagB.isComplete).toBe(true);
    expect(tagB.result.value.map((doc) => doc.id).sort()).toEqual(["p2", "p3"]);
  });
});

describe("TripleStore.forget", () => {
  const tagged = createSchema({
    entities: {
      posts: { title: t.string({ fallback: "" }), tag: t.string({ optional: true }), tagIds: t.refMany("posts") },
    },
  }).collections.posts!;

  it("forgets live documents as a change live queries see, with no tombstone: later writes start them afresh", () => {
    const store = new TripleStore();
    const registry = new LiveQueryRegistry(store);
    for (let n = 0; n < 3; n++)
      store.setFields(
        "posts",
        `p${n}`,
        [
          ["title", `t${n}`],
          ["tag", "a"],
        ],
        at(1 + n),
      );
    store.setElement("posts", "p0", "tagIds", "x", true, at(5));
    store.delete("posts", "p2", at(6));
    const byTag = registry.acquire(normalizeQuery(tagged, { where: { tag: "a" }, fields: { id: true } }).data!);
    const byMember = registry.acquire(normalizeQuery(tagged, { where: { tagIds: "x" }, fields: { id: true } }).data!);
    expect(byTag.result.value).toEqual([{ id: "p0" }, { id: "p1" }]);
    expect(byMember.result.value).toEqual([{ id: "p0" }]);

    // Unknown documents are left alone; a deleted one loses its tombstone too.
    expect(
      store.forget([
        { collection: "posts", id: "p0" },
        { collection: "posts", id: "p2" },
        { collection: "posts", id: "nope" },
        { collection: "other", id: "p0" },
      ]),
    ).toBe(2);
    expect(byTag.result.value).toEqual([{ id: "p1" }]);
    expect(byMember.result.value).toEqual([]);
    expect(store.documentTriples("posts", "p0")).toEqual([]);
    expect(store.documentTriples("posts", "p2")).toEqual([]);
    expect(store.setField("posts", "p2", "tag", "a", at(1))).toBe(true);
    expect(byTag.result.value).toEqual([{ id: "p1" }, { id: "p2" }]);
    store.forget([{ collection: "posts", id: "p2" }]);
    const table = store.table("posts")!;
    expect(table.rowOf("p0")).toBeUndefined();
    expect(table.liveCount).toBe(1);
    expect(idsOf(store, { tagIds: "x" })).toEqual([]);

    // Sent again, it is written afresh: even an older write wins over nothing.
    expect(store.setField("posts", "p0", "title", "back", at(2))).toBe(true);
    store.setField("posts", "p0", "tag", "a", at(2));
    expect(byTag.result.value).toEqual([{ id: "p0" }, { id: "p1" }]);
    expect(
      store
        .documentTriples("posts", "p0")
        .map((triple) => triple.field)
        .sort(),
    ).toEqual(["tag", "title"]);
    registry.dispose();
  });
});
