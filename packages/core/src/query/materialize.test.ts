import { describe, expect, it } from "vitest";
import { createClock } from "../hlc.js";
import { createSchema } from "../schema/create-schema.js";
import { t } from "../schema/t.js";
import { TripleStore } from "../store/triple-store.js";
import { compileMaterializer } from "./materialize.js";
import { normalizeQuery } from "./normalize.js";
import { runQuery } from "./run-query.js";

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
  const set = (collection: string, id: string, field: string, value: unknown) => store.setField(collection, id, field, value, clock.now());
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
    expect(run("posts", { fields: { authorId: { fields: { name: true }, limit: 0 } } })).toEqual([{ authorId: undefined }]);
    expect(run("posts", { fields: { authorId: { fields: { name: true }, limit: 1 } } })).toEqual([{ authorId: { name: "Ada" } }]);
  });
});
