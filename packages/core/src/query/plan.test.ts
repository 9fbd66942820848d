import { describe, expect, it } from "vitest";
import { createSchema } from "../schema/create-schema.js";
import { t } from "../schema/t.js";
import { TripleStore } from "../store/triple-store.js";
import { normalizeQuery } from "./normalize.js";
import { candidateRows } from "./plan.js";
import { runQuery } from "./run-query.js";

const schema = createSchema({ entities: { users: { name: t.string({ fallback: "" }) } } });

function storeWith(ids: readonly string[]): TripleStore {
  const store = new TripleStore();
  ids.forEach((id, at) => store.setField("users", id, "name", `user ${at}`, { ticks: 1, node: "n" }));
  return store;
}

describe("candidateRows", () => {
  it("returns each document once when `in` lists an id twice", () => {
    // Regression: the id lookup kept duplicates, so the document appeared twice in results.
    const store = storeWith(["a", "b", "c"]);
    const query = normalizeQuery(schema.collections.users!, {
      where: { id: { in: ["b", "a", "b", "zzz", "a"] } },
    }).data!;
    const table = store.table("users")!;
    expect([...candidateRows(table, query)].sort()).toEqual([0, 1]);
    expect(runQuery(store, query).map((row) => table.idOf(row))).toEqual(["a", "b"]);
  });

  it("looks up ids of live documents only", () => {
    const store = storeWith(["a", "b"]);
    store.delete("users", "a", { ticks: 2, node: "n" });
    const query = normalizeQuery(schema.collections.users!, { where: { id: { in: ["a", "b"] } } }).data!;
    const table = store.table("users")!;
    expect(runQuery(store, query).map((row) => table.idOf(row))).toEqual(["b"]);
  });
});
