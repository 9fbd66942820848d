import { createClock, createSchema, LiveQueryRegistry, type Triple, TripleStore, LocalWriter } from "@trellis/core";
import { describe, expect, it } from "vitest";
import { LOCAL_SYNC } from "../sync/query-sync.js";
import { applyRemoteTriples } from "../sync/remote-apply.js";
import { createRandom, seedOf } from "../testing/fuzz-kit.js";
import { MapsService } from "./key-value-map.js";
import type { KeyValueMap } from "./map-types.js";

// Replicas exchanging the triples their map writes produce, applied the way the sync engine
// applies the server's (`applyRemoteTriples`): LWW by HLC decides between set and remove.

interface Replica {
  readonly map: KeyValueMap;
  /** Every batch of triples this replica wrote, in order. */
  readonly written: Triple[][];
  /** Sets the replica's wall clock (ms). */
  at(ms: number): Replica;
  receive(triples: readonly Triple[]): void;
}

function replica(node: string): Replica {
  let wall = 1_000;
  const store = new TripleStore();
  const clock = createClock({ node, wallClock: () => wall });
  const written: Triple[][] = [];
  const writer = new LocalWriter(
    createSchema({ entities: {} }),
    store,
    clock,
    undefined,
    () => "unused",
    (triples) => written.push([...triples]),
  );
  const maps = new MapsService({ store, registry: new LiveQueryRegistry(store), writer, sync: LOCAL_SYNC });
  const self: Replica = {
    map: maps.open("shared"),
    written,
    at(ms) {
      wall = ms;
      return self;
    },
    receive(triples) {
      expect(applyRemoteTriples(store, clock, triples)).toBeUndefined();
    },
  };
  return self;
}

/** Sends everything `from` wrote to `to`. */
const sendAll = (from: Replica, to: Replica) => to.receive(from.written.flat());

describe("map replication by HLC", () => {
  it("replicates a set, and a remove of it, to a replica that never held the key", async () => {
    const [a, b] = [replica("a"), replica("b")];
    await a.map.set("k", { n: 1 });
    sendAll(a, b);
    expect(b.map.get("k")).toEqual({ n: 1 });
    a.written.length = 0;
    await a.map.remove("k");
    sendAll(a, b);
    expect(b.map.entries()).toEqual([]);
  });

  it("lets the later of two concurrent sets win on both replicas, in either delivery order", async () => {
    const [a, b] = [replica("a"), replica("b")];
    await a.at(1_000).map.set("k", "from a");
    await b.at(2_000).map.set("k", "from b");
    sendAll(a, b);
    sendAll(b, a);
    expect(a.map.get("k")).toBe("from b");
    expect(b.map.get("k")).toBe("from b");
  });

  it("lets a later remove beat a concurrent set", async () => {
    const [a, b] = [replica("a"), replica("b")];
    await a.at(1_000).map.set("k", "kept?");
    await b.at(2_000).map.remove("k");
    sendAll(b, a);
    sendAll(a, b);
    expect(a.map.entries()).toEqual([]);
    expect(b.map.entries()).toEqual([]);
  });

  it("lets a later set beat a concurrent remove (no tombstone: remove does not win forever)", async () => {
    const [a, b] = [replica("a"), replica("b")];
    await a.at(1_000).map.set("k", "old");
    sendAll(a, b);
    await b.at(1_500).map.remove("k");
    await a.at(2_000).map.set("k", "new");
    sendAll(b, a);
    sendAll(a, b);
    expect(a.map.entries()).toEqual([["k", "new"]]);
    expect(b.map.entries()).toEqual([["k", "new"]]);
  });

  it("lets a set after seeing a remove win even when its wall clock is behind", async () => {
    const [a, b] = [replica("a"), replica("b")];
    await a.at(5_000).map.set("k", 1);
    await a.map.remove("k");
    sendAll(a, b);
    // b's wall clock is behind a's, but receiving a's writes advanced its HLC past them.
    await b.at(1_000).map.set("k", 2);
    b.written.splice(0, b.written.length - 1);
    sendAll(b, a);
    expect(a.map.get("k")).toBe(2);
    expect(b.map.get("k")).toBe(2);
  });

  it("converges three replicas whatever the order of delivery (seeded; SEED=<n> to explore)", async () => {
    const seed = seedOf(process.env.SEED, 20_251_129);
    const random = createRandom(seed);
    const replicas = [replica("a"), replica("b"), replica("c")];
    for (let step = 0; step < 60; step++) {
      const target = random.pick(replicas).at(1_000 + random.int(50));
      const key = random.pick(["x", "y", "z"]);
      if (random.chance(0.35)) await target.map.remove(key);
      else await target.map.set(key, step);
      // Now and then a replica hears one of another's writes early, out of order.
      const [from, to] = [random.pick(replicas), random.pick(replicas)];
      if (random.chance(0.3) && from !== to && from.written.length > 0) to.receive(random.pick(from.written));
    }
    // Then each hears everything, shuffled, in one batch: the way the server sends a document
    // a client lacks (whole, with its createdAt) — a lone later triple of a document the
    // replica never held would be dropped by the sync guard (design 009).
    for (const to of replicas) {
      const triples = replicas.filter((from) => from !== to).flatMap((from) => from.written.flat());
      for (let i = triples.length - 1; i > 0; i--) {
        const j = random.int(i + 1);
        [triples[i], triples[j]] = [triples[j]!, triples[i]!];
      }
      to.receive(triples);
    }
    const [first, ...rest] = replicas.map((each) => each.map.entries());
    for (const other of rest) expect(other, `diverged with SEED=${seed}`).toEqual(first);
    // The winner of each key is its write with the greatest HLC (encoded HLCs sort in causal order).
    const latest = new Map<string, Triple>();
    for (const triple of replicas.flatMap((each) => each.written.flat())) {
      if (triple.field !== "value") continue;
      const current = latest.get(triple.id);
      if (current === undefined || triple.hlc > current.hlc) latest.set(triple.id, triple);
    }
    const winners = [...latest.values()]
      .filter((triple) => triple.value !== null)
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(first, `wrong winners with SEED=${seed}`).toEqual(winners.map((triple) => [triple.id, triple.value]));
  });
});
