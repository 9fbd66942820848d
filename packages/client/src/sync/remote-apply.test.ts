import { createClock, encodeHlc, type Triple, TripleStore } from "@trellis/core";
import { describe, expect, it } from "vitest";
import { applyRemoteTriples } from "./remote-apply.js";

const NOW = 1_700_000_000_000;
const stamp = (ms: number, node = "other") => encodeHlc({ ticks: ms * 1024, node });
const triple = (id: string, field: string, value: unknown, ms = NOW - 1_000): Triple => ({
  collection: "users",
  id,
  field,
  value,
  hlc: stamp(ms),
});
const fullDoc = (id: string, name: string): Triple[] => [
  triple(id, "name", name),
  triple(id, "createdAt", NOW - 5_000),
];

function setup() {
  const store = new TripleStore();
  const clock = createClock({ node: "me", wallClock: () => NOW });
  const name = (id: string) => store.table("users")?.get(store.table("users")!.rowOf(id) ?? -1, "name");
  const holds = (id: string) => store.table("users")?.rowOf(id) !== undefined;
  return { store, clock, name, holds };
}

describe("applyRemoteTriples", () => {
  it("ignores triples of a document the client does not hold, unless the batch carries its createdAt", () => {
    const { store, clock, name, holds } = setup();
    applyRemoteTriples(store, clock, [triple("u1", "name", "stray")]);
    expect(holds("u1")).toBe(false);
    // The createdAt may come after the other triples of the document.
    applyRemoteTriples(store, clock, [...fullDoc("u1", "Ada").reverse(), triple("u2", "name", "stray")]);
    expect(name("u1")).toBe("Ada");
    expect(holds("u2")).toBe(false);
    applyRemoteTriples(store, clock, [triple("u1", "name", "Ada L.", NOW - 500)]);
    expect(name("u1")).toBe("Ada L.");
  });

  it("always applies tombstones, so a document deleted before it arrives stays deleted", () => {
    const { store, clock, holds } = setup();
    applyRemoteTriples(store, clock, [
      { collection: "users", id: "u1", field: "$deleted", value: true, hlc: stamp(NOW - 100) },
    ]);
    applyRemoteTriples(store, clock, fullDoc("u1", "Ada"));
    expect(holds("u1")).toBe(false);
    expect(store.table("users")!.isDeleted(store.table("users")!.anyRowOf("u1")!)).toBe(true);
  });

  it("applies a whole batch in one transaction and merges by HLC", () => {
    const { store, clock, name } = setup();
    let commits = 0;
    store.onCommit(() => commits++);
    store.watch("users");
    applyRemoteTriples(store, clock, [
      ...fullDoc("u1", "Ada"),
      ...fullDoc("u2", "Bob"),
      triple("u1", "name", "old", NOW - 9_000),
    ]);
    expect(commits).toBe(1);
    expect(name("u1")).toBe("Ada");
    expect(name("u2")).toBe("Bob");
  });

  it("folds every applied clock reading into the local clock", () => {
    const { store, clock } = setup();
    const ahead = NOW + 30_000;
    expect(
      applyRemoteTriples(store, clock, [triple("u1", "name", "Ada", ahead), triple("u1", "createdAt", ahead, ahead)]),
    ).toBeUndefined();
    expect(clock.now().ticks).toBeGreaterThan(ahead * 1024);
  });

  it("reports a reading too far ahead without moving the clock, and still applies it", () => {
    const { store, clock, name } = setup();
    const farAhead = NOW + 3_600_000;
    const error = applyRemoteTriples(store, clock, [
      triple("u1", "name", "Ada", farAhead),
      triple("u1", "createdAt", NOW, NOW),
    ]);
    expect(error?.code).toBe("CLOCK_DRIFT");
    expect(name("u1")).toBe("Ada");
    expect(clock.now().ticks).toBeLessThan(farAhead * 1024);
  });

  it("applies set elements of held documents", () => {
    const { store, clock } = setup();
    applyRemoteTriples(store, clock, [
      ...fullDoc("u1", "Ada"),
      { collection: "users", id: "u1", field: "tags", element: "t1", value: true, hlc: stamp(NOW - 900) },
      { collection: "users", id: "u1", field: "tags", element: "t2", value: true, hlc: stamp(NOW - 900) },
      { collection: "users", id: "u1", field: "tags", element: "t1", value: false, hlc: stamp(NOW - 800) },
    ]);
    const table = store.table("users")!;
    expect(table.get(table.rowOf("u1")!, "tags")).toEqual(["t2"]);
  });
});
