import { createClock, encodeHlc, type Triple, TripleStore } from "@trellis/core";
import { describe, expect, it } from "vitest";
import { waitFor } from "../testing/live-server.js";
import { createMemoryStorage } from "./memory-storage.js";
import { StorageSession } from "./storage-session.js";
import type { ClientStorage } from "./storage.js";
import { WorkingSet } from "./working-set.js";

describe("working set: what arrives for a collection not in memory", () => {
  const hlc = (ticks: number) => encodeHlc({ ticks, node: "remote" });
  const triple = (id: string, field: string, value: unknown, ticks: number): Triple => ({
    collection: "a",
    id,
    field,
    value,
    hlc: hlc(ticks),
  });

  /** A storage holding document x of collection a, tagged "stored" at tick 10. */
  async function storageWithX(): Promise<ClientStorage> {
    const storage = createMemoryStorage();
    await storage.open();
    const documents = [
      { collection: "a", id: "x", triples: [triple("x", "createdAt", 1, 1), triple("x", "tag", "stored", 10)] },
    ];
    await storage.commit({ documents, added: [], acknowledged: [], cursors: new Map(), clock: hlc(10) });
    return storage;
  }

  it("applies after the stored documents, by the merge rules, and drops stray changes of documents never held", async () => {
    const storage = await storageWithX();
    const store = new TripleStore();
    const clock = createClock({ node: "local" });
    const workingSet = new WorkingSet({ store, clock, storage, unstoredIds: () => new Set() });
    workingSet.arrivals.apply([triple("x", "tag", "older", 5), triple("x", "n", 7, 20), triple("stray", "n", 1, 20)]);
    expect(store.table("a")).toBeUndefined();
    // The clock saw them at once, so a local write after them orders after them.
    expect(clock.last().ticks).toBeGreaterThanOrEqual(20);
    expect(workingSet.arrivals.keptTriples()).toHaveLength(3);
    await workingSet.load(["a"]);
    const table = store.table("a")!;
    expect(table.ids).toEqual(["x"]);
    expect([table.get(table.rowOf("x")!, "tag"), table.get(table.rowOf("x")!, "n")]).toEqual(["stored", 7]);
    expect(workingSet.arrivals.keptTriples()).toEqual([]);
  });

  it("applies a change another tab shared as whole to a document memory let go only with the stored document", async () => {
    const storage = await storageWithX();
    const store = new TripleStore();
    const workingSet = new WorkingSet({
      store,
      clock: createClock({ node: "local" }),
      storage,
      unstoredIds: () => new Set(),
    });
    await workingSet.load(["a"]);
    const table = store.table("a")!;
    store.unload("a", [table.rowOf("x")!]);
    expect(table.isPartial).toBe(true);
    // One change of x (stored), one of a document storage does not hold (deleted and dropped).
    workingSet.arrivals.apply([triple("x", "n", 9, 30)], true);
    workingSet.arrivals.apply([triple("gone", "tag", "late", 30)], true);
    await waitFor(() => workingSet.arrivals.keptTriples().length === 0, "both documents are read back");
    expect([table.get(table.rowOf("x")!, "tag"), table.get(table.rowOf("x")!, "n")]).toEqual(["stored", 9]);
    expect(table.rowOf("gone")).toBeUndefined();
  });

  it("stores them as deltas merged into the stored documents, so a reload finds them", async () => {
    const storage = await storageWithX();
    const persistence = new StorageSession(storage, new TripleStore(), createClock({ node: "local" }));
    await persistence.open(() => {});
    const { apply, onRemoteApplied } = persistence.syncOptions();
    const remote = [
      triple("x", "n", 7, 20),
      triple("stray", "n", 1, 20),
      triple("y", "createdAt", 2, 21),
      triple("y", "n", 8, 21),
    ];
    apply(remote);
    onRemoteApplied(remote);
    expect((await persistence.durable()).error).toBeUndefined();
    const stored = (await storage.readCollection("a")).data!.documents;
    const cells = Object.fromEntries(
      stored.map((document) => [
        document.id,
        Object.fromEntries(document.triples.map((each) => [each.field, each.value])),
      ]),
    );
    expect(cells).toEqual({ x: { createdAt: 1, tag: "stored", n: 7 }, y: { createdAt: 2, n: 8 } });
  });
});
