import { createSchema, t } from "@trellis/core";
import { describe, expect, it } from "vitest";
import { PRELOAD_TRANSPORTS } from "./testing/preload-transports.js";
import { createClient, type PaginatedState, type PreloadData } from "./index.js";

const schema = createSchema({
  entities: {
    posts: {
      tag: t.string({ optional: true }),
      views: t.number({ optional: true }),
      publishedAt: t.date({ optional: true }),
    },
  },
});

const DAY = 86_400_000;
const AT = (day: number) => new Date(1_700_000_000_000 + day * DAY);

async function setup(appId = "blog") {
  const client = createClient({ schema, appId });
  const posts = client.database.posts;
  const created = await posts.createMany([
    { tag: "a", views: 10, publishedAt: AT(1) },
    { tag: "a", views: 5, publishedAt: AT(3) },
    { tag: "b", views: 7, publishedAt: AT(2) },
    { tag: undefined, views: undefined },
  ]);
  if (created.error) throw created.error;
  return { client, posts };
}

type Call = { data: unknown; error: unknown; loading: boolean; hasSynced: boolean };
function recorder() {
  const calls: Call[] = [];
  return {
    calls,
    callback: (data: unknown, error: unknown, loading: boolean, hasSynced: boolean) =>
      calls.push({ data, error, loading, hasSynced }),
  };
}

const byTag = {
  aggregations: { n: { count: "*" }, views: { sum: "views" }, avg: { avg: "views" }, last: { max: "publishedAt" } },
  groupBy: ["tag"],
  orderBy: ["n", "desc"],
} as const;

const rows = [
  { tag: "a", n: 2, views: 15, avg: 7.5, last: AT(3) },
  { tag: undefined, n: 1, views: 0, avg: undefined, last: undefined },
  { tag: "b", n: 1, views: 7, avg: 7, last: AT(2) },
];

describe("preloading aggregate queries", () => {
  it("carries the aggregate rows in plain form, the aggregate query, and neither cursor nor triples", async () => {
    const { posts } = await setup();
    const { data: preloaded, error } = await posts.preload(byTag);
    expect(error).toBeUndefined();
    expect(preloaded).toMatchObject({
      kind: "many",
      appId: "blog",
      collection: "posts",
      query: { collection: "posts", groupBy: ["tag"], orderBy: [["n", "desc"]] },
      page: null,
      cursor: null,
      triples: [],
    });
    expect(preloaded!.data).toEqual([
      { tag: "a", n: 2, views: 15, avg: 7.5, last: AT(3).getTime() },
      { n: 1, views: 0 },
      { tag: "b", n: 1, views: 7, avg: 7, last: AT(2).getTime() },
    ]);
  });

  for (const [name, carry] of PRELOAD_TRANSPORTS) {
    it(`through ${name}, subscribe starts from the rows (Dates restored) and a client with the data stays live`, async () => {
      const { posts } = await setup();
      const preloaded = carry((await posts.preload(byTag)).data!);
      const { calls, callback } = recorder();
      posts.subscribe(preloaded, callback);
      // The live rows read the same: one call only.
      expect(calls).toEqual([{ data: rows, error: undefined, loading: false, hasSynced: true }]);
      expect((calls[0]!.data as Array<{ last?: Date }>)[0]!.last).toBeInstanceOf(Date);
      await posts.create({ tag: "b", views: 1 });
      expect(calls).toHaveLength(2);
      expect(calls[1]!.data).toEqual([rows[0], { tag: "b", n: 2, views: 8, avg: 4, last: AT(2) }, rows[1]]);
    });
  }

  it("a client without the documents shows the preloaded rows, then its own live rows", async () => {
    const { posts } = await setup();
    const preloaded = (await posts.preload({ aggregations: { n: { count: "*" } } })).data!;
    const browser = createClient({ schema, appId: "blog" }).database.posts;
    const { calls, callback } = recorder();
    browser.subscribe(preloaded, callback);
    expect(calls.map((call) => call.data)).toEqual([[{ n: 4 }], [{ n: 0 }]]);
    await browser.create({ tag: "c" });
    expect(calls.at(-1)!.data).toEqual([{ n: 1 }]);
  });

  it("preloadOne carries the first row for subscribeOne", async () => {
    const { posts } = await setup();
    const preloaded = (await posts.preloadOne(byTag)).data!;
    expect(preloaded).toMatchObject({ kind: "one", query: { limit: 1 }, data: [{ tag: "a", n: 2 }] });
    const { calls, callback } = recorder();
    posts.subscribeOne(preloaded, callback);
    expect(calls).toEqual([{ data: rows[0], error: undefined, loading: false, hasSynced: true }]);
    await posts.createMany([{ tag: "b" }, { tag: "b" }]);
    expect(calls.at(-1)!.data).toMatchObject({ tag: "b", n: 3 });
  });

  it("preloadPaginated carries the first page of groups and the number of groups; paginated continues it", async () => {
    const { posts } = await setup();
    const preloaded = (await posts.preloadPaginated({ ...byTag, pageSize: 2 })).data!;
    expect(preloaded).toMatchObject({ kind: "paginated", page: { pageSize: 2, totalCount: 3 }, query: { limit: 2 } });
    const pages = posts.paginated(JSON.parse(JSON.stringify(preloaded)) as typeof preloaded);
    const states: PaginatedState<unknown>[] = [];
    const stop = pages.subscribe((state) => states.push(state));
    expect(states).toEqual([
      {
        data: rows.slice(0, 2),
        currentPage: 1,
        estimatedTotalPages: 2,
        estimatedTotalCount: 3,
        hasNext: true,
        hasPrevious: false,
        loading: false,
        hasSynced: true,
        error: undefined,
      },
    ]);
    await pages.next();
    expect(states.at(-1)).toMatchObject({ data: [rows[2]], currentPage: 2, hasNext: false, hasPrevious: true });
    stop();
  });

  it("refuses aggregate preloads that were tampered with", async () => {
    const { posts } = await setup();
    const preloaded = (await posts.preload(byTag)).data!;
    const refused = (input: unknown) => {
      const { calls, callback } = recorder();
      posts.subscribe(input as PreloadData<unknown, "many">, callback);
      expect(calls).toHaveLength(1);
      expect(calls[0]!.error).toMatchObject({ code: "VALIDATION" });
      return (calls[0]!.error as Error).message;
    };
    const firstRow = preloaded.data[0]!;
    expect(refused({ ...preloaded, data: [{ ...firstRow, n: "2" }] })).toMatch(/data\[0\]\.n/);
    expect(refused({ ...preloaded, data: [{ ...firstRow, last: "yesterday" }] })).toMatch(/data\[0\]\.last/);
    expect(refused({ ...preloaded, data: [{ ...firstRow, tag: 1 }] })).toMatch(/data\[0\]\.tag/);
    expect(refused({ ...preloaded, data: [{ ...firstRow, title: "x" }] })).toMatch(/not selected/);
    expect(refused({ ...preloaded, cursor: "c1" })).toMatch(/sync cursor/);
    const query = preloaded.query as unknown as Record<string, unknown>;
    expect(
      refused({ ...preloaded, query: { ...query, aggregations: [{ name: "n", fn: "median", field: null }] } }),
    ).toMatch(/schema rejects/);
    expect(refused({ ...preloaded, query: { ...query, groupBy: [] } })).toMatch(/does not match this client's schema/);
    const ungrouped = (await posts.preload({ aggregations: { n: { count: "*" } } })).data!;
    expect(refused({ ...ungrouped, data: [{ n: 4, tag: "a" }] })).toMatch(/data\[0\]\.tag is not selected/);
    expect(refused({ ...preloaded, query: { ...query, limit: 1 } })).toMatch(/more rows than its query's limit/);
  });

  it("returns VALIDATION errors for invalid aggregate queries", async () => {
    const { posts } = await setup();
    const bad = { aggregations: { n: { count: "*" } }, orderBy: ["views", "asc"] } as never;
    expect((await posts.preload(bad)).error).toMatchObject({ code: "VALIDATION" });
    expect((await posts.preloadPaginated({ ...byTag, pageSize: 0 })).error).toMatchObject({ code: "VALIDATION" });
    expect((await posts.preloadPaginated({ ...byTag, pageSize: 2, limit: 3 } as never)).error).toMatchObject({
      code: "VALIDATION",
    });
  });
});
