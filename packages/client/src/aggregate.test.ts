import { createSchema, t } from "@trellis/core";
import { describe, expect, it } from "vitest";
import { createClient } from "./index.js";

const schema = createSchema({
  entities: {
    posts: {
      title: t.string({ fallback: "" }),
      tag: t.string({ optional: true }),
      viewCount: t.number({ fallback: 0 }),
      rating: t.number({ optional: true }),
      isDraft: t.boolean({ fallback: false }),
      publishedAt: t.date({ optional: true }),
    },
  },
});

type Call = { data: unknown; error: unknown; loading: boolean };

function recorder() {
  const calls: Call[] = [];
  return {
    calls,
    callback: (data: unknown, error: unknown, loading: boolean) => void calls.push({ data, error, loading }),
  };
}

async function setup() {
  const client = createClient({ schema });
  const posts = client.database.posts;
  for (const fields of [
    { title: "a", tag: "news", viewCount: 100, rating: 4, isDraft: false },
    { title: "b", tag: "news", viewCount: 50, isDraft: false },
    { title: "c", tag: "tech", viewCount: 70, rating: 5, publishedAt: new Date("2024-05-01"), isDraft: false },
    { title: "d", viewCount: 10, rating: 3, isDraft: false },
  ]) {
    expect((await posts.create(fields)).error).toBeUndefined();
  }
  return { client, posts };
}

describe("aggregate queries through the client", () => {
  it("runs the example of docs/queries.md", async () => {
    const { posts } = await setup();
    const { data } = await posts.query({
      aggregations: { posts: { count: "*" }, views: { sum: "viewCount" }, avgRating: { avg: "rating" } },
      groupBy: ["tag"],
      orderBy: ["views", "desc"],
    });
    expect(data).toEqual([
      { tag: "news", posts: 2, views: 150, avgRating: 4 },
      { tag: "tech", posts: 1, views: 70, avgRating: 5 },
      { tag: undefined, posts: 1, views: 10, avgRating: 3 },
    ]);
    const { data: sports } = await posts.queryOne({
      aggregations: { n: { count: "*" }, views: { sum: "viewCount" }, top: { max: "viewCount" } },
      where: { tag: "sports" },
    });
    expect(sports).toEqual({ n: 0, views: 0, top: undefined });
  });

  it("returns group dates and min/max of dates as Dates", async () => {
    const { posts } = await setup();
    const { data } = await posts.query({ aggregations: { first: { min: "publishedAt" } }, groupBy: ["isDraft"] });
    expect(data).toEqual([{ isDraft: false, first: new Date("2024-05-01") }]);
    expect(data![0]!.first).toBeInstanceOf(Date);
    const grouped = await posts.query({ groupBy: ["publishedAt"] });
    expect(grouped.data).toEqual([{ publishedAt: undefined }, { publishedAt: new Date("2024-05-01") }]);
  });

  it("returns VALIDATION errors instead of throwing, for one-shot queries and subscriptions", async () => {
    const { posts } = await setup();
    const loose = posts as unknown as {
      query(query: unknown): Promise<{ error?: { code: string; message: string } }>;
      subscribe(
        query: unknown,
        callback: (data: unknown, error: unknown, loading: boolean) => void,
      ): { getCurrentState(): { error: unknown } };
    };
    const mixed = await loose.query({ fields: { title: true }, aggregations: { n: { count: "*" } } });
    expect(mixed.error?.code).toBe("VALIDATION");
    expect(mixed.error?.message).toMatch(/fields cannot be combined with aggregations or groupBy/);
    expect((await loose.query({ groupBy: ["title"], fields: {} })).error?.code).toBe("VALIDATION");
    expect((await loose.query({ aggregations: { s: { sum: "title" } } })).error?.message).toMatch(
      /sum works on numbers/,
    );
    const { calls, callback } = recorder();
    const subscription = loose.subscribe({ fields: { title: true }, groupBy: ["tag"] }, callback);
    expect(calls).toEqual([
      { data: undefined, error: expect.objectContaining({ code: "VALIDATION" }), loading: false },
    ]);
    expect(subscription.getCurrentState().error).toEqual(expect.objectContaining({ code: "VALIDATION" }));
  });

  it("subscribes: calls back at once, again on each change that alters the rows, and not otherwise", async () => {
    const { client, posts } = await setup();
    const { calls, callback } = recorder();
    const subscription = posts.subscribe(
      { aggregations: { n: { count: "*" }, views: { sum: "viewCount" } }, groupBy: ["tag"] },
      callback,
    );
    expect(calls).toEqual([
      {
        data: [
          { tag: undefined, n: 1, views: 10 },
          { tag: "news", n: 2, views: 150 },
          { tag: "tech", n: 1, views: 70 },
        ],
        error: undefined,
        loading: false,
      },
    ]);
    const created = await posts.create({ title: "e", tag: "tech", viewCount: 5, isDraft: true });
    expect(calls).toHaveLength(2);
    expect(calls[1]!.data).toEqual([
      { tag: undefined, n: 1, views: 10 },
      { tag: "news", n: 2, views: 150 },
      { tag: "tech", n: 2, views: 75 },
    ]);
    await posts.update({ id: created.data!.id, fields: { title: "renamed", rating: 1 } }); // fields the query does not read
    expect(calls).toHaveLength(2);
    // One transaction moving views between documents of one group: the rows stay equal.
    const batch = client.database.batch;
    const news = (
      await posts.query({ fields: { id: true, viewCount: true }, where: { tag: "news" }, orderBy: ["title", "asc"] })
    ).data!;
    await batch.execute([
      batch.posts.update({ id: news[0]!.id, fields: { viewCount: 50 } }),
      batch.posts.update({ id: news[1]!.id, fields: { viewCount: 100 } }),
    ]);
    expect(calls).toHaveLength(2);
    await posts.deleteMany({ where: { tag: "news" } });
    expect(calls).toHaveLength(3);
    expect(calls[2]!.data).toEqual([
      { tag: undefined, n: 1, views: 10 },
      { tag: "tech", n: 2, views: 75 },
    ]);
    subscription.unsubscribe();
    expect((await posts.create({ title: "f", tag: "tech", viewCount: 1, isDraft: false })).error).toBeUndefined();
    expect(calls).toHaveLength(3);
  });

  it("subscribeOne follows the first row", async () => {
    const { posts } = await setup();
    const { calls, callback } = recorder();
    posts.subscribeOne(
      { aggregations: { views: { sum: "viewCount" } }, groupBy: ["tag"], orderBy: ["views", "desc"] },
      callback,
    );
    expect(calls.map((call) => call.data)).toEqual([{ tag: "news", views: 150 }]);
    await posts.create({ title: "g", tag: "tech", viewCount: 200, isDraft: false });
    expect(calls.map((call) => call.data)).toEqual([
      { tag: "news", views: 150 },
      { tag: "tech", views: 270 },
    ]);
    await posts.create({ title: "h", tag: "news", viewCount: 1, isDraft: false }); // the first row stays the same
    expect(calls).toHaveLength(2);
  });
});
