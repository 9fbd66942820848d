import { describe, expect, it } from "vitest";
import { createLinkedWorld, linkedQuery } from "../testing/linked-world.js";
import { compileMaterializer } from "./materialize.js";
import type { NormalizedQuery } from "./normalized-query.js";
import { resultDocuments } from "./result-documents.js";
import { runQuery } from "./run-query.js";

/** A query of `collection` selecting `id` and the given relations (only what the walk reads). */
function query(collection: string, relations: Array<[name: string, NormalizedQuery]> = []): NormalizedQuery {
  return {
    collection,
    select: ["id"],
    where: [],
    orderBy: [],
    limit: undefined,
    specs: { id: { type: "string", optional: false } },
    relations: relations.map(([name, nested]) => ({
      name,
      cardinality: "many",
      direction: "forward",
      link: name,
      linkSpec: { type: "refMany", optional: false },
      query: nested,
    })),
  };
}

describe("resultDocuments", () => {
  it("yields each document of a shared result once", () => {
    const { store } = createLinkedWorld(["a", "b", "c", "d", "e", "f"]);
    const linked = linkedQuery(8);
    const table = store.table("nodes")!;
    const materialize = compileMaterializer(linked, store).pass();
    const docs = runQuery(store, linked).map((row) => materialize(table, row));
    expect([...resultDocuments(linked, docs)]).toEqual(["a", "b", "c", "d", "e", "f"].map((id) => ["nodes", id]));
  });

  it("visits each shared object once, however often the result reaches it", () => {
    // 40 levels of two documents, each linking both of the next level: 2^41 paths, 80 objects.
    let reads = 0;
    let nested = query("nodes");
    let level: Array<Record<string, unknown>> = [];
    for (let depth = 39; depth >= 0; depth--) {
      const next = level;
      level = ["x", "y"].map((name) => {
        const doc: Record<string, unknown> = { id: `${name}${depth}` };
        Object.defineProperty(doc, "next", {
          enumerable: true,
          get: () => {
            reads++;
            return next;
          },
        });
        return doc;
      });
      if (depth > 0) nested = query("nodes", [["next", nested]]);
    }
    const yielded = [...resultDocuments(nested, level)];
    expect(yielded).toHaveLength(80);
    expect(new Set(yielded.map(([, id]) => id)).size).toBe(80);
    expect(reads).toBeLessThanOrEqual(80);
  });

  it("names documents by collection and id: the same id in two collections is two documents", () => {
    const tags = query("tags");
    const users = query("users", [["tags", tags]]);
    const posts = query("posts", [
      ["authors", users],
      ["tags", tags],
    ]);
    const red = { id: "red" };
    const docs = [
      { id: "p1", authors: [{ id: "red", tags: [red] }], tags: [red, { id: "blue" }] },
      { id: "p2", authors: [], tags: [{ id: "red" }] },
    ];
    expect([...resultDocuments(posts, docs)]).toEqual([
      ["posts", "p1"],
      ["users", "red"],
      ["tags", "red"],
      ["tags", "blue"],
      ["posts", "p2"],
    ]);
  });

  it("walks past documents without an id and relations that found none", () => {
    const tags = query("tags");
    const posts = query("posts", [["tags", tags]]);
    const docs = [{ tags: [{ id: "t1" }] }, { id: "p2", tags: undefined }];
    expect([...resultDocuments(posts, docs)]).toEqual([
      ["tags", "t1"],
      ["posts", "p2"],
    ]);
  });
});
