import { createSchema, t } from "@trellis/core";
import { describe, expect, it } from "vitest";
import { createClient } from "../create-client.js";
import { COLLECTIONS, countingStorage, nextTask, useStoredClients } from "../testing/stored-clients.js";
import { waitFor } from "../testing/live-server.js";
import { createMemoryStorage } from "./memory-storage.js";

const fields = { n: t.number({ fallback: 0 }), tag: t.string({ optional: true }), aId: t.ref("a") };
const schema = createSchema({ entities: { a: fields, b: fields, c: fields, d: fields } });
const open = useStoredClients(schema);

describe("working set: cacheSize", () => {
  it("drops the least recently used collections beyond the bound, keeps followed ones, and reads dropped ones again", async () => {
    const { storage, reads } = countingStorage();
    const client = open(storage, 5);
    for (const collection of COLLECTIONS) for (let n = 0; n < 4; n++) await client.database[collection].create({ n });
    await nextTask();
    // 16 documents written, at most 5 plus the last collection written may stay.
    reads.length = 0;
    const seen: number[][] = [];
    const subscription = client.database.b.subscribe(
      { fields: { n: true }, orderBy: ["n", "asc"] },
      (docs) => docs && seen.push(docs.map((doc) => doc.n)),
    );
    await waitFor(() => seen.length > 0, "the first result of b");
    expect(reads).toEqual(["b"]);
    for (const collection of ["a", "c", "d"] as const)
      expect((await client.database[collection].query({})).data).toHaveLength(4);
    await nextTask();
    // b is followed: never read again; a, c and d take turns in memory.
    expect(reads.filter((collection) => collection === "b")).toEqual(["b"]);
    expect((await client.database.a.query({})).data).toHaveLength(4);
    expect(reads.filter((collection) => collection === "a").length).toBeGreaterThanOrEqual(2);
    await client.database.b.create({ n: 9 });
    expect(seen.at(-1)).toEqual([0, 1, 2, 3, 9]);
    subscription.unsubscribe();
  });

  it("refuses a cacheSize that is not a whole number", () => {
    expect(() => createClient({ schema, storage: createMemoryStorage(), cacheSize: -1 })).toThrow(/cacheSize/);
  });
});
