import { describe, expect, it } from "vitest";
import { fail } from "../errors.js";
import { createClock } from "../hlc.js";
import { createSchema } from "../schema/create-schema.js";
import { t } from "../schema/t.js";
import { TripleStore } from "../store/triple-store.js";
import { countLinked, createLinkedWorld, linkedQuery } from "../testing/linked-world.js";
import { compileMaterializer } from "./materialize.js";
import { normalizeQuery } from "./normalize.js";
import { DEFAULT_MAX_QUERY_COST, QueryCostError } from "./query-cost.js";
import { runQuery } from "./run-query.js";
import type { Source } from "./source.js";

const schema = createSchema({
  entities: {
    users: { name: t.string({ fallback: "" }) },
    posts: { title: t.string({ fallback: "" }), authorId: t.ref("users"), tagIds: t.refMany("tags") },
    tags: { name: t.string({ fallback: "" }) },
  },
});

function setup() {
  const store = new TripleStore();
  const clock = createClock({ node: "test", wallClock: () => 1_700_000_000_000 });
  const set = (collection: string, id: string, field: string, value: unknown) =>
    store.setField(collection, id, field, value, clock.now());
  const run = (collection: string, query: unknown) => {
    const normalized = normalizeQuery(schema.collections[collection]!, query, schema.collections);
    if (normalized.error) throw new Error(normalized.error.message);
    const materialize = compileMaterializer(normalized.data, store);
    return runQuery(store, normalized.data).map((row) => materialize(store.table(collection)!, row));
  };
  return { store, clock, set, run };
}

describe("compileMaterializer relations", () => {
  // Found by relations-oracle.test.ts: the link field's equality index holds stored values, and
  // wrong-typed ones (say, synced from an older client) read as no link at all.
  it("links reverse relations by the value as read, not by a wrong-typed stored value", () => {
    const { store, clock, set, run } = setup();
    set("users", "u1", "name", "Ada");
    set("tags", "t1", "name", "red");
    set("posts", "p1", "title", "linked");
    set("posts", "p1", "authorId", "u1");
    store.setElement("posts", "p1", "tagIds", "t1", true, clock.now());
    set("posts", "p2", "title", "ref stored as an array");
    set("posts", "p2", "authorId", ["u1"]);
    set("posts", "p3", "title", "set field holding a plain id");
    set("posts", "p3", "tagIds", "t1");
    const posts = { fields: { title: true }, orderBy: ["title", "asc"] };
    expect(run("users", { fields: { name: true, posts } })).toEqual([{ name: "Ada", posts: [{ title: "linked" }] }]);
    expect(run("tags", { fields: { name: true, posts } })).toEqual([{ name: "red", posts: [{ title: "linked" }] }]);
  });

  it("returns no document for a single relation with limit 0", () => {
    const { set, run } = setup();
    set("users", "u1", "name", "Ada");
    set("posts", "p1", "authorId", "u1");
    expect(run("posts", { fields: { authorId: { fields: { name: true }, limit: 0 } } })).toEqual([
      { authorId: undefined },
    ]);
    expect(run("posts", { fields: { authorId: { fields: { name: true }, limit: 1 } } })).toEqual([
      { authorId: { name: "Ada" } },
    ]);
  });
});

describe("compileMaterializer sharing", () => {
  const ids = ["a", "b", "c", "d", "e", "f"];
  const runLinked = (depth: number, maxQueryCost?: number) => {
    const { store } = createLinkedWorld(ids);
    const query = linkedQuery(depth);
    const materialize = compileMaterializer(
      query,
      store,
      maxQueryCost === undefined ? undefined : { maxQueryCost },
    ).pass();
    const table = store.table("nodes")!;
    return runQuery(store, query).map((row) => materialize(table, row));
  };

  it("builds each related document once per relation and pass, shared by every parent linking it", () => {
    const docs = runLinked(8);
    // Unfolded, the result is a tree of 6 + 6² + … + 6⁹ documents; built, it is 6 per level.
    expect(countLinked(docs)).toEqual({ distinct: Array(9).fill(6), unfolded: (6 ** 10 - 6) / 5 });
    const [a, b] = docs as Array<{ links: Array<{ id: string; links: unknown[] }> }>;
    expect(a!.links[2]).toBe(b!.links[2]);
    expect(a!.links[2]!.links[0]).toBe(a!.links[3]!.links[0]);
    expect(a!.links[2]!.links[0]).not.toBe(a!.links[0]); // another relation of the query: its own object
    expect(a!.links.map((doc) => doc.id)).toEqual(ids);
  });

  it("reads the same as documents built one by one, each in a pass of its own", () => {
    const { store } = createLinkedWorld(["a", "b", "c"]);
    const query = linkedQuery(3);
    const table = store.table("nodes")!;
    const materialize = compileMaterializer(query, store);
    const pass = materialize.pass();
    const rows = runQuery(store, query);
    const alone = rows.map((row) => materialize(table, row));
    expect(rows.map((row) => pass(table, row))).toEqual(alone);
    expect(alone[0]!.links).not.toBe(alone[1]!.links);
  });

  it("counts every linked document the relations examine against the pass's limit", () => {
    // Each level resolves `links` of its 6 distinct documents once: 6 × 6 ids, 8 levels.
    expect(runLinked(8, 288)).toHaveLength(6);
    const refused = (() => {
      try {
        runLinked(8, 287);
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(QueryCostError);
    expect((refused as QueryCostError).details).toEqual({ collection: "nodes", relation: "links", limit: 287 });
    expect((refused as QueryCostError).code).toBe("VALIDATION");
    expect((refused as QueryCostError).message).toMatch(
      /more than 287 linked documents.*Narrow the relations with where or limit, filter through fewer links, or nest fewer levels/,
    );
    const { code, message, details } = refused as QueryCostError;
    expect(fail(code, message, details).error.toJSON()).toEqual({
      code: "VALIDATION",
      message,
      details: { collection: "nodes", relation: "links", limit: 287 },
    });
  });

  it("charges the candidates a relation's where and limit drop too", () => {
    const { store } = createLinkedWorld(ids);
    const query = linkedQuery(2, { where: { name: "node a" }, limit: 1 });
    const table = store.table("nodes")!;
    const run = (maxQueryCost: number) => {
      const materialize = compileMaterializer(query, store, { maxQueryCost }).pass();
      return runQuery(store, query).map((row) => materialize(table, row));
    };
    // Level one: 6 roots × 6 ids; level two: only "a" remains, 6 ids.
    expect(countLinked(run(42)).distinct).toEqual([6, 1, 1]);
    expect(() => run(41)).toThrow(QueryCostError);
  });

  it("refuses a reverse relation that would scan a table without an index before scanning it", () => {
    const { store, set } = setup();
    // Enough users and posts that every user scanning every post exceeds the default limit.
    const count = Math.ceil(Math.sqrt(DEFAULT_MAX_QUERY_COST)) + 1;
    store.transact(() => {
      for (let i = 0; i < count; i++) {
        set("users", `u${i}`, "name", `user ${i}`);
        set("posts", `p${i}`, "authorId", `u${i}`);
      }
    });
    let scans = 0;
    // The store without its indexes: reverse relations scan the related table for each parent.
    const unindexed: Source = {
      table: (collection) => {
        const table = store.table(collection);
        if (table === undefined) return undefined;
        return {
          name: table.name,
          liveCount: table.liveCount,
          liveRows: () => (scans++, table.liveRows()),
          rowOf: (id) => table.rowOf(id),
          isLive: (row) => table.isLive(row),
          idOf: (row) => table.idOf(row),
          get: (row, field) => table.get(row, field),
          updatedTicksOf: (row) => table.updatedTicksOf(row),
        };
      },
    };
    const query = normalizeQuery(
      schema.collections.users!,
      { fields: { name: true, posts: { fields: { title: true } } } },
      schema.collections,
    ).data!;
    const users = store.table("users")!;
    const materialize = compileMaterializer(query, unindexed).pass();
    expect(() => runQuery(store, query).forEach((row) => materialize(users, row))).toThrow(QueryCostError);
    expect(scans).toBeLessThan(count);
    const unlimited = compileMaterializer(query, unindexed, { maxQueryCost: Infinity }).pass();
    expect(unlimited(users, users.rowOf("u0")!)).toEqual({ name: "user 0", posts: [{ title: "" }] });
  });

  it("throws at once when maxQueryCost is not a number of documents", () => {
    const query = linkedQuery(1);
    const { store } = createLinkedWorld(ids);
    expect(() => compileMaterializer(query, store, { maxQueryCost: -1 })).toThrow(/maxQueryCost must be a number/);
    expect(() => compileMaterializer(query, store, { maxQueryCost: Number.NaN })).toThrow(
      /maxQueryCost must be a number/,
    );
  });
});
