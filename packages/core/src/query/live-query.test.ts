import { describe, expect, it } from "vitest";
import { createClock } from "../hlc.js";
import { countLinked, createLinkedWorld, linkedQuery } from "../testing/linked-world.js";
import type { ResultDoc } from "./live-query.js";
import { LiveQueryRegistry } from "./live-registry.js";
import { compileMaterializer } from "./materialize.js";
import { QueryCostError } from "./query-cost.js";
import type { NormalizedQuery } from "./normalized-query.js";
import { runQuery } from "./run-query.js";
import { sameResult } from "./same-result.js";
import type { Source } from "./source.js";

const ids = ["a", "b", "c", "d", "e", "f"];

function oneShot(source: Source, query: NormalizedQuery): ResultDoc[] {
  const table = source.table(query.collection)!;
  const materialize = compileMaterializer(query, source, { maxQueryCost: Infinity }).pass();
  return runQuery(source, query).map((row) => materialize(table, row));
}

describe("LiveQuery over relations that share documents", () => {
  it("stays equal to a fresh result as links change, and stays shared", () => {
    const { store, setLink, add } = createLinkedWorld(ids);
    const registry = new LiveQueryRegistry(store);
    const query = linkedQuery(8);
    const live = registry.acquire(query);
    const first = live.result.value;
    expect(sameResult(first, oneShot(store, query))).toBe(true);

    setLink("a", "c", false);
    expect(live.result.value).not.toBe(first);
    expect(sameResult(live.result.value, oneShot(store, query))).toBe(true);
    expect(sameResult(live.result.value, first)).toBe(false);
    // "a" lost its link at every level, under every root that reaches it.
    const b = live.result.value[1] as { links: Array<{ id: string; links: Array<{ id: string }> }> };
    expect(b.links[0]!.links.map((doc) => doc.id)).toEqual(["a", "b", "d", "e", "f"]);
    expect(countLinked(live.result.value).distinct).toEqual(Array(9).fill(6));

    add("g", ["a"]);
    setLink("b", "g", true);
    expect(sameResult(live.result.value, oneShot(store, query))).toBe(true);
    expect(countLinked(live.result.value).distinct.every((count) => count <= 7)).toBe(true);
    registry.dispose();
  });

  it("is refused by acquire when a pass would exceed the registry's limit, and registers nothing", () => {
    const { store } = createLinkedWorld(ids);
    const registry = new LiveQueryRegistry(store, { maxQueryCost: 287 });
    expect(() => registry.acquire(linkedQuery(8))).toThrow(QueryCostError);
    expect(registry.size).toBe(0);
    expect(registry.acquire(linkedQuery(7)).result.value).toHaveLength(6);
    registry.dispose();
  });

  it("reports a failure, keeping its last result, from the commit that makes it too costly; and follows again once back under the limit", () => {
    const { store, setLink, add } = createLinkedWorld(ids);
    const clock = createClock({ node: "deleter", wallClock: () => 1_800_000_000_000 });
    const registry = new LiveQueryRegistry(store, { maxQueryCost: 288 });
    const live = registry.acquire(linkedQuery(8));
    const before = live.result.value;
    expect(before).toHaveLength(6);
    // A seventh document linked both ways: every level now resolves 7 × 7 links. The commit goes
    // through: a costly view never makes a write fail.
    store.transact(() => {
      add("g", [...ids, "g"]);
      for (const id of ids) setLink(id, "g", true);
    });
    expect(live.failure.value).toBeInstanceOf(QueryCostError);
    expect(live.result.value).toBe(before);
    // Unlinking and deleting it brings the cost back: the result follows the data once more.
    store.transact(() => {
      for (const id of ids) setLink(id, "g", false);
      store.delete("nodes", "g", clock.now());
    });
    expect(live.failure.value).toBeUndefined();
    expect(sameResult(live.result.value, oneShot(store, linkedQuery(8)))).toBe(true);
    registry.dispose();
  });
});
