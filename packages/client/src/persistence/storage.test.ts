import "fake-indexeddb/auto";
import { encodeHlc, type Triple } from "@trellis/core";
import { describe, expect, it } from "vitest";
import { createIndexedDbStorage } from "./indexeddb-storage.js";
import { createMemoryStorage } from "./memory-storage.js";
import type { OrderedRead } from "./ordered-scan.js";
import type { ClientStorage, StorageCommit, StoredDocument, StoredState } from "./storage.js";

// One suite, every backend: what a client stores is what the next run finds, whatever keeps it.

interface Backend {
  readonly name: string;
  /** A new, empty storage. */
  create(): ClientStorage;
  /** The same data seen by a later run (a page reload). */
  reopen(storage: ClientStorage): Promise<ClientStorage>;
}

let databases = 0;
const backends: Backend[] = [
  { name: "memory", create: createMemoryStorage, reopen: async (storage) => storage },
  {
    name: "indexeddb",
    create: () =>
      Object.assign(createIndexedDbStorage({ name: `suite-${++databases}` }), { dbName: `suite-${databases}` }),
    reopen: async (storage) => {
      await storage.close();
      const { dbName } = storage as ClientStorage & { dbName: string };
      return Object.assign(createIndexedDbStorage({ name: dbName }), { dbName });
    },
  },
];

const hlc = (ticks: number, node = "n1") => encodeHlc({ ticks, node });
const triple = (id: string, field: string, value: unknown, ticks: number, node = "n1"): Triple => ({
  collection: "todos",
  id,
  field,
  value,
  hlc: hlc(ticks, node),
});
const commit = (parts: Partial<StorageCommit>): StorageCommit => ({
  documents: [],
  added: [],
  acknowledged: [],
  cursors: new Map(),
  clock: hlc(1),
  ...parts,
});

async function opened(storage: ClientStorage): Promise<StoredState> {
  const state = await storage.open();
  expect(state.error).toBeUndefined();
  return state.data!;
}

/** The documents of a collection as a later run reads them. */
async function storedDocuments(storage: ClientStorage, collection = "todos"): Promise<StoredDocument[]> {
  await opened(storage);
  const documents = await storage.readCollection(collection);
  expect(documents.error).toBeUndefined();
  return [...documents.data!.documents];
}

function cells(documents: readonly StoredDocument[], id: string): Record<string, unknown> {
  const document = documents.find((stored) => stored.id === id);
  return Object.fromEntries(
    (document?.triples ?? []).map((stored) => [
      stored.element === undefined ? stored.field : `${stored.field}:${stored.element}`,
      stored.value,
    ]),
  );
}

/** An ordered read of every document, ascending. */
const ORDER_ALL: OrderedRead = {
  field: "createdAt",
  direction: "asc",
  type: "number",
  missing: "none",
  limit: 1_000,
  maxExamined: 10_000,
  matches: () => true,
};

describe.each(backends)("$name storage", (backend) => {
  it("starts empty", async () => {
    const state = await opened(backend.create());
    expect(state).toEqual({ outbox: [], clock: undefined, cursors: new Map() });
    expect((await backend.create().listCollections()).data).toEqual([]);
  });

  it("gives a later run the documents, outbox, cursors and clock it committed", async () => {
    const storage = backend.create();
    await opened(storage);
    const write = [triple("t1", "title", "milk", 10), triple("t1", "done", false, 10)];
    expect(
      await storage.commit(
        commit({
          documents: [{ collection: "todos", id: "t1", triples: write }],
          added: [{ batchId: "b1", triples: write }],
          cursors: new Map([["q-all", "c5"]]),
          clock: hlc(10),
        }),
      ),
    ).toEqual({ data: { versions: new Map([["todos", 1]]) }, error: undefined });
    const reopened = await backend.reopen(storage);
    const state = await opened(reopened);
    expect(await storedDocuments(reopened)).toEqual([{ collection: "todos", id: "t1", triples: write }]);
    expect(state.outbox).toEqual([{ batchId: "b1", triples: write }]);
    expect(state.cursors).toEqual(new Map([["q-all", "c5"]]));
    expect(state.clock).toBe(hlc(10));
  });

  it("keeps pending writes in write order across commits and drops acknowledged ones", async () => {
    const storage = backend.create();
    await opened(storage);
    const ids = Array.from({ length: 30 }, (_, index) => `b${index}`);
    // Ids that sort differently from their write order.
    const shuffled = ids.map((id, index) => `${(index * 7) % 30}-${id}`);
    for (let index = 0; index < shuffled.length; index += 3) {
      await storage.commit(
        commit({ added: shuffled.slice(index, index + 3).map((batchId) => ({ batchId, triples: [] })) }),
      );
    }
    await storage.commit(commit({ acknowledged: [shuffled[0]!, shuffled[4]!, "never-stored"] }));
    const state = await opened(await backend.reopen(storage));
    expect(state.outbox.map((entry) => entry.batchId)).toEqual(
      shuffled.filter((_, index) => index !== 0 && index !== 4),
    );
    // Compaction on open: a later run does not find them either.
    expect((await opened(await backend.reopen(storage))).outbox).toHaveLength(28);
  });

  it("merges a document into what is stored by the merge rules, never overwriting newer cells", async () => {
    const storage = backend.create();
    await opened(storage);
    // Another tab stored a newer title and a done flag this run never saw.
    await storage.commit(
      commit({
        documents: [
          {
            collection: "todos",
            id: "t1",
            triples: [triple("t1", "title", "new", 20, "tab2"), triple("t1", "done", true, 20, "tab2")],
          },
        ],
      }),
    );
    await storage.commit(
      commit({
        documents: [
          { collection: "todos", id: "t1", triples: [triple("t1", "title", "old", 10), triple("t1", "note", "x", 30)] },
        ],
      }),
    );
    expect(cells(await storedDocuments(await backend.reopen(storage)), "t1")).toEqual({
      title: "new",
      done: true,
      note: "x",
    });
  });

  it("keeps a deleted document deleted whatever is merged into it later", async () => {
    const storage = backend.create();
    await opened(storage);
    const tombstone: Triple = { collection: "todos", id: "t1", field: "$deleted", value: true, hlc: hlc(15) };
    await storage.commit(commit({ documents: [{ collection: "todos", id: "t1", triples: [tombstone] }] }));
    await storage.commit(
      commit({ documents: [{ collection: "todos", id: "t1", triples: [triple("t1", "title", "late", 99)] }] }),
    );
    expect(await storedDocuments(await backend.reopen(storage))).toEqual([
      { collection: "todos", id: "t1", triples: [tombstone] },
    ]);
  });

  it("keeps set elements as separate cells", async () => {
    const storage = backend.create();
    await opened(storage);
    const tag = (element: string, present: boolean, ticks: number): Triple => ({
      ...triple("t1", "tags", present, ticks),
      element,
    });
    await storage.commit(
      commit({ documents: [{ collection: "todos", id: "t1", triples: [tag("a", true, 5), tag("b", true, 5)] }] }),
    );
    await storage.commit(
      commit({ documents: [{ collection: "todos", id: "t1", triples: [tag("a", false, 6), tag("c", true, 6)] }] }),
    );
    expect(cells(await storedDocuments(await backend.reopen(storage)), "t1")).toEqual({
      "tags:a": false,
      "tags:b": true,
      "tags:c": true,
    });
  });

  it("reads the pending writes and cursors as stored now, for a tab taking over sync", async () => {
    const storage = backend.create();
    await opened(storage);
    await storage.commit(
      commit({
        added: [
          { batchId: "z1", triples: [] },
          { batchId: "a2", triples: [] },
          { batchId: "m3", triples: [] },
        ],
        cursors: new Map([["q", "c1"]]),
      }),
    );
    await storage.commit(
      commit({
        acknowledged: ["a2"],
        cursors: new Map([
          ["q", "c2"],
          ["r", "c3"],
        ]),
      }),
    );
    const state = await storage.readSyncState();
    expect(state.data).toEqual({
      outbox: [
        { batchId: "z1", triples: [] },
        { batchId: "m3", triples: [] },
      ],
      cursors: new Map([
        ["q", "c2"],
        ["r", "c3"],
      ]),
    });
  });

  it("never moves the stored clock back", async () => {
    const storage = backend.create();
    await opened(storage);
    await storage.commit(commit({ clock: hlc(500, "tab1") }));
    await storage.commit(commit({ clock: hlc(400, "tab2") }));
    expect((await opened(await backend.reopen(storage))).clock).toBe(hlc(500, "tab1"));
  });

  it("reads one collection's documents, and only those", async () => {
    const storage = backend.create();
    await opened(storage);
    const other = (collection: string, id: string): StoredDocument => ({
      collection,
      id,
      triples: [{ ...triple(id, "title", collection, 5), collection }],
    });
    await storage.commit(
      commit({
        documents: [
          other("todo", "a"),
          other("todos", "b"),
          other("todos2", "c"),
          other("todos", "d"),
          other("lists", "e"),
        ],
      }),
    );
    const reopened = await backend.reopen(storage);
    expect((await storedDocuments(reopened)).map((document) => document.id).sort()).toEqual(["b", "d"]);
    expect(await storedDocuments(reopened, "missing")).toEqual([]);
    expect((await reopened.listCollections()).data).toEqual(["lists", "todo", "todos", "todos2"]);
  });

  it("reads a collection in pages of ids in order", async () => {
    const storage = backend.create();
    await opened(storage);
    const ids = ["g", "a", "e", "c", "b", "f", "d"];
    await storage.commit(
      commit({ documents: ids.map((id) => ({ collection: "todos", id, triples: [triple(id, "title", id, 5)] })) }),
    );
    const pages: string[][] = [];
    let after: string | undefined;
    for (;;) {
      const page = (await storage.readCollection("todos", { after, limit: 3 })).data!;
      pages.push(page.documents.map((document) => document.id));
      if (page.documents.length < 3) break;
      after = page.documents.at(-1)!.id;
    }
    expect(pages).toEqual([["a", "b", "c"], ["d", "e", "f"], ["g"]]);
  });

  it("reads documents by id, leaving out the ones not stored", async () => {
    const storage = backend.create();
    await opened(storage);
    await storage.commit(
      commit({
        documents: ["a", "b", "c"].map((id) => ({ collection: "todos", id, triples: [triple(id, "title", id, 5)] })),
      }),
    );
    await storage.commit(
      commit({ documents: [{ collection: "lists", id: "b", triples: [triple("b", "title", "list", 5)] }] }),
    );
    const read = (await storage.readDocuments("todos", ["c", "missing", "a"])).data!;
    expect(read.map((document) => [document.collection, document.id, document.triples[0]!.value])).toEqual([
      ["todos", "c", "c"],
      ["todos", "a", "a"],
    ]);
    expect((await storage.readDocuments("lists", ["a"])).data).toEqual([]);
  });

  it("finds documents by a field's value through the field index, as stored now", async () => {
    const storage = backend.create();
    await opened(storage);
    const doc = (id: string, ...triples: Triple[]) => ({ collection: "todos", id, triples });
    const member = (id: string, element: string, present: boolean, ticks: number): Triple => ({
      ...triple(id, "tagIds", present, ticks),
      element,
    });
    await storage.commit(
      commit({
        documents: [
          doc(
            "t1",
            triple("t1", "tag", "a", 5),
            triple("t1", "n", 1, 5),
            member("t1", "x", true, 5),
            member("t1", "y", false, 5),
          ),
          doc("t2", triple("t2", "tag", "b", 5)),
          doc("t3", triple("t3", "tag", "a", 5)),
        ],
      }),
    );
    await storage.commit(commit({ documents: [doc("t3", triple("t3", "$deleted", true, 6))] }));
    const reread = await backend.reopen(storage);
    await opened(reread);
    const ids = async (field: string, values: unknown[]) =>
      ((await reread.readMatching("todos", field, values)).data ?? []).map((found) => found.id).sort();
    expect(await ids("tag", ["a"])).toEqual(["t1"]);
    expect(await ids("tag", ["a", "b", "z"])).toEqual(["t1", "t2"]);
    expect(await ids("n", [1])).toEqual(["t1"]);
    expect(await ids("n", ["1"])).toEqual([]);
    expect(await ids("tagIds", ["x", "y"])).toEqual(["t1"]);
    expect((await reread.readMatching("lists", "tag", ["a"])).data).toEqual([]);
    // Documents come back as stored, nothing added.
    expect((await reread.readMatching("todos", "tag", ["b"])).data).toEqual([doc("t2", triple("t2", "tag", "b", 5))]);
    // A change moves the document in the index.
    await reread.commit(commit({ deltas: [doc("t1", triple("t1", "tag", "c", 7))] }));
    expect(await ids("tag", ["a"])).toEqual([]);
    expect(await ids("tag", ["c"])).toEqual(["t1"]);
  });

  it("reads documents in a field's order through the order index until the limit and the last one's ties", async () => {
    const storage = backend.create();
    await opened(storage);
    const doc = (id: string, ...triples: Triple[]) => ({ collection: "todos", id, triples });
    const long = "x".repeat(300);
    await storage.commit(
      commit({
        documents: [
          doc("t1", triple("t1", "n", 5, 5), triple("t1", "title", "b", 5), triple("t1", "createdAt", 1_000, 5)),
          doc("t2", triple("t2", "n", 9, 5), triple("t2", "title", `${long}b`, 5), triple("t2", "createdAt", 1_001, 5)),
          doc("t3", triple("t3", "n", 7, 5), triple("t3", "title", `${long}a`, 5), triple("t3", "createdAt", 1_002, 5)),
          // No n; a string where createdAt should be a number.
          doc("t4", triple("t4", "title", "a", 5), triple("t4", "createdAt", "soon", 5)),
          doc("t5", triple("t5", "n", 9, 5), triple("t5", "done", true, 5), triple("t5", "createdAt", 1_003, 5)),
          doc("t6", triple("t6", "n", "3", 5), triple("t6", "createdAt", 1_004, 5)),
          doc("t7", triple("t7", "n", 10, 5), triple("t7", "createdAt", 1_005, 5)),
        ],
      }),
    );
    await storage.commit(commit({ documents: [doc("t7", triple("t7", "$deleted", true, 6))] }));
    const reread = await backend.reopen(storage);
    await opened(reread);
    const ids = async (read: Partial<OrderedRead>) => {
      const found = await reread.readOrdered("todos", {
        field: "n",
        direction: "desc",
        type: "number",
        missing: "last",
        limit: 2,
        maxExamined: 100,
        matches: () => true,
        ...read,
      });
      expect(found.error).toBeUndefined();
      return found.data?.map((document) => document.id).sort();
    };
    // Deleted t7 is not in the index; t2 and t5 tie on 9.
    expect(await ids({})).toEqual(["t2", "t5"]);
    expect(await ids({ limit: 1 })).toEqual(["t2", "t5"]);
    expect(await ids({ limit: 3 })).toEqual(["t2", "t3", "t5"]);
    expect(await ids({ limit: 4 })).toEqual(["t1", "t2", "t3", "t5"]);
    // Ran out before the limit: t4 (no n) and t6 (a string) could match, unless none miss it.
    expect(await ids({ limit: 5 })).toBeUndefined();
    expect(await ids({ limit: 5, missing: "none" })).toEqual(["t1", "t2", "t3", "t5"]);
    // Missing values read as 8: ascending, the answer must stay below it.
    expect(await ids({ direction: "asc", missing: { at: 8 } })).toEqual(["t1", "t3"]);
    expect(await ids({ direction: "asc", missing: { at: 8 }, limit: 3 })).toBeUndefined();
    expect(await ids({ direction: "asc", missing: { at: 7 } })).toBeUndefined();
    // Filtered: only what matches counts towards the limit, and a bound on documents examined.
    const isDone = (document: StoredDocument) => document.triples.some((stored) => stored.field === "done");
    expect(await ids({ matches: (document) => !isDone(document) })).toEqual(["t2", "t3"]);
    expect(await ids({ matches: isDone, limit: 1 })).toEqual(["t5"]);
    expect(await ids({ matches: (document) => document.id === "t1", maxExamined: 3 })).toBeUndefined();
    // Strings in code unit order, cut to 256 characters: t2 and t3 tie there and are both read.
    expect(await ids({ field: "title", type: "string", direction: "asc", limit: 1 })).toEqual(["t4"]);
    expect(await ids({ field: "title", type: "string", direction: "desc", limit: 1 })).toEqual(["t2", "t3"]);
    // Every live document is in the index by createdAt: t4's reads as missing, first ascending.
    expect(await ids({ field: "createdAt", direction: "asc", limit: 1, missing: "none" })).toEqual(["t4"]);
    expect(await ids({ field: "createdAt", direction: "desc", limit: 2, missing: "none" })).toEqual(["t5", "t6"]);
    expect(await ids({ field: "createdAt", limit: 10, missing: "none" })).toHaveLength(6);
    // Documents come back as stored; a change moves a document in the index.
    expect((await reread.readOrdered("lists", { ...ORDER_ALL, field: "n" })).data).toEqual([]);
    await reread.commit(commit({ deltas: [doc("t1", triple("t1", "n", 99, 7))] }));
    expect(await ids({ limit: 1 })).toEqual(["t1"]);
  });

  it("stores deltas of a document not stored only with its createdAt or tombstone", async () => {
    const storage = backend.create();
    await opened(storage);
    const created = triple("t2", "createdAt", 1, 7);
    await storage.commit(
      commit({ documents: [{ collection: "todos", id: "t1", triples: [triple("t1", "title", "milk", 10)] }] }),
    );
    await storage.commit(
      commit({
        deltas: [
          // A change of a stored document merges; a stray change of an unknown one is dropped.
          { collection: "todos", id: "t1", triples: [triple("t1", "done", true, 11)] },
          { collection: "todos", id: "stray", triples: [triple("stray", "done", true, 11)] },
          { collection: "todos", id: "t2", triples: [created, triple("t2", "title", "new", 7)] },
          { collection: "todos", id: "t3", triples: [{ ...triple("t3", "$deleted", true, 8) }] },
        ],
      }),
    );
    const documents = await storedDocuments(await backend.reopen(storage));
    expect(documents.map((document) => document.id).sort()).toEqual(["t1", "t2", "t3"]);
    expect(cells(documents, "t1")).toEqual({ title: "milk", done: true });
    expect(cells(documents, "t2")).toEqual({ createdAt: 1, title: "new" });
  });

  it("forgets documents as if never stored, before storing what the same commit brings", async () => {
    const storage = backend.create();
    await opened(storage);
    const doc = (id: string, ...triples: Triple[]) => ({ collection: "todos", id, triples });
    await storage.commit(
      commit({
        documents: [
          doc("t1", triple("t1", "tag", "a", 5)),
          doc("t2", triple("t2", "tag", "a", 5)),
          doc("t3", triple("t3", "tag", "a", 5)),
        ],
      }),
    );
    const before = (await storage.readCollection("todos")).data!.version;
    const outcome = await storage.commit(
      commit({
        forgotten: [
          { collection: "todos", id: "t1" },
          { collection: "todos", id: "t2" },
          { collection: "todos", id: "never-stored" },
        ],
        // Shared again in the same commit: stored afresh, without the forgotten cells.
        documents: [doc("t2", triple("t2", "title", "back", 9))],
      }),
    );
    expect(outcome.data?.versions).toEqual(new Map([["todos", before + 1]]));
    const reread = await backend.reopen(storage);
    await opened(reread);
    const documents = await storedDocuments(reread);
    expect(documents.map((document) => document.id).sort()).toEqual(["t2", "t3"]);
    expect(cells(documents, "t2")).toEqual({ title: "back" });
    expect(((await reread.readMatching("todos", "tag", ["a"])).data ?? []).map((found) => found.id)).toEqual(["t3"]);
    expect((await reread.readDocuments("todos", ["t1"])).data).toEqual([]);
  });

  it("prunes the documents of some collections, except those pending writes touch, and the cursors asked for, in one go", async () => {
    const storage = backend.create();
    await opened(storage);
    const note = (id: string): StoredDocument => ({
      collection: "notes",
      id,
      triples: [{ ...triple(id, "title", id, 5), collection: "notes" }],
    });
    const pendingWrite = [triple("t2", "title", "mine", 6)];
    await storage.commit(
      commit({
        documents: [
          { collection: "todos", id: "t1", triples: [triple("t1", "title", "a", 5)] },
          { collection: "todos", id: "t2", triples: pendingWrite },
          note("n1"),
        ],
        added: [{ batchId: "b1", triples: pendingWrite }],
        cursors: new Map([
          ["todos-query", "c1"],
          ["notes-query", "c2"],
        ]),
      }),
    );
    const deleted = await storage.prune(["todos"], (key) => key.startsWith("todos"));
    expect(deleted).toEqual({ data: 1, error: undefined });
    const reopened = await backend.reopen(storage);
    expect((await storedDocuments(reopened)).map((document) => document.id)).toEqual(["t2"]);
    expect((await storedDocuments(reopened, "notes")).map((document) => document.id)).toEqual(["n1"]);
    expect((await opened(reopened)).cursors).toEqual(new Map([["notes-query", "c2"]]));
  });

  it("moves a collection's version with every commit that changes it, and with prune", async () => {
    const storage = backend.create();
    await opened(storage);
    const version = async () => (await storage.readCollection("todos")).data!.version;
    expect(await version()).toBe(0);
    await storage.commit(
      commit({ documents: [{ collection: "todos", id: "t1", triples: [triple("t1", "title", "a", 5)] }] }),
    );
    expect(await version()).toBe(1);
    await storage.commit(commit({ cursors: new Map([["q", "c1"]]) }));
    expect(await version()).toBe(1);
    const outcome = await storage.commit(
      commit({ deltas: [{ collection: "todos", id: "t1", triples: [triple("t1", "title", "b", 6)] }] }),
    );
    expect(outcome.data?.versions).toEqual(new Map([["todos", 2]]));
    await storage.prune(["todos"], () => false);
    expect((await (await backend.reopen(storage)).readCollection("todos")).data!.version).toBe(3);
  });

  it("stores a result only at the versions it names, and gives it back only while they hold", async () => {
    const first = backend.create();
    await opened(first);
    const t1 = { collection: "todos", id: "t1", triples: [triple("t1", "title", "a", 5)] };
    const result = (versions: Record<string, number>) => ({
      key: "q",
      documents: [["todos", "t1"] as const],
      versions,
    });
    await first.commit(commit({ documents: [t1], results: [result({ todos: 1 })] }));
    expect((await first.readResult("q")).data).toEqual([t1]);
    const storage = await backend.reopen(first);
    expect((await storage.readResult("q")).data).toEqual([t1]);
    // Another commit changes todos: the stored result is no longer known to be current.
    await storage.commit(
      commit({ documents: [{ collection: "todos", id: "t2", triples: [triple("t2", "title", "b", 6)] }] }),
    );
    expect((await storage.readResult("q")).data).toBeUndefined();
    // A result naming a version todos is not at is not stored.
    await storage.commit(commit({ results: [result({ todos: 7 })] }));
    expect((await storage.readResult("q")).data).toBeUndefined();
    await storage.commit(commit({ results: [result({ todos: 2 })] }));
    expect((await storage.readResult("q")).data).toEqual([t1]);
    expect((await storage.readResult("never-stored")).data).toBeUndefined();
  });

  it("records the first client's id and the schema; opening with another schema drops the stored results", async () => {
    const first = backend.create();
    expect((await first.open({ clientId: "tab-1", schema: "v1" })).data?.clientId).toBe("tab-1");
    const t1 = { collection: "todos", id: "t1", triples: [triple("t1", "title", "a", 5)] };
    await first.commit(
      commit({ documents: [t1], results: [{ key: "q", documents: [["todos", "t1"]], versions: { todos: 1 } }] }),
    );
    const second = await backend.reopen(first);
    // A later client keeps the storage's id; the same schema keeps the results.
    expect((await second.open({ clientId: "tab-2", schema: "v1" })).data?.clientId).toBe("tab-1");
    expect((await second.readResult("q")).data).toEqual([t1]);
    const third = await backend.reopen(second);
    expect((await third.open({ clientId: "tab-3", schema: "v2" })).data?.clientId).toBe("tab-1");
    expect((await third.readResult("q")).data).toBeUndefined();
    expect(await storedDocuments(third)).toEqual([t1]);
  });

  it("hands out copies: changing what it read does not change what is stored", async () => {
    const storage = backend.create();
    await opened(storage);
    await storage.commit(
      commit({ documents: [{ collection: "todos", id: "t1", triples: [triple("t1", "title", "milk", 10)] }] }),
    );
    const first = await storedDocuments(await backend.reopen(storage));
    (first[0]!.triples as Triple[]).length = 0;
    expect(cells(await storedDocuments(await backend.reopen(storage)), "t1")).toEqual({ title: "milk" });
  });
});

describe("indexeddb storage layouts", () => {
  it("gives documents stored by layout 1 their field index keys in the background after opening them", async () => {
    const name = `layout1-${++databases}`;
    const old = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(name, 1);
      request.onupgradeneeded = () => {
        const db = request.result;
        db.createObjectStore("documents", { keyPath: ["collection", "id"] });
        db.createObjectStore("outbox", { keyPath: "batchId" }).createIndex("bySynced", ["synced", "seq"]);
        db.createObjectStore("meta");
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    // More than one page of the background indexing (500 documents).
    const stored = Array.from({ length: 1_200 }, (_, n) => ({
      collection: "todos",
      id: `t${String(n).padStart(4, "0")}`,
      triples: [triple(`t${n}`, "tag", n % 3 === 1 ? "b" : "a", 5)],
    }));
    await new Promise<void>((resolve, reject) => {
      const tx = old.transaction("documents", "readwrite");
      for (const document of stored) tx.objectStore("documents").put(document);
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
    old.close();
    const storage = createIndexedDbStorage({ name });
    await opened(storage);
    // Undefined (read whole instead) until every document has its keys.
    let matching: StoredDocument[] | undefined;
    for (let tries = 0; matching === undefined && tries < 200; tries++) {
      matching = (await storage.readMatching("todos", "tag", ["b"])).data;
      if (matching === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(matching?.map((found) => found.id).sort()).toEqual(
      stored.filter((_, n) => n % 3 === 1).map((document) => document.id),
    );
    expect((await storage.readCollection("todos")).data!.documents).toEqual(stored);
    await storage.close();
  });
});

describe("indexeddb storage layout 2", () => {
  it("gives stored documents their order index keys in the background, reading by value meanwhile", async () => {
    const name = `layout2-${++databases}`;
    const old = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(name, 2);
      request.onupgradeneeded = () => {
        const db = request.result;
        db.createObjectStore("documents", { keyPath: ["collection", "id"] }).createIndex("byTerm", "terms", {
          multiEntry: true,
        });
        db.createObjectStore("outbox", { keyPath: "batchId" }).createIndex("bySynced", ["synced", "seq"]);
        db.createObjectStore("meta").put("ready", "terms");
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const stored = Array.from({ length: 1_200 }, (_, n) => {
      const id = `t${String(n).padStart(4, "0")}`;
      return { collection: "todos", id, triples: [triple(id, "n", n % 7, 5)] };
    });
    await new Promise<void>((resolve, reject) => {
      const tx = old.transaction("documents", "readwrite");
      for (const document of stored)
        tx.objectStore("documents").put({
          ...document,
          terms: [["todos", "n", JSON.stringify(document.triples[0]!.value)]],
        });
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
    old.close();
    const storage = createIndexedDbStorage({ name });
    await opened(storage);
    expect((await storage.readMatching("todos", "n", [6])).data).toHaveLength(
      stored.filter((_, n) => n % 7 === 6).length,
    );
    const read: OrderedRead = { ...ORDER_ALL, field: "n", direction: "desc", missing: "last", limit: 1 };
    let found: StoredDocument[] | undefined;
    for (let tries = 0; found === undefined && tries < 200; tries++) {
      found = (await storage.readOrdered("todos", read)).data;
      if (found === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(found?.map((document) => document.id)).toEqual(
      stored
        .filter((_, n) => n % 7 === 6)
        .map((document) => document.id)
        .reverse(),
    );
    await storage.close();
  });
});

describe("indexeddb storage and other tabs", () => {
  it("steps aside for a tab that opens a newer layout, and reports STORAGE from then on", async () => {
    const name = `upgrade-${++databases}`;
    const storage = createIndexedDbStorage({ name });
    await opened(storage);
    // A newer version of the app in another tab upgrades the database: it must not be blocked.
    let wasBlocked = false;
    const upgraded = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(name, 4);
      request.onblocked = () => (wasBlocked = true);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    upgraded.close();
    expect(wasBlocked).toBe(false);
    const result = await storage.commit(commit({}));
    expect(result.error?.code).toBe("STORAGE");
    expect(result.error?.message).toMatch(/reload the page/);
  });
});

describe("indexeddb storage shared by tabs", () => {
  it("stores no cursors from a leader tab once a later one took sync over", async () => {
    const name = `suite-${++databases}`;
    const oldLeader = createIndexedDbStorage({ name });
    const newLeader = createIndexedDbStorage({ name });
    await opened(oldLeader);
    await opened(newLeader);
    await oldLeader.readSyncState({ lead: true });
    await oldLeader.commit(commit({ cursors: new Map([["q", "c1"]]) }));
    // The old leader froze; another tab took over from the stored cursors and moved them on.
    expect((await newLeader.readSyncState({ lead: true })).data?.cursors).toEqual(new Map([["q", "c1"]]));
    await newLeader.commit(commit({ cursors: new Map([["q", "c3"]]) }));
    // The old leader runs again and commits what it received meanwhile: its documents count, its cursors do not.
    await oldLeader.commit(
      commit({
        documents: [{ collection: "todos", id: "t1", triples: [triple("t1", "title", "late", 7)] }],
        cursors: new Map([
          ["q", "c2"],
          ["r", "c2"],
        ]),
      }),
    );
    expect((await newLeader.readSyncState()).data?.cursors).toEqual(new Map([["q", "c3"]]));
    expect(cells(await storedDocuments(newLeader), "t1")).toEqual({ title: "late" });
    // Leading again, in a later term, its cursors count again.
    await oldLeader.readSyncState({ lead: true });
    await oldLeader.commit(commit({ cursors: new Map([["q", "c4"]]) }));
    expect((await newLeader.readSyncState()).data?.cursors).toEqual(new Map([["q", "c4"]]));
    await oldLeader.close();
    await newLeader.close();
  });
});
