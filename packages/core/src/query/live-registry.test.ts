import { effect } from "@preact/signals-core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createClock, hlcMillis } from "../hlc.js";
import { createSchema } from "../schema/create-schema.js";
import { t } from "../schema/t.js";
import { TripleStore } from "../store/triple-store.js";
import { CREATED_AT_FIELD } from "../triples.js";
import { LiveQuery, type ResultDoc } from "./live-query.js";
import { LiveQueryRegistry } from "./live-registry.js";
import { compileMaterializer } from "./materialize.js";
import { normalizeQuery } from "./normalize.js";
import { runQuery } from "./run-query.js";

const schema = createSchema({
  entities: {
    posts: {
      title: t.string({ fallback: "" }),
      tag: t.string({ fallback: "none" }),
      score: t.number({ fallback: 0 }),
      rank: t.number({ optional: true }),
      note: t.string({ optional: true }),
      seen: t.date({ fallback: "now" }),
      tagIds: t.refMany("tags"),
    },
    tags: { name: t.string({ fallback: "" }) },
  },
});

type Fields = Record<string, unknown>;

/** A store, a registry over it, and helpers that write through the store like the client does. */
function setup() {
  const store = new TripleStore();
  const clock = createClock({ node: "test", wallClock: () => 1_700_000_000_000 });
  const registry = new LiveQueryRegistry(store);

  const setFields = (id: string, fields: Fields) => {
    for (const [field, value] of Object.entries(fields)) {
      if (field === "tagIds") {
        const table = store.table("posts");
        const row = table?.anyRowOf(id);
        const current = (row === undefined ? undefined : (table!.get(row, field) as string[] | undefined)) ?? [];
        const next = value as string[];
        const hlc = clock.now();
        for (const member of current)
          if (!next.includes(member)) store.setElement("posts", id, field, member, false, hlc);
        for (const member of next)
          if (!current.includes(member)) store.setElement("posts", id, field, member, true, hlc);
      } else {
        store.setField("posts", id, field, value instanceof Date ? value.getTime() : (value ?? null), clock.now());
      }
    }
  };
  /** Creates a document (with its createdAt, as the client writes it) in one transaction. */
  const create = (id: string, fields: Fields) =>
    store.transact(() => {
      const hlc = clock.now();
      store.setField("posts", id, CREATED_AT_FIELD, hlcMillis(hlc), hlc);
      setFields(id, fields);
    });
  const update = (id: string, fields: Fields) => store.transact(() => setFields(id, fields));
  const remove = (id: string) => store.delete("posts", id, clock.now());
  const normalize = (query: unknown) => {
    const normalized = normalizeQuery(schema.collections.posts!, query);
    if (normalized.error) throw normalized.error;
    return normalized.data;
  };
  const acquire = (query: unknown) => registry.acquire(normalize(query));
  /** What a fresh run of the query returns now. */
  const fresh = (query: unknown): ResultDoc[] => {
    const normalized = normalize(query);
    const table = store.table("posts");
    if (table === undefined) return [];
    const materialize = compileMaterializer(normalized);
    return runQuery(store, normalized).map((row) => materialize(table, row));
  };
  /** Every value the live result takes, starting with the current one. */
  const follow = (live: LiveQuery) => {
    const values: Array<readonly ResultDoc[]> = [];
    const stop = effect(() => {
      values.push(live.result.value);
    });
    stops.push(stop);
    return values;
  };
  const ids = (live: LiveQuery) => live.result.value.map((doc) => doc.id);
  return { store, clock, registry, create, update, remove, normalize, acquire, fresh, follow, ids };
}

const stops: Array<() => void> = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
  vi.restoreAllMocks();
});

describe("LiveQuery", () => {
  it("does not notify when a write changes a field the query neither filters, sorts nor returns", () => {
    const { create, update, acquire, follow } = setup();
    create("a", { title: "A", score: 2, note: "x" });
    create("b", { title: "B", score: 1 });
    const live = acquire({ fields: { title: true }, where: { score: { greaterThan: 0 } }, orderBy: ["score", "desc"] });
    const values = follow(live);
    const apply = spyOnFolds();
    update("a", { note: "y" });
    update("b", { rank: 3 });
    expect(apply.contexts).toEqual([]);
    expect(values).toHaveLength(1);
    expect(values[0]).toEqual([{ title: "A" }, { title: "B" }]);
  });

  it("does not notify when a write leaves what the query returns equal", () => {
    const { create, update, acquire, follow } = setup();
    create("a", { title: "A", score: 2 });
    create("b", { title: "A", score: 1 });
    const live = acquire({ fields: { title: true }, orderBy: ["score", "desc"] });
    const values = follow(live);
    update("a", { title: "A" }); // same value
    update("a", { score: 3 }); // order unchanged
    update("b", { score: 5 }); // order changes, but both documents read { title: "A" }
    expect(values).toHaveLength(1);
    update("b", { title: "B" });
    expect(values).toHaveLength(2);
    expect(values[1]).toEqual([{ title: "B" }, { title: "A" }]);
  });

  it("drops a document that stops matching and adds one that starts", () => {
    const { create, update, acquire, ids } = setup();
    create("a", { score: 1 });
    create("b", { score: 2 });
    const live = acquire({ fields: { id: true }, where: { score: { greaterThanOrEqual: 1 } }, orderBy: ["id", "asc"] });
    expect(ids(live)).toEqual(["a", "b"]);
    update("a", { score: 0 });
    expect(ids(live)).toEqual(["b"]);
    update("a", { score: 7 });
    expect(ids(live)).toEqual(["a", "b"]);
  });

  it("lets a document entering a limited window push the last one out, and the next one in when one leaves, without a rescan", () => {
    const { store, create, update, remove, acquire, ids, fresh } = setup();
    for (const [id, score] of [
      ["a", 1],
      ["b", 2],
      ["c", 3],
      ["d", 4],
      ["e", 5],
    ] as const)
      create(id, { score });
    const query = { fields: { id: true }, orderBy: ["score", "asc"], limit: 3 };
    const live = acquire(query);
    expect(ids(live)).toEqual(["a", "b", "c"]);
    // Full scans go through liveRows or an index; none may happen while the window moves.
    const table = store.table("posts")!;
    const scans = [vi.spyOn(table, "liveRows"), vi.spyOn(table, "equalityIndex"), vi.spyOn(table, "rangeIndex")];
    const reset = vi.spyOn(LiveQuery.prototype, "reset");

    update("e", { score: 0 }); // enters at the top: c is pushed out
    expect(ids(live)).toEqual(["e", "a", "b"]);
    remove("a"); // leaves: c comes back in
    expect(ids(live)).toEqual(["e", "b", "c"]);
    update("b", { score: 10 }); // moves behind the window: d comes in
    expect(ids(live)).toEqual(["e", "c", "d"]);
    update("d", { score: 2.5 }); // moves inside the window
    expect(ids(live)).toEqual(["e", "d", "c"]);

    for (const scan of scans) expect(scan).not.toHaveBeenCalled();
    expect(reset).not.toHaveBeenCalled();
    expect(live.result.value).toEqual(fresh(query));
  });

  it("re-sorts when a sort field changes, and breaks ties by id", () => {
    const { create, update, acquire, ids } = setup();
    create("a", { score: 1, title: "x" });
    create("b", { score: 2, title: "x" });
    create("c", { score: 3, title: "y" });
    const live = acquire({
      fields: { id: true },
      orderBy: [
        ["title", "desc"],
        ["score", "desc"],
      ],
    });
    expect(ids(live)).toEqual(["c", "b", "a"]);
    update("a", { score: 5 });
    expect(ids(live)).toEqual(["c", "a", "b"]);
    update("c", { title: "a" });
    expect(ids(live)).toEqual(["a", "b", "c"]);
    update("a", { score: 2 }); // ties with b on both keys: id decides
    expect(ids(live)).toEqual(["a", "b", "c"]);
    update("b", { title: "z" });
    expect(ids(live)).toEqual(["b", "a", "c"]);
  });

  it("removes deleted documents", () => {
    const { create, remove, acquire, ids } = setup();
    create("a", { tag: "t" });
    create("b", { tag: "t" });
    const all = acquire({ fields: { id: true }, orderBy: ["id", "asc"] });
    const tagged = acquire({ fields: { id: true }, where: { tag: "t" }, orderBy: ["id", "asc"] });
    remove("a");
    expect(ids(all)).toEqual(["b"]);
    expect(ids(tagged)).toEqual(["b"]);
    remove("b");
    expect(ids(all)).toEqual([]);
    expect(ids(tagged)).toEqual([]);
  });

  it("publishes once per transaction, however many rows it changes", () => {
    const { store, create, update, acquire, follow } = setup();
    for (let i = 0; i < 20; i++) create(`p${i}`, { score: i });
    const live = acquire({ fields: { id: true, score: true }, orderBy: ["score", "asc"], limit: 5 });
    const values = follow(live);
    store.transact(() => {
      for (let i = 0; i < 20; i++) update(`p${i}`, { score: 100 - i });
    });
    expect(values).toHaveLength(2);
    expect(values[1]!.map((doc) => doc.id)).toEqual(["p19", "p18", "p17", "p16", "p15"]);
  });
});

describe("LiveQueryRegistry", () => {
  it("shares one live query between identical queries and frees it on the last release", () => {
    const { registry, create, acquire } = setup();
    create("a", { tag: "x" });
    const first = acquire({ where: { tag: "x" }, orderBy: ["score", "asc"] });
    // Written differently, normalized the same.
    const second = acquire({ where: { tag: { equals: "x" } }, orderBy: [["score", "asc"]] });
    const other = acquire({ where: { tag: "y" } });
    expect(second).toBe(first);
    expect(registry.size).toBe(2);
    registry.release(first);
    expect(registry.size).toBe(2);
    registry.release(second);
    expect(registry.size).toBe(1);
    registry.release(other);
    expect(registry.size).toBe(0);
  });

  it("stops maintaining a released live query", () => {
    const { registry, create, update, acquire } = setup();
    create("a", { tag: "x" });
    const routed = acquire({ where: { tag: "x" } });
    const unrouted = acquire({ where: { score: { greaterThan: -1 } } });
    registry.release(routed);
    registry.release(unrouted);
    const apply = spyOnFolds();
    update("a", { score: 3 });
    create("b", { tag: "x" });
    expect(apply.contexts).toEqual([]);
    // A new acquire starts from the current data.
    expect(acquire({ fields: { id: true }, where: { tag: "x" }, orderBy: ["id", "asc"] }).result.value).toEqual([
      { id: "a" },
      { id: "b" },
    ]);
  });

  it("keeps results correct across bulk commits of more than 512 rows", () => {
    const { store, create, update, remove, acquire, follow, fresh } = setup();
    const queries = [
      { fields: { id: true, score: true }, orderBy: [["score", "desc"]], limit: 10 },
      { fields: { id: true, title: true }, where: { tag: "t3" }, orderBy: ["title", "asc"] },
      {
        fields: { id: true },
        where: { score: { lessThan: 50 }, rank: { isDefined: true } },
        orderBy: ["rank", "asc"],
        limit: 7,
      },
      { fields: { title: true }, where: { tagIds: "g2" } },
    ];
    const lives = queries.map((query) => acquire(query));
    const values = lives.map((live) => follow(live));
    store.transact(() => {
      for (let i = 0; i < 700; i++) {
        create(`p${String(i).padStart(3, "0")}`, {
          title: `t${i % 13}`,
          tag: `t${i % 7}`,
          score: i % 101,
          tagIds: [`g${i % 5}`],
        });
      }
    });
    for (const [i, live] of lives.entries()) expect(live.result.value).toEqual(fresh(queries[i]));
    // One publication each, except for the query still matching nothing (no rank yet).
    expect(values.map((each) => each.length)).toEqual([2, 2, 1, 2]);
    store.transact(() => {
      for (let i = 0; i < 700; i += 2)
        update(`p${String(i).padStart(3, "0")}`, { score: (i * 7) % 97, rank: i % 11, tagIds: [`g${i % 3}`] });
      for (let i = 1; i < 700; i += 3) remove(`p${String(i).padStart(3, "0")}`);
    });
    for (const [i, live] of lives.entries()) expect(live.result.value).toEqual(fresh(queries[i]));
    expect(values.map((each) => each.length)).toEqual([3, 3, 2, 3]);
    // And incremental folding continues correctly afterwards.
    update("p000", { score: 1000, tag: "t3" });
    for (const [i, live] of lives.entries()) expect(live.result.value).toEqual(fresh(queries[i]));
  });

  describe("routing", () => {
    it("runs a write only through the live queries whose equality filter can see it", () => {
      const { create, update, remove, acquire, ids } = setup();
      for (let i = 0; i < 20; i++) create(`p${i}`, { tag: `t${i}` });
      const lives = Array.from({ length: 1_000 }, (_, i) =>
        acquire({ fields: { id: true, score: true }, where: { tag: `t${i}` } }),
      );
      const apply = spyOnFolds();
      const canSee = vi.spyOn(LiveQuery.prototype, "canSee");

      update("p5", { score: 1 });
      expect(apply.contexts).toEqual([lives[5]]);
      expect(canSee).toHaveBeenCalledTimes(1);

      apply.clear();
      update("p5", { tag: "t7" }); // reaches the query it leaves and the one it enters
      expect(new Set(apply.contexts)).toEqual(new Set([lives[5], lives[7]]));
      expect(ids(lives[5]!)).toEqual([]);
      expect(ids(lives[7]!)).toEqual(expect.arrayContaining(["p5", "p7"]));

      apply.clear();
      create("new", { tag: "t999" });
      expect(apply.contexts).toEqual([lives[999]]);
      apply.clear();
      remove("new");
      expect(apply.contexts).toEqual([lives[999]]);
      expect(ids(lives[999]!)).toEqual([]);

      apply.clear();
      create("elsewhere", { tag: "nobody-follows-this" });
      expect(apply.contexts).toEqual([]);
    });

    it("lets the routes decide matches only for filters that say nothing else", () => {
      const { acquire } = setup();
      const isDecided = (where: unknown) => acquire({ where }).watches[0]!.isDecided;
      expect(isDecided({ tag: "x" })).toBe(true);
      expect(isDecided({ tag: "x", score: { greaterThan: 1, lessThanOrEqual: 5 } })).toBe(true);
      expect(isDecided({ score: { greaterThanOrEqual: 2 } })).toBe(true);
      expect(isDecided({ id: "p1" })).toBe(true);
      expect(isDecided({ tag: "x", title: "t" })).toBe(false); // a second equality is tested
      expect(isDecided({ tag: { in: ["x", "y"] } })).toBe(false); // one bucket per key
      expect(isDecided({ tag: "x", rank: { greaterThan: 1 }, score: { lessThan: 3 } })).toBe(false);
      expect(isDecided({ tagIds: "g1" })).toBe(false); // a set field holds members
      expect(isDecided({ tag: "none" })).toBe(false); // the fallback: not routed at all
      expect(isDecided({ title: { startsWith: "a" } })).toBe(false);
      expect(isDecided({ or: [{ tag: "x" }, { tag: "y" }] })).toBe(false);
    });

    it("reaches a decided query showing a row whose shown-only field changed, however many rows it shows", () => {
      const { create, update, acquire, fresh } = setup();
      for (let i = 0; i < 250; i++) create(`p${i}`, { tag: "x", score: i, title: `t${i}` });
      const queries = [
        { fields: { id: true, title: true }, where: { tag: "x" }, orderBy: ["score", "asc"], limit: 5 },
        { fields: { id: true, title: true }, where: { tag: "x" }, orderBy: ["score", "asc"] }, // 250 shown
      ];
      const lives = queries.map((query) => acquire(query));
      const apply = spyOnFolds();
      update("p3", { title: "shown by both" });
      update("p200", { title: "shown by the second only" });
      expect(apply.contexts).toEqual([lives[0], lives[1], lives[1]]);
      for (const [i, query] of queries.entries()) expect(lives[i]!.result.value).toEqual(fresh(query));
    });

    it("routes `in` filters by each of their values", () => {
      const { create, update, acquire, ids } = setup();
      const xy = acquire({ fields: { id: true }, where: { tag: { in: ["x", "y"] } }, orderBy: ["id", "asc"] });
      const yz = acquire({ fields: { id: true }, where: { tag: { in: ["y", "z"] } }, orderBy: ["id", "asc"] });
      const apply = spyOnFolds();
      create("a", { tag: "x" });
      expect(apply.contexts).toEqual([xy]);
      apply.clear();
      create("b", { tag: "y" });
      expect(new Set(apply.contexts)).toEqual(new Set([xy, yz]));
      apply.clear();
      create("c", { tag: "w" });
      expect(apply.contexts).toEqual([]);
      update("a", { tag: "z" });
      expect(ids(xy)).toEqual(["b"]);
      expect(ids(yz)).toEqual(["a", "b"]);
    });

    it("routes `id` equality by the document's id", () => {
      const { create, update, acquire, ids } = setup();
      const lives = Array.from({ length: 1_000 }, (_, i) =>
        acquire({ fields: { id: true, score: true }, where: { id: `p${i}` } }),
      );
      const apply = spyOnFolds();
      create("p3", { score: 1 }); // a query may follow an id before the document exists
      expect(apply.contexts).toEqual([lives[3]]);
      expect(lives[3]!.result.value).toEqual([{ id: "p3", score: 1 }]);
      apply.clear();
      update("p3", { score: 2 });
      expect(apply.contexts).toEqual([lives[3]]);
      expect(lives[3]!.result.value).toEqual([{ id: "p3", score: 2 }]);
      expect(ids(lives[4]!)).toEqual([]);
    });

    it("routes refMany membership by each member, before and after the change", () => {
      const { create, update, acquire, ids } = setup();
      const lives = Array.from({ length: 1_000 }, (_, i) =>
        acquire({ fields: { id: true }, where: { tagIds: `g${i}` } }),
      );
      const apply = spyOnFolds();
      create("a", { tagIds: ["g1", "g2"] });
      expect(new Set(apply.contexts)).toEqual(new Set([lives[1], lives[2]]));
      apply.clear();
      update("a", { tagIds: ["g2", "g3"] }); // leaves g1, stays in g2, joins g3
      expect(new Set(apply.contexts)).toEqual(new Set([lives[1], lives[2], lives[3]]));
      expect(ids(lives[1]!)).toEqual([]);
      expect(ids(lives[2]!)).toEqual(["a"]);
      expect(ids(lives[3]!)).toEqual(["a"]);
      apply.clear();
      update("a", { title: "unrelated to any of them" });
      expect(apply.contexts).toEqual([]); // routed, then filtered by dependencies
    });

    it("routes an optional field's equality by its value before and after, removal included", () => {
      const { create, update, acquire, ids } = setup();
      const ranked = acquire({ fields: { id: true }, where: { rank: 1 } });
      create("a", { title: "no rank" });
      expect(ids(ranked)).toEqual([]);
      update("a", { rank: 1 });
      expect(ids(ranked)).toEqual(["a"]);
      update("a", { rank: undefined }); // removed: reads as undefined
      expect(ids(ranked)).toEqual([]);
    });

    it("does not route by an operand equal to the field's fallback, so documents without the field still match", () => {
      const { create, update, acquire, ids, fresh } = setup();
      // Plenty of routed queries on the same fields around them.
      for (let i = 0; i < 50; i++) acquire({ where: { tag: `t${i}`, score: i + 1 } });
      const queries = [
        { fields: { id: true }, where: { tag: "none" }, orderBy: ["id", "asc"] },
        { fields: { id: true }, where: { tag: { in: ["t1", "none"] } }, orderBy: ["id", "asc"] },
        { fields: { id: true }, where: { score: 0 }, orderBy: ["id", "asc"] },
        { fields: { id: true }, where: { score: { equals: 0 }, tag: "none" }, orderBy: ["id", "asc"] },
      ];
      const lives = queries.map((query) => acquire(query));
      const apply = spyOnFolds();
      create("a", { title: "has neither tag nor score" });
      for (const live of lives) expect(apply.contexts).toContain(live);
      for (const live of lives) expect(ids(live)).toEqual(["a"]);
      update("a", { tag: "t1" });
      expect(lives.map(ids)).toEqual([[], ["a"], ["a"], []]);
      update("a", { tag: "none", score: 4 }); // the stored value equals the fallback
      expect(lives.map(ids)).toEqual([["a"], ["a"], [], []]);
      update("a", { tag: undefined, score: undefined });
      expect(lives.map(ids)).toEqual([["a"], ["a"], ["a"], ["a"]]);
      for (const [i, query] of queries.entries()) expect(lives[i]!.result.value).toEqual(fresh(query));
    });

    it("does not route a date whose fallback is `now` by its stored value: it reads as createdAt when missing", () => {
      const { store, create, update, acquire, ids } = setup();
      create("a", { title: "no seen date" });
      const table = store.table("posts")!;
      const createdAt = table.get(table.rowOf("a")!, CREATED_AT_FIELD) as number;
      const seenAtCreation = acquire({ fields: { id: true }, where: { seen: new Date(createdAt) } });
      expect(ids(seenAtCreation)).toEqual(["a"]);
      update("a", { seen: new Date(createdAt + 1) });
      expect(ids(seenAtCreation)).toEqual([]);
      update("a", { seen: undefined });
      expect(ids(seenAtCreation)).toEqual(["a"]);
    });
  });
});

/**
 * Spies on both ways a row change reaches a live query: `apply`, and `applyMembership` for the
 * queries whose routes decide their matches.
 */
function spyOnFolds() {
  const spies = [vi.spyOn(LiveQuery.prototype, "apply"), vi.spyOn(LiveQuery.prototype, "applyMembership")];
  return {
    get contexts(): unknown[] {
      return spies.flatMap((spy) => spy.mock.contexts);
    },
    clear(): void {
      for (const spy of spies) spy.mockClear();
    },
  };
}
