import { type AggregateRow, createSchema, t } from "@trellis/core";
import { describe, expectTypeOf, it } from "vitest";
import { createClient, type Subscription } from "./index.js";

const schema = createSchema({
  entities: {
    posts: {
      title: t.string({ fallback: "" }),
      tag: t.string({ optional: true }),
      viewCount: t.number({ fallback: 0 }),
      rating: t.number({ optional: true }),
      isDraft: t.boolean({ fallback: false }),
      publishedAt: t.date({ optional: true }),
      authorId: t.ref("users"),
      tagIds: t.refMany("tags"),
      meta: t.json({ optional: true }),
    },
    users: { name: t.string({ fallback: "" }) },
    tags: { name: t.string({ fallback: "" }) },
  },
});
type Posts = typeof schema.entities.posts;

const db = createClient({ schema }).database;

/** The data type of a successful result. */
type Data<R> =
  R extends Promise<infer D> ? (D extends { readonly data: infer T; readonly error: undefined } ? T : never) : never;

describe("aggregate query types", () => {
  it("types each aggregate: count and sum as number, avg/min/max as value or undefined", () => {
    const result = db.posts.query({
      aggregations: {
        n: { count: "*" },
        rated: { count: "rating" },
        views: { sum: "viewCount" },
        mean: { avg: "rating" },
        first: { min: "publishedAt" },
        last: { max: "title" },
        newest: { max: "createdAt" },
      },
    });
    expectTypeOf<Data<typeof result>>().toEqualTypeOf<
      {
        n: number;
        rated: number;
        views: number;
        mean: number | undefined;
        first: Date | undefined;
        last: string | undefined;
        newest: Date | undefined;
      }[]
    >();
  });

  it("types group fields with their read types", () => {
    const result = db.posts.query({
      aggregations: { n: { count: "*" } },
      groupBy: ["tag", "isDraft", "publishedAt", "authorId"],
      where: { viewCount: { greaterThan: 10 } },
      orderBy: [
        ["n", "desc"],
        ["tag", "asc"],
      ],
      limit: 5,
    });
    expectTypeOf<Data<typeof result>>().toEqualTypeOf<
      {
        tag: string | undefined;
        isDraft: boolean;
        publishedAt: Date | undefined;
        authorId: string | undefined;
        n: number;
      }[]
    >();
    const distinct = db.posts.query({ groupBy: ["isDraft"] });
    expectTypeOf<Data<typeof distinct>>().toEqualTypeOf<{ isDraft: boolean }[]>();
  });

  it("types queryOne, subscribe and subscribeOne the same way", () => {
    const one = db.posts.queryOne({ aggregations: { n: { count: "*" } } });
    expectTypeOf<Data<typeof one>>().toEqualTypeOf<{ n: number } | undefined>();
    const subscription = db.posts.subscribe({ aggregations: { s: { sum: "viewCount" } }, groupBy: ["tag"] }, (rows) => {
      expectTypeOf(rows).toEqualTypeOf<readonly { tag: string | undefined; s: number }[] | undefined>();
    });
    expectTypeOf(subscription).toEqualTypeOf<Subscription<readonly { tag: string | undefined; s: number }[]>>();
    db.posts.subscribeOne({ aggregations: { hi: { max: "rating" } } }, (row) => {
      expectTypeOf(row).toEqualTypeOf<{ hi: number | undefined } | undefined>();
    });
  });

  it("leaves plain queries typed as before", () => {
    const result = db.posts.query({ fields: { title: true }, where: { tag: "a" } });
    expectTypeOf<Data<typeof result>>().toEqualTypeOf<{ title: string }[]>();
  });

  it("exposes the row type for a query type", () => {
    type Row = AggregateRow<
      Posts,
      { readonly groupBy: readonly ["tag"]; readonly aggregations: { readonly n: { readonly count: "*" } } }
    >;
    expectTypeOf<Row>().toEqualTypeOf<{ tag: string | undefined; n: number }>();
  });

  it("rejects fields together with aggregations or groupBy", () => {
    // @ts-expect-error fields cannot be combined with aggregations
    db.posts.query({ fields: { title: true }, aggregations: { n: { count: "*" } } });
    // @ts-expect-error fields cannot be combined with groupBy
    db.posts.query({ fields: { title: true }, groupBy: ["tag"] });
    // @ts-expect-error nor in subscriptions
    db.posts.subscribe({ fields: { title: true }, aggregations: { n: { count: "*" } } }, () => {});
    // @ts-expect-error nor in queryOne
    db.posts.queryOne({ fields: { tag: true }, groupBy: ["tag"] });
  });

  it("rejects aggregates on fields of the wrong type", () => {
    // @ts-expect-error sum takes numbers
    db.posts.query({ aggregations: { s: { sum: "title" } } });
    // @ts-expect-error avg takes numbers
    db.posts.query({ aggregations: { a: { avg: "publishedAt" } } });
    // @ts-expect-error min takes numbers, strings and dates
    db.posts.query({ aggregations: { m: { min: "isDraft" } } });
    // @ts-expect-error max does not take JSON
    db.posts.query({ aggregations: { m: { max: "meta" } } });
    // @ts-expect-error nor refMany
    db.posts.query({ aggregations: { m: { max: "tagIds" } } });
    // @ts-expect-error "*" only counts
    db.posts.query({ aggregations: { s: { sum: "*" } } });
    // @ts-expect-error unknown field
    db.posts.query({ aggregations: { n: { count: "nope" } } });
    // @ts-expect-error one function per aggregate
    db.posts.query({ aggregations: { n: { count: "*", sum: "viewCount" } } });
    // @ts-expect-error unknown function
    db.posts.query({ aggregations: { n: { median: "viewCount" } } });
    // count takes any field, JSON and refMany included
    db.posts.query({ aggregations: { withMeta: { count: "meta" }, tagged: { count: "tagIds" } } });
  });

  it("rejects groupBy on JSON and refMany fields, and orderBy on names the rows do not have", () => {
    // @ts-expect-error JSON fields cannot be grouped by
    db.posts.query({ groupBy: ["meta"] });
    // @ts-expect-error refMany fields cannot be grouped by
    db.posts.query({ groupBy: ["tagIds"] });
    // @ts-expect-error viewCount is neither a group field nor an aggregate
    db.posts.query({ aggregations: { n: { count: "*" } }, groupBy: ["tag"], orderBy: ["viewCount", "desc"] });
    // @ts-expect-error nor in a list
    db.posts.query({
      aggregations: { n: { count: "*" } },
      orderBy: [
        ["n", "desc"],
        ["tag", "asc"],
      ],
    });
    // @ts-expect-error unknown option
    db.posts.query({ aggregations: { n: { count: "*" } }, limt: 3 });
    // @ts-expect-error where keeps its checks
    db.posts.query({ aggregations: { n: { count: "*" } }, where: { nope: 1 } });
    // @ts-expect-error where operators too
    db.posts.query({ aggregations: { n: { count: "*" } }, where: { isDraft: { greaterThan: true } } });
  });
});
