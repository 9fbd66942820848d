import { describe, expect, it } from "vitest";
import { createClock, hlcMillis } from "../hlc.js";
import { createSchema } from "../schema/create-schema.js";
import { t } from "../schema/t.js";
import { TripleStore } from "../store/triple-store.js";
import { CREATED_AT_FIELD } from "../triples.js";
import { normalizeAggregateQuery, runAggregate } from "./aggregate.js";
import { isAggregateQuery } from "./aggregate-query.js";
import { ExactSum } from "./exact-sum.js";

const schema = createSchema({
  entities: {
    posts: {
      title: t.string({ fallback: "" }),
      tag: t.string({ optional: true }),
      score: t.number({ fallback: 0 }),
      rank: t.number({ optional: true }),
      isDraft: t.boolean({ fallback: false }),
      due: t.date({ optional: true }),
      seen: t.date({ fallback: "now" }),
      authorId: t.ref("users"),
      tagIds: t.refMany("tags"),
      meta: t.json({ optional: true }),
    },
    users: { name: t.string({ fallback: "" }) },
    tags: { name: t.string({ fallback: "" }) },
  },
});
const posts = schema.collections.posts!;

function setup() {
  const store = new TripleStore();
  const clock = createClock({ node: "test", wallClock: () => 1_700_000_000_000 });
  const create = (id: string, fields: Record<string, unknown>) =>
    store.transact(() => {
      const hlc = clock.now();
      store.setField("posts", id, CREATED_AT_FIELD, hlcMillis(hlc), hlc);
      for (const [field, value] of Object.entries(fields)) {
        if (field === "tagIds")
          for (const tag of value as string[]) store.setElement("posts", id, field, tag, true, clock.now());
        else store.setField("posts", id, field, value instanceof Date ? value.getTime() : value, clock.now());
      }
    });
  const run = (query: unknown) => {
    const normalized = normalizeAggregateQuery(posts, query);
    if (normalized.error) throw new Error(normalized.error.message);
    return runAggregate(store, normalized.data);
  };
  return { store, create, run };
}

function validationMessage(query: unknown): string {
  const result = normalizeAggregateQuery(posts, query);
  expect(result.error?.code).toBe("VALIDATION");
  return result.error!.message;
}

describe("normalizeAggregateQuery", () => {
  it("reduces a query to plain JSON with the read rules of every field it references", () => {
    const result = normalizeAggregateQuery(posts, {
      aggregations: { n: { count: "*" }, total: { sum: "score" }, last: { max: "due" } },
      where: { due: { greaterThan: new Date(5) }, isDraft: false },
      groupBy: ["tag", "authorId"],
      orderBy: [
        ["total", "desc"],
        ["tag", "asc"],
      ],
      limit: 3,
    });
    expect(result.error).toBeUndefined();
    expect(result.data).toEqual({
      collection: "posts",
      where: [
        { field: "due", op: "greaterThan", operand: 5 },
        { field: "isDraft", op: "equals", operand: false },
      ],
      groupBy: ["tag", "authorId"],
      aggregations: [
        { name: "n", fn: "count", field: null },
        { name: "total", fn: "sum", field: "score" },
        { name: "last", fn: "max", field: "due" },
      ],
      orderBy: [
        ["total", "desc"],
        ["tag", "asc"],
      ],
      limit: 3,
      specs: {
        due: posts.fields.due,
        isDraft: posts.fields.isDraft,
        tag: posts.fields.tag,
        authorId: posts.fields.authorId,
        score: posts.fields.score,
      },
    });
    expect(JSON.parse(JSON.stringify(result.data))).toEqual(result.data);
  });

  it("takes one orderBy tuple as well as a list", () => {
    const result = normalizeAggregateQuery(posts, {
      aggregations: { n: { count: "*" } },
      groupBy: ["tag"],
      orderBy: ["n", "desc"],
    });
    expect(result.data?.orderBy).toEqual([["n", "desc"]]);
  });

  it("accepts groupBy without aggregations (distinct group values) and count on any field", () => {
    expect(normalizeAggregateQuery(posts, { groupBy: ["isDraft"] }).error).toBeUndefined();
    for (const field of ["meta", "tagIds", "id", "createdAt", "updatedAt", "createdBy", "isDraft"]) {
      expect(normalizeAggregateQuery(posts, { aggregations: { c: { count: field } } }).error).toBeUndefined();
    }
    for (const field of ["id", "createdBy", "createdAt", "updatedAt", "authorId", "title", "seen"]) {
      expect(
        normalizeAggregateQuery(posts, { aggregations: { lo: { min: field }, hi: { max: field } } }).error,
      ).toBeUndefined();
    }
  });

  it("rejects fields together with aggregations or groupBy", () => {
    expect(validationMessage({ fields: { title: true }, aggregations: { n: { count: "*" } } })).toMatch(
      /fields cannot be combined/,
    );
    expect(validationMessage({ fields: { title: true }, groupBy: ["tag"] })).toMatch(/fields cannot be combined/);
  });

  it("rejects what it cannot run, saying what to do", () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ aggregations: { n: { count: "*" } }, limt: 3 }, /unknown option "limt"/],
      [{ aggregations: {} }, /at least one aggregate/],
      [{ groupBy: [] }, /at least one aggregate/],
      [{ aggregations: [{ count: "*" }] }, /aggregations must be an object/],
      [{ aggregations: { n: "count" } }, /aggregations\.n must be one of/],
      [{ aggregations: { n: { count: "*", sum: "score" } } }, /aggregations\.n must be one of/],
      [{ aggregations: { n: { median: "score" } } }, /aggregations\.n must be one of/],
      [{ aggregations: { n: { sum: 3 } } }, /aggregations\.n must be one of/],
      [{ aggregations: { n: { sum: "*" } } }, /\* is not a field/],
      [{ aggregations: { n: { count: "nope" } } }, /nope is not a field of posts/],
      [{ aggregations: { n: { sum: "title" } } }, /sum works on numbers; title is a string field/],
      [{ aggregations: { n: { avg: "due" } } }, /avg works on numbers; due is a date field/],
      [
        { aggregations: { n: { min: "isDraft" } } },
        /min works on numbers, strings and dates; isDraft is a boolean field/,
      ],
      [{ aggregations: { n: { max: "meta" } } }, /max works on numbers, strings and dates; meta is a json field/],
      [{ aggregations: { n: { max: "tagIds" } } }, /tagIds is a refMany field/],
      [{ aggregations: { tag: { count: "*" } }, groupBy: ["tag"] }, /tag is also a groupBy field/],
      [{ groupBy: "tag" }, /groupBy must be a list/],
      [{ groupBy: [1] }, /groupBy must list field names/],
      [{ groupBy: ["nope"] }, /nope is not a field of posts/],
      [{ groupBy: ["meta"] }, /meta is a json field and cannot be grouped by/],
      [{ groupBy: ["tagIds"] }, /tagIds is a refMany field and cannot be grouped by/],
      [{ groupBy: ["tag", "tag"] }, /lists tag twice/],
      [{ groupBy: ["tag"], orderBy: ["score", "asc"] }, /score is neither a groupBy field nor an aggregate name/],
      [{ groupBy: ["tag"], orderBy: ["tag", "up"] }, /orderBy entries must be/],
      [{ groupBy: ["tag"], orderBy: "tag" }, /orderBy must be/],
      [{ groupBy: ["tag"], limit: -1 }, /limit must be a whole number/],
      [{ groupBy: ["tag"], limit: 1.5 }, /limit must be a whole number/],
      [{ groupBy: ["tag"], where: { nope: 1 } }, /where\.nope is not a field/],
      [{ groupBy: ["tag"], where: { score: { greaterThan: "x" } } }, /expects a number/],
      [null, /expected a query object/],
    ];
    for (const [query, message] of cases) expect(validationMessage(query), JSON.stringify(query)).toMatch(message);
  });

  it("tells aggregate queries from plain ones", () => {
    expect(isAggregateQuery({ aggregations: { n: { count: "*" } } })).toBe(true);
    expect(isAggregateQuery({ groupBy: ["tag"] })).toBe(true);
    expect(isAggregateQuery({ aggregations: undefined, where: {} })).toBe(false);
    expect(isAggregateQuery({ fields: { title: true } })).toBe(false);
    expect(isAggregateQuery(undefined)).toBe(false);
  });
});

describe("runAggregate", () => {
  it("returns one row over no documents: count and sum 0, avg, min and max undefined", () => {
    const { run, create } = setup();
    const query = {
      aggregations: {
        n: { count: "*" },
        c: { count: "rank" },
        s: { sum: "rank" },
        a: { avg: "rank" },
        lo: { min: "due" },
        hi: { max: "title" },
      },
    };
    expect(run(query)).toEqual([{ n: 0, c: 0, s: 0, a: undefined, lo: undefined, hi: undefined }]);
    create("p1", { title: "x" });
    // A document whose values are all undefined: it counts, its values are skipped.
    expect(run(query)).toEqual([{ n: 1, c: 0, s: 0, a: undefined, lo: undefined, hi: "x" }]);
    expect(run({ ...query, where: { title: "nothing" } })).toEqual([
      { n: 0, c: 0, s: 0, a: undefined, lo: undefined, hi: undefined },
    ]);
    expect(run({ ...query, limit: 0 })).toEqual([]);
  });

  it("returns no rows for groupBy over no documents", () => {
    const { run } = setup();
    expect(run({ aggregations: { n: { count: "*" } }, groupBy: ["tag"] })).toEqual([]);
  });

  it("skips undefined values and sees values as read, after fallbacks", () => {
    const { run, create } = setup();
    create("p1", { rank: 4, score: 10 });
    create("p2", { rank: "wrong type", score: "wrong type" }); // reads as: rank undefined, score 0 (fallback)
    create("p3", { rank: 1 }); // score: fallback 0
    expect(run({ aggregations: { n: { count: "*" }, ranks: { count: "rank" }, scores: { count: "score" } } })).toEqual([
      { n: 3, ranks: 2, scores: 3 },
    ]);
    expect(
      run({ aggregations: { s: { sum: "rank" }, a: { avg: "rank" }, as: { avg: "score" }, lo: { min: "score" } } }),
    ).toEqual([{ s: 5, a: 2.5, as: 10 / 3, lo: 0 }]);
  });

  it("puts documents whose group field is undefined in one group of their own, first", () => {
    const { run, create } = setup();
    create("p1", { tag: "b", score: 1 });
    create("p2", { score: 2 });
    create("p3", { tag: "a", score: 3 });
    create("p4", { tag: 42, score: 4 }); // a wrong-typed tag reads as undefined
    create("p5", { tag: "b", score: 5 });
    expect(run({ aggregations: { n: { count: "*" }, s: { sum: "score" } }, groupBy: ["tag"] })).toEqual([
      { tag: undefined, n: 2, s: 6 },
      { tag: "a", n: 1, s: 3 },
      { tag: "b", n: 2, s: 6 },
    ]);
  });

  it("groups by several fields, ordering groups by their key tuple", () => {
    const { run, create } = setup();
    create("p1", { tag: "a", isDraft: true });
    create("p2", { tag: "a", isDraft: false });
    create("p3", { tag: "a", isDraft: true });
    create("p4", { isDraft: true });
    expect(run({ aggregations: { n: { count: "*" } }, groupBy: ["tag", "isDraft"] })).toEqual([
      { tag: undefined, isDraft: true, n: 1 },
      { tag: "a", isDraft: false, n: 1 },
      { tag: "a", isDraft: true, n: 2 },
    ]);
    expect(run({ groupBy: ["isDraft"] })).toEqual([{ isDraft: false }, { isDraft: true }]);
  });

  it("orders by aggregates with the total order, ties broken by the group key, then limits", () => {
    const { run, create } = setup();
    for (const [id, tag, rank] of [
      ["p1", "a", 1],
      ["p2", "b", 5],
      ["p3", "c", 1],
      ["p4", "d", undefined],
      ["p5", "b", 2],
    ] as const) {
      create(id, rank === undefined ? { tag } : { tag, rank });
    }
    const query = { aggregations: { n: { count: "*" }, top: { max: "rank" } }, groupBy: ["tag"] };
    expect(run({ ...query, orderBy: ["n", "desc"] }).map((row) => row.tag)).toEqual(["b", "a", "c", "d"]);
    // undefined first ascending, last descending
    expect(run({ ...query, orderBy: ["top", "asc"] }).map((row) => row.tag)).toEqual(["d", "a", "c", "b"]);
    expect(run({ ...query, orderBy: ["top", "desc"] }).map((row) => row.tag)).toEqual(["b", "a", "c", "d"]);
    expect(
      run({
        ...query,
        orderBy: [
          ["top", "desc"],
          ["tag", "desc"],
        ],
        limit: 2,
      }).map((row) => row.tag),
    ).toEqual(["b", "c"]);
    expect(run({ ...query, orderBy: ["tag", "desc"], limit: 1 })).toEqual([{ tag: "d", n: 1, top: undefined }]);
  });

  it("returns min and max of strings by code unit and of dates as Dates, and group dates as Dates", () => {
    const { run, create } = setup();
    create("p1", { title: "b", due: new Date(3000), tag: "x" });
    create("p2", { title: "B", due: new Date(1000), tag: "x" });
    create("p3", { title: "ä", tag: "x" });
    const [row] = run({
      aggregations: { first: { min: "title" }, last: { max: "title" }, early: { min: "due" }, late: { max: "due" } },
    });
    expect(row).toEqual({ first: "B", last: "ä", early: new Date(1000), late: new Date(3000) });
    expect(run({ aggregations: { n: { count: "*" } }, groupBy: ["due"] })).toEqual([
      { due: undefined, n: 1 },
      { due: new Date(1000), n: 1 },
      { due: new Date(3000), n: 1 },
    ]);
  });

  it("counts a refMany field as defined when its set is not empty, and a JSON field when present", () => {
    const { run, create } = setup();
    create("p1", { tagIds: ["t1", "t2"], meta: { a: 1 } });
    create("p2", { meta: 0 });
    create("p3", {});
    expect(run({ aggregations: { tagged: { count: "tagIds" }, withMeta: { count: "meta" } } })).toEqual([
      { tagged: 1, withMeta: 2 },
    ]);
  });

  it("groups -0 with 0 and shows it as 0", () => {
    const { run, create } = setup();
    create("p1", { rank: -0 });
    create("p2", { rank: 0 });
    const rows = run({
      aggregations: { n: { count: "*" }, lo: { min: "rank" }, s: { sum: "rank" } },
      groupBy: ["rank"],
    });
    expect(rows).toEqual([{ rank: 0, n: 2, lo: 0, s: 0 }]);
    expect(Object.is(rows[0]!.rank, 0) && Object.is(rows[0]!.lo, 0) && Object.is(rows[0]!.s, 0)).toBe(true);
  });

  it("sums exactly, whatever the order of the values", () => {
    const { run, create } = setup();
    create("p1", { score: 1e16 });
    create("p2", { score: 1 });
    create("p3", { score: -1e16 });
    create("p4", { score: 0.1 });
    create("p5", { score: 0.2 });
    expect(run({ aggregations: { s: { sum: "score" } } })).toEqual([{ s: 1.3 }]);
  });
});

describe("ExactSum", () => {
  it("reads the correctly rounded sum and forgets removed values exactly", () => {
    const sum = new ExactSum();
    const values = [0.1, 0.2, 1e12, -3.5, 1e-7, 2 ** 53, 1];
    for (const value of values) sum.add(value);
    sum.add(-(2 ** 53));
    sum.add(-1e12);
    const rest = new ExactSum();
    for (const value of [0.1, 0.2, -3.5, 1e-7, 1]) rest.add(value);
    expect(sum.value()).toBe(rest.value());
    expect(new ExactSum().value()).toBe(0);
  });

  it("gives the same result for any order of additions and removals", () => {
    let state = 7;
    const random = () => (state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const pool = [0.1, 0.7, 1e15, -1e15, 2.5, 1 / 3, -7, 123_456.789, 1e-9];
    for (let round = 0; round < 200; round++) {
      const kept: number[] = [];
      const live = new ExactSum();
      for (let step = 0; step < 60; step++) {
        if (kept.length > 0 && random() < 0.4) {
          const [removed] = kept.splice(Math.floor(random() * kept.length), 1);
          live.add(-removed!);
        } else {
          const value = pool[Math.floor(random() * pool.length)]! * (random() < 0.5 ? 1 : -1);
          kept.push(value);
          live.add(value);
        }
      }
      const fresh = new ExactSum();
      for (const value of kept.reverse()) fresh.add(value);
      expect(live.value()).toBe(fresh.value());
    }
  });
});
