import { createSchema, encodeHlc, t, type Triple } from "@trellis/core";
import { describe, expect, it } from "vitest";
import { countingStorage, useStoredClients } from "../testing/stored-clients.js";
import { createMemoryStorage } from "./memory-storage.js";

const fields = { n: t.number({ fallback: 0 }), tag: t.string({ optional: true }), aId: t.ref("a") };
const schema = createSchema({ entities: { a: fields, b: fields, c: fields, d: fields } });
const open = useStoredClients(schema);

describe("working set: collections load when first needed", () => {
  it("reads no documents when the client opens, then each collection once, when a query or write needs it", async () => {
    const { storage, reads } = countingStorage();
    const first = open(storage);
    await first.database.a.create({ n: 1 });
    await first.database.b.create({ n: 2 });
    await first.close();
    reads.length = 0;

    const second = open(storage, undefined, "second");
    await second.storage.ready;
    expect(reads).toEqual([]);
    expect((await second.database.a.query({ fields: { n: true } })).data).toEqual([{ n: 1 }]);
    expect(reads).toEqual(["a"]);
    await second.database.a.query({});
    await second.database.b.update({
      id: (await second.database.b.queryOne({}))!.data!.id as string,
      fields: { n: 3 },
    });
    expect(reads).toEqual(["a", "b"]);
    expect((await second.database.b.query({ fields: { n: true } })).data).toEqual([{ n: 3 }]);
  });

  it("reads a collection larger than one page whole", async () => {
    const storage = createMemoryStorage();
    await storage.open();
    const tick = encodeHlc({ ticks: 1, node: "seed" });
    const documents = Array.from({ length: 12_001 }, (_, index) => {
      const id = `doc${index}`;
      const cell = (field: string, value: unknown): Triple => ({ collection: "a", id, field, value, hlc: tick });
      return { collection: "a", id, triples: [cell("createdAt", 1), cell("n", index)] };
    });
    await storage.commit({ documents, added: [], acknowledged: [], cursors: new Map(), clock: tick });
    const client = open(storage);
    const counted = await client.database.a.query({ aggregations: { all: { count: "*" }, top: { max: "n" } } });
    expect(counted.data).toEqual([{ all: 12_001, top: 12_000 }]);
  });

  it("reads for a batch only the collections its operations write", async () => {
    const { storage, reads } = countingStorage();
    const first = open(storage);
    await first.database.a.create({ n: 1 });
    await first.close();
    reads.length = 0;
    const second = open(storage, undefined, "second");
    const { batch } = second.database;
    const result = await batch.execute([batch.c.create({ n: 2 }), batch.d.create({ n: 3 })]);
    expect(result.error).toBeUndefined();
    expect([...reads].sort()).toEqual(["c", "d"]);
  });

  it("loads the collections of a query's relations with it", async () => {
    const { storage, reads } = countingStorage();
    const first = open(storage);
    const parent = (await first.database.a.create({ n: 1 })).data!;
    await first.database.c.create({ n: 2, aId: parent.id });
    await first.close();
    reads.length = 0;
    const second = open(storage);
    const result = await second.database.c.query({ fields: { n: true, aId: { fields: { n: true } } } });
    expect(result.data).toEqual([{ n: 2, aId: { n: 1 } }]);
    expect([...reads].sort()).toEqual(["a", "c"]);
  });
});
