import { effect } from "@preact/signals-core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createClock, hlcMillis } from "../hlc.js";
import { createSchema } from "../schema/create-schema.js";
import { t } from "../schema/t.js";
import { TripleStore } from "../store/triple-store.js";
import { CREATED_AT_FIELD } from "../triples.js";
import { normalizeAggregateQuery, runAggregate } from "./aggregate.js";
import { GroupAggregator } from "./aggregate-groups.js";
import type { AggregateResultRow } from "./aggregate-query.js";
import { acquireLiveAggregate, LiveAggregate } from "./live-aggregate.js";
import { LiveQueryRegistry } from "./live-registry.js";

const schema = createSchema({
  entities: {
    posts: {
      title: t.string({ fallback: "" }),
      tag: t.string({ optional: true }),
      score: t.number({ fallback: 0 }),
      rank: t.number({ optional: true }),
      due: t.date({ optional: true }),
      note: t.string({ optional: true }),
    },
  },
});

type Fields = Record<string, unknown>;

function setup() {
  const store = new TripleStore();
  const clock = createClock({ node: "test", wallClock: () => 1_700_000_000_000 });
  const registry = new LiveQueryRegistry(store);
  const write = (id: string, fields: Fields) => {
    for (const [field, value] of Object.entries(fields)) {
      store.setField("posts", id, field, value instanceof Date ? value.getTime() : (value ?? null), clock.now());
    }
  };
  const create = (id: string, fields: Fields) =>
    store.transact(() => {
      const hlc = clock.now();
      store.setField("posts", id, CREATED_AT_FIELD, hlcMillis(hlc), hlc);
      write(id, fields);
    });
  const update = (id: string, fields: Fields) => store.transact(() => write(id, fields));
  const remove = (id: string) => store.delete("posts", id, clock.now());
  const normalize = (query: unknown) => {
    const normalized = normalizeAggregateQuery(schema.collections.posts!, query);
    if (normalized.error) throw new Error(normalized.error.message);
    return normalized.data;
  };
  const acquire = (query: unknown) => acquireLiveAggregate(registry, store, normalize(query));
  const fresh = (query: unknown) => runAggregate(store, normalize(query));
  /** Every value the live result takes, starting with the current one. */
  const follow = (live: LiveAggregate) => {
    const values: Array<readonly AggregateResultRow[]> = [];
    stops.push(
      effect(() => {
        values.push(live.result.value);
      }),
    );
    return values;
  };
  return { store, registry, create, update, remove, write, acquire, fresh, follow };
}

const stops: Array<() => void> = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
  vi.restoreAllMocks();
});

const BY_TAG = {
  aggregations: {
    n: { count: "*" },
    ranked: { count: "rank" },
    total: { sum: "score" },
    mean: { avg: "rank" },
    lo: { min: "score" },
    hi: { max: "due" },
  },
  groupBy: ["tag"],
};

describe("LiveAggregate", () => {
  it("follows creates, updates and deletes group by group", () => {
    const { create, update, remove, acquire, fresh } = setup();
    const live = acquire(BY_TAG);
    expect(live.result.value).toEqual([]);
    create("a", { tag: "x", score: 3, rank: 1, due: new Date(10) });
    expect(live.result.value).toEqual([{ tag: "x", n: 1, ranked: 1, total: 3, mean: 1, lo: 3, hi: new Date(10) }]);
    create("b", { tag: "x", score: -2 });
    create("c", { score: 5, rank: 4 });
    expect(live.result.value).toEqual(fresh(BY_TAG));
    expect(live.result.value.map((row) => row.tag)).toEqual([undefined, "x"]);
    update("b", { tag: "y" }); // moves between groups
    expect(live.result.value).toEqual(fresh(BY_TAG));
    update("a", { rank: null, due: null }); // values leave, the row stays
    expect(live.result.value).toEqual([
      { tag: undefined, n: 1, ranked: 1, total: 5, mean: 4, lo: 5, hi: undefined },
      { tag: "x", n: 1, ranked: 0, total: 3, mean: undefined, lo: 3, hi: undefined },
      { tag: "y", n: 1, ranked: 0, total: -2, mean: undefined, lo: -2, hi: undefined },
    ]);
    remove("a");
    remove("c");
    expect(live.result.value).toEqual([
      { tag: "y", n: 1, ranked: 0, total: -2, mean: undefined, lo: -2, hi: undefined },
    ]);
  });

  it("keeps exactly one row without groupBy, with the empty-set values when nothing matches", () => {
    const { create, remove, acquire } = setup();
    const query = {
      aggregations: { n: { count: "*" }, s: { sum: "score" }, a: { avg: "score" }, hi: { max: "score" } },
      where: { tag: "x" },
    };
    const live = acquire(query);
    expect(live.result.value).toEqual([{ n: 0, s: 0, a: undefined, hi: undefined }]);
    create("a", { tag: "x", score: 4 });
    create("b", { tag: "x", score: 2 });
    expect(live.result.value).toEqual([{ n: 2, s: 6, a: 3, hi: 4 }]);
    remove("a");
    remove("b");
    expect(live.result.value).toEqual([{ n: 0, s: 0, a: undefined, hi: undefined }]);
  });

  it("re-sorts groups as their aggregates change and keeps the limit window", () => {
    const { create, update, acquire, fresh } = setup();
    const query = { aggregations: { total: { sum: "score" } }, groupBy: ["tag"], orderBy: ["total", "desc"], limit: 2 };
    create("a", { tag: "a", score: 1 });
    create("b", { tag: "b", score: 2 });
    create("c", { tag: "c", score: 3 });
    const live = acquire(query);
    expect(live.result.value).toEqual([
      { tag: "c", total: 3 },
      { tag: "b", total: 2 },
    ]);
    update("a", { score: 10 });
    expect(live.result.value).toEqual([
      { tag: "a", total: 10 },
      { tag: "c", total: 3 },
    ]);
    update("a", { score: 3 }); // ties with c: broken by the group key
    expect(live.result.value).toEqual([
      { tag: "a", total: 3 },
      { tag: "c", total: 3 },
    ]);
    expect(live.result.value).toEqual(fresh(query));
  });

  it("publishes once per transaction, and nothing when the rows stay equal by value", () => {
    const { store, create, update, write, acquire, follow } = setup();
    create("a", { tag: "x", score: 1 });
    create("b", { tag: "x", score: 2 });
    const live = acquire({ aggregations: { total: { sum: "score" }, n: { count: "*" } }, groupBy: ["tag"] });
    const values = follow(live);
    const apply = vi.spyOn(LiveAggregate.prototype, "apply");
    update("a", { note: "unrelated" }); // a field the query does not read
    expect(apply).not.toHaveBeenCalled();
    store.transact(() => {
      write("a", { score: 2 });
      write("b", { score: 1 }); // the sum stays 3
    });
    expect(apply).toHaveBeenCalledTimes(2);
    expect(values).toHaveLength(1);
    const first = values[0]![0];
    store.transact(() => {
      write("a", { score: 5 });
      write("b", { score: 7 });
    });
    expect(values).toHaveLength(2);
    expect(values[1]).toEqual([{ tag: "x", total: 12, n: 2 }]);
    expect(values[1]![0]).not.toBe(first);
  });

  it("keeps unchanged rows as the same objects", () => {
    const { create, update, acquire } = setup();
    create("a", { tag: "x", score: 1 });
    create("b", { tag: "y", score: 2 });
    const live = acquire({ aggregations: { total: { sum: "score" } }, groupBy: ["tag"] });
    const [x, y] = live.result.value;
    update("b", { score: 3 });
    expect(live.result.value[0]).toBe(x);
    expect(live.result.value[1]).not.toBe(y);
  });

  it("is routed by an equality filter: writes to other groups never reach it", () => {
    const { create, update, acquire } = setup();
    create("a", { tag: "x", score: 1 });
    create("b", { tag: "y", score: 2 });
    const live = acquire({ aggregations: { total: { sum: "score" } }, where: { tag: "x" } });
    const apply = vi.spyOn(LiveAggregate.prototype, "apply");
    update("b", { score: 5 });
    expect(apply).not.toHaveBeenCalled();
    update("b", { tag: "x" }); // enters: its new value routes it
    expect(live.result.value).toEqual([{ total: 6 }]);
    update("b", { tag: "z" }); // leaves: its old value routes it
    expect(live.result.value).toEqual([{ total: 1 }]);
    expect(apply).toHaveBeenCalledTimes(2);
  });

  it("folds a write into count, sum and avg without rescanning the collection", () => {
    const { store, create, update, remove, acquire, fresh } = setup();
    store.transact(() => {
      for (let i = 0; i < 2000; i++) create(`p${i}`, { tag: `t${i % 10}`, score: i, rank: i % 7 });
    });
    const query = {
      aggregations: { n: { count: "*" }, s: { sum: "score" }, a: { avg: "rank" }, c: { count: "rank" } },
      groupBy: ["tag"],
    };
    const live = acquire(query);
    const table = store.table("posts")!;
    const get = vi.spyOn(table, "get");
    const liveRows = vi.spyOn(table, "liveRows");
    update("p5", { score: 1_000_000 });
    update("p6", { tag: "t0" });
    create("new", { tag: "t3", rank: 2 });
    remove("p7");
    // A handful of reads per write (its filter, group and aggregated fields), never one per document.
    expect(get.mock.calls.length).toBeLessThan(40);
    expect(liveRows).not.toHaveBeenCalled();
    expect(live.result.value).toEqual(fresh(query));
  });

  it("finds a min or max again only when the current extreme leaves, and only among the group's rows", () => {
    const { store, create, update, remove, acquire, fresh } = setup();
    store.transact(() => {
      for (let i = 0; i < 1000; i++) create(`p${i}`, { tag: i % 2 === 0 ? "even" : "odd", score: i });
    });
    const query = { aggregations: { lo: { min: "score" }, hi: { max: "score" }, n: { count: "*" } }, groupBy: ["tag"] };
    const live = acquire(query);
    expect(live.result.value).toEqual([
      { tag: "even", lo: 0, hi: 998, n: 500 },
      { tag: "odd", lo: 1, hi: 999, n: 500 },
    ]);
    const refresh = vi.spyOn(GroupAggregator.prototype, "refreshExtreme");
    const get = vi.spyOn(store.table("posts")!, "get");
    update("p500", { score: 501 }); // neither extreme of "even"
    create("p1000", { tag: "odd", score: 5000 }); // a new max: no search needed
    update("p998", { score: 2000 }); // the max grows in place
    expect(refresh).not.toHaveBeenCalled();
    update("p998", { score: 3 }); // the max of "even" leaves
    expect(refresh).toHaveBeenCalledTimes(1);
    expect([...refresh.mock.calls[0]![2]]).toHaveLength(500); // the rows of "even", not the collection
    remove("p1"); // the min of "odd" leaves
    expect(refresh).toHaveBeenCalledTimes(2);
    expect([...refresh.mock.calls[1]![2]]).toHaveLength(500);
    // The search runs over the values the view keeps per row: the store is not read again.
    expect(get.mock.calls.length).toBeLessThan(40);
    expect(live.result.value).toEqual(fresh(query));
    expect(live.result.value).toEqual([
      { tag: "even", lo: 0, hi: 996, n: 500 },
      { tag: "odd", lo: 3, hi: 5000, n: 500 },
    ]);
  });

  it("recomputes after a bulk commit, publishing only if the rows changed", () => {
    const { store, create, write, acquire, follow, fresh } = setup();
    const query = { aggregations: { n: { count: "*" }, s: { sum: "score" }, hi: { max: "score" } }, groupBy: ["tag"] };
    const live = acquire(query);
    const values = follow(live);
    store.transact(() => {
      for (let i = 0; i < 800; i++) create(`p${i}`, { tag: `t${i % 3}`, score: i % 100 });
    });
    expect(values).toHaveLength(2);
    expect(live.result.value).toEqual(fresh(query));
    const reset = vi.spyOn(LiveAggregate.prototype, "reset");
    store.transact(() => {
      // Swap scores pairwise within each group: every aggregate stays the same.
      for (let i = 0; i + 3 < 800; i += 6) {
        write(`p${i}`, { score: (i + 3) % 100 });
        write(`p${i + 3}`, { score: i % 100 });
        write(`p${i + 1}`, { score: (i + 4) % 100 });
        write(`p${i + 4}`, { score: (i + 1) % 100 });
        write(`p${i + 2}`, { score: (i + 5) % 100 });
        write(`p${i + 5}`, { score: (i + 2) % 100 });
      }
    });
    expect(reset).toHaveBeenCalledTimes(1);
    expect(values).toHaveLength(2);
    expect(live.result.value).toEqual(fresh(query));
  });

  it("shares identical aggregate queries and stops following when the last one is released", () => {
    const { registry, create, acquire } = setup();
    const first = acquire(BY_TAG);
    const second = acquire(JSON.parse(JSON.stringify(BY_TAG)));
    expect(second).toBe(first);
    expect(registry.size).toBe(1);
    registry.release(first);
    registry.release(second);
    expect(registry.size).toBe(0);
    create("a", { tag: "x" });
    expect(first.result.value).toEqual([]);
  });
});
