import "fake-indexeddb/auto";
import { createSchema, t } from "@trellis/core";
import { it } from "vitest";
import { createClient } from "../create-client.js";
import { waitFor } from "../testing/live-server.js";
import { createIndexedDbStorage } from "./indexeddb-storage.js";
const todo = { title: t.string({ fallback: "" }), done: t.boolean({ fallback: false }) };
const schema = createSchema({ entities: { c0: todo, c1: todo } });
const Q = { where: { done: false }, orderBy: ["createdAt", "desc"], limit: 3 } as const;
it("dbg", async () => {
  const seed = createClient({ schema, appId: "dbg", storage: "indexeddb" });
  for (let i = 0; i < 10; i++) await seed.database.c0.create({ title: `t${i}`, done: i % 2 === 1 });
  await seed.close();
  for (const round of [1, 2, 3]) {
    const c = createClient({ schema, appId: "dbg", storage: "indexeddb" });
    let got: unknown;
    c.database.c0.subscribe(Q, (rows, _e, loading) => { if (!loading && got === undefined) got = rows; });
    await waitFor(() => got !== undefined, "result");
    await new Promise((r) => setTimeout(r, 100));
    const raw = createIndexedDbStorage({ name: "trellis-dbg" });
    await raw.open();
    const keys = [...(await raw.readSyncState()).data!.cursors.keys()];
    console.log("ROUND", round, (got as unknown[]).length, keys.length);
    await raw.close();
    await c.close();
  }
});
