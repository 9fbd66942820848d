import { createSchema, t } from "@trellis/core";
import { describe, expect, it } from "vitest";
import { createClient, type TrellisClient } from "../create-client.js";
import { FAST_RECONNECT, useServerProcess, waitFor } from "../testing/live-server.js";
import { createMemoryStorage } from "./memory-storage.js";
import type { ClientStorage } from "./storage.js";

// A followed collection larger than `cacheSize` keeps in memory only what its live queries hold
// (design 017). What other clients change in the documents it dropped, and writes by id to them,
// must come out exactly as if the collection had stayed whole.

const schema = createSchema({ entities: { items: { n: t.number({ fallback: 0 }), tag: t.string({ fallback: "" }) } } });
type Client = TrellisClient<typeof schema>;
type Item = { id: string; n: number; tag: string };

const live = useServerProcess();

function client(appId: string, storage: ClientStorage | undefined, cacheSize?: number, prefix = "id"): Client {
  let ids = 0;
  return live.track(
    createClient({
      schema,
      appId,
      serverUrl: live.server.url,
      ...(storage ? { storage } : {}),
      ...(cacheSize === undefined ? {} : { cacheSize }),
      userId: "ada",
      reconnect: FAST_RECONNECT,
      generateId: () => `${prefix}${String(++ids).padStart(3, "0")}`,
    }),
  );
}

/** A storage that records the documents read back by id, and the whole collection reads. */
function countingStorage() {
  const inner = createMemoryStorage();
  const fetched: string[] = [];
  const fetchCalls: string[][] = [];
  const wholeReads: string[] = [];
  const storage: ClientStorage = {
    ...inner,
    readDocuments: (collection, ids) => {
      fetched.push(...ids);
      fetchCalls.push([...ids]);
      return inner.readDocuments(collection, ids);
    },
    readCollection: (collection, page) => {
      if (page?.after === undefined) wholeReads.push(collection);
      return inner.readCollection(collection, page);
    },
  };
  return { storage, fetched, fetchCalls, wholeReads };
}

const settled = (c: Client) =>
  waitFor(() => c.connection.state === "online" && c.connection.pending === 0, "writes acknowledged");
const byId = (rows: readonly Item[]) => [...rows].sort((a, b) => (a.id < b.id ? -1 : 1));

describe("partial collections", () => {
  it("unloads what followed queries do not hold, and reads documents back by id for remote changes and writes", async () => {
    const appId = live.newApp("partial");
    const { storage, fetched, fetchCalls, wholeReads } = countingStorage();
    const bounded = client(appId, storage, 10, "b");
    for (let n = 0; n < 60; n++) await bounded.database.items.create({ n, tag: n < 8 ? "x" : "y" });
    await settled(bounded);
    let shown: Item[] = [];
    const followed = bounded.database.items.subscribe(
      { where: { tag: "x" }, orderBy: ["n", "asc"] },
      (rows, _error, loading) => {
        if (!loading && rows) shown = rows as Item[];
      },
    );
    await waitFor(() => shown.length === 8, "the followed query answers");
    // Eviction runs after a commit: one more write, then the y documents leave memory.
    await bounded.database.items.create({ n: 100, tag: "x" });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fetched).toEqual([]);
    // The same query again is live and complete already: it answers without reading storage.
    const readsBefore = wholeReads.length;
    let again: Item[] | undefined;
    const same = bounded.database.items.subscribe(
      { where: { tag: "x" }, orderBy: ["n", "asc"] },
      (rows, _error, loading) => {
        if (!loading && rows) again = rows as Item[];
      },
    );
    await waitFor(() => again !== undefined, "the same query answers");
    expect(again).toHaveLength(9);
    expect(wholeReads.length).toBe(readsBefore);
    same.unsubscribe();

    const other = client(appId, undefined, undefined, "o");
    const everything = (await other.database.items.query({ orderBy: ["n", "asc"] })).data as Item[];
    expect(everything).toHaveLength(61);
    const [entering, changed, deleted] = [everything[20]!, everything[21]!, everything[0]!];
    // Another client: a y document enters the followed query, another changes, an x one is deleted.
    await other.database.items.update({ id: entering.id, fields: { tag: "x" } });
    await other.database.items.update({ id: changed.id, fields: { n: 1_000 } });
    await other.database.items.delete(deleted.id);
    await settled(other);
    await waitFor(
      () => shown.some((item) => item.id === entering.id) && !shown.some((item) => item.id === deleted.id),
      "the followed query sees the changes",
    );
    expect(fetched).toContain(entering.id);
    // Changes to several unloaded documents in one frame are read back together.
    const several = [everything[40]!, everything[41]!, everything[42]!];
    const callsBefore = fetchCalls.length;
    const { batch } = other.database;
    expect(
      (await batch.execute(several.map((item) => batch.items.update({ id: item.id, fields: { n: item.n + 2_000 } }))))
        .error,
    ).toBeUndefined();
    await settled(other);
    await waitFor(() => several.every((item) => fetched.includes(item.id)), "the changed documents are read back");
    expect(fetchCalls.slice(callsBefore)).toEqual([several.map((item) => item.id)]);

    // A query by id reads just that document, one-shot or followed.
    const byIdReads = wholeReads.length;
    const single = everything[30]!;
    expect((await bounded.database.items.queryOne({ where: { id: single.id } })).data).toEqual(single);
    let followedOne: Item | undefined;
    const one = bounded.database.items.subscribeOne({ where: { id: everything[31]!.id } }, (row, _error, loading) => {
      if (!loading && row) followedOne = row as Item;
    });
    await waitFor(() => followedOne !== undefined, "the subscription by id answers");
    expect(followedOne).toEqual(everything[31]);
    one.unsubscribe();
    expect(fetched).toEqual(expect.arrayContaining([single.id, everything[31]!.id]));
    expect(wholeReads.length).toBe(byIdReads);

    // A query by equality reads the documents holding its values through the field index.
    const equalityReads = wholeReads.length;
    const fortyFour = everything.find((item) => item.n === 44)!;
    expect((await bounded.database.items.query({ where: { n: 44 } })).data).toEqual([fortyFour]);
    let byTag: Item[] | undefined;
    const tagged = bounded.database.items.subscribe(
      { where: { tag: "y", n: { lessThan: 15 } }, orderBy: ["n", "asc"] },
      (rows, _error, loading) => {
        if (!loading && rows) byTag = rows as Item[];
      },
    );
    await waitFor(() => byTag !== undefined, "the subscription by tag answers");
    expect(byTag).toEqual(everything.filter((item) => item.tag === "y" && item.n < 15));
    tagged.unsubscribe();
    expect(wholeReads.length).toBe(equalityReads);

    // A write by id to a document not in memory reads it first (not "not found").
    const unloaded = everything[40]!;
    const updated = await bounded.database.items.update({ id: unloaded.id, fields: { n: 2_000 } });
    expect(updated.error).toBeUndefined();
    expect(fetched).toContain(unloaded.id);
    await settled(bounded);

    const expected = byId((await other.database.items.query({})).data as Item[]);
    expect(expected.find((item) => item.id === unloaded.id)?.n).toBe(2_000);
    // A one-shot query reads the partial collection whole again: every change is in it.
    expect(byId((await bounded.database.items.query({})).data as Item[])).toEqual(expected);
    expect(shown).toEqual(expected.filter((item) => item.tag === "x").sort((a, b) => a.n - b.n));

    // A new subscription on the partial collection answers from the whole collection too.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const readsBeforeLarge = wholeReads.length;
    let large: Item[] | undefined;
    const second = bounded.database.items.subscribe({ where: { n: { greaterThan: 50 } } }, (rows, _error, loading) => {
      if (!loading && rows) large = rows as Item[];
    });
    await waitFor(() => large !== undefined, "the second subscription answers");
    expect(byId(large!)).toEqual(expected.filter((item) => item.n > 50));
    expect(wholeReads.length).toBe(readsBeforeLarge + 1);
    second.unsubscribe();
    followed.unsubscribe();
  });

  it("answers a query subscribed again after its last subscriber left from memory, while what it holds fits", async () => {
    const appId = live.newApp("partial-warm");
    const { storage, wholeReads } = countingStorage();
    const bounded = client(appId, storage, 20, "w");
    for (let n = 0; n < 60; n++) await bounded.database.items.create({ n, tag: n < 8 ? "x" : "y" });
    await settled(bounded);
    const followed = bounded.database.items.subscribe({ where: { tag: "x" } }, () => {});
    const pair = { where: { n: { in: [40, 41] } }, orderBy: ["n", "asc"] } as const;
    const open = async (): Promise<Item[]> => {
      let rows: Item[] | undefined;
      const subscription = bounded.database.items.subscribe(pair, (docs, _error, loading) => {
        if (!loading && docs) rows = docs as Item[];
      });
      await waitFor(() => rows !== undefined, "the pair query answers");
      subscription.unsubscribe();
      return rows!;
    };
    expect((await open()).map((item) => item.n)).toEqual([40, 41]);
    // Eviction after a write leaves the collection partial; the pair's view stays, unsubscribed.
    await bounded.database.items.create({ n: 100, tag: "x" });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const other = client(appId, undefined, undefined, "o");
    const target = ((await other.database.items.queryOne({ where: { n: 41 } })).data as Item).id;
    await other.database.items.update({ id: target, fields: { n: 42 } });
    await settled(other);
    const reads = wholeReads.length;
    // Another client's change reached the kept view; subscribing again reads nothing.
    await waitFor(
      async () => (await bounded.database.items.queryOne({ where: { id: target } })).data?.n === 42,
      "the change arrives",
    );
    expect((await open()).map((item) => item.n)).toEqual([40]);
    expect(wholeReads.length).toBe(reads);
    // A kept view holding more than the bound allows is let go: subscribing again reads storage.
    const large = { where: { n: { greaterThan: 19 } } } as const;
    const openLarge = async () => {
      let count: number | undefined;
      const subscription = bounded.database.items.subscribe(large, (docs, _error, loading) => {
        if (!loading && docs) count = docs.length;
      });
      await waitFor(() => count !== undefined, "the large query answers");
      subscription.unsubscribe();
      return count;
    };
    expect(await openLarge()).toBe(41);
    await bounded.database.items.create({ n: 101, tag: "x" });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const readsBeforeLarge = wholeReads.length;
    expect(await openLarge()).toBe(42);
    expect(wholeReads.length).toBe(readsBeforeLarge + 1);
    followed.unsubscribe();
  });

  it("keeps documents with changes not yet stored until storage has them", async () => {
    const appId = live.newApp("partial-unstored");
    const inner = createMemoryStorage();
    let release!: () => void;
    let isHolding = false;
    const held = new Promise<void>((resolve) => (release = resolve));
    // Commits wait while `isHolding`: the written documents are only in memory meanwhile.
    const storage: ClientStorage = {
      ...inner,
      commit: async (commit) => {
        if (isHolding) await held;
        return inner.commit(commit);
      },
    };
    const bounded = client(appId, storage, 0, "u");
    const ids: string[] = [];
    for (let n = 0; n < 5; n++) ids.push((await bounded.database.items.create({ n, tag: "y" })).data!.id as string);
    const followed = bounded.database.items.subscribe({ where: { tag: "x" } }, () => {});
    await new Promise((resolve) => setTimeout(resolve, 20));
    isHolding = true;
    // The first write's commit waits; the others queue behind it, marked but not stored, while
    // eviction runs (after each document read back).
    const writes = [bounded.database.items.update({ id: ids[0]!, fields: { n: 10 } })];
    await new Promise((resolve) => setTimeout(resolve, 20));
    writes.push(...ids.slice(1).map((id, n) => bounded.database.items.update({ id, fields: { n: n + 11 } })));
    await new Promise((resolve) => setTimeout(resolve, 20));
    release();
    for (const write of writes) expect((await write).error).toBeUndefined();
    const stored = (await inner.readCollection("items")).data!.documents;
    const ns = stored.map((document) => document.triples.find((triple) => triple.field === "n")?.value).sort();
    expect(ns).toEqual([10, 11, 12, 13, 14]);
    followed.unsubscribe();
  });
});
