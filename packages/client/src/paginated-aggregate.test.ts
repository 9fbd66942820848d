import { createSchema, t } from "@trellis/core";
import { describe, expect, it } from "vitest";
import { createClient, type PaginatedState } from "./index.js";
import { createRandom, seedOf } from "./testing/fuzz-kit.js";

const schema = createSchema({
  entities: {
    sales: {
      region: t.string({ optional: true }),
      amount: t.number({ optional: true }),
      at: t.date({ optional: true }),
    },
  },
});

const SEED = seedOf(process.env.SEED, 0x6a_99e);

function setup() {
  const client = createClient({ schema });
  return { client, sales: client.database.sales };
}

/** Every state a controller delivers. */
function record<T>(subscribe: (listener: (state: PaginatedState<T>) => void) => () => void) {
  const states: PaginatedState<T>[] = [];
  const stop = subscribe((state) => states.push(state));
  return { states, stop, last: () => states.at(-1)! };
}

const byRegion = {
  aggregations: { n: { count: "*" }, total: { sum: "amount" }, latest: { max: "at" } },
  groupBy: ["region"],
  orderBy: [
    ["n", "desc"],
    ["latest", "asc"],
  ],
} as const;

type Row = { region: string | undefined; n: number; total: number; latest: Date | undefined };

describe("paginated aggregate queries", () => {
  it(`walks 200 groups 7 at a time forward and back, each exactly once and in order (seed ${SEED})`, async () => {
    const { sales } = setup();
    const random = createRandom(SEED);
    const documents = Array.from({ length: 1500 }, () => ({
      region: random.chance(0.02) ? undefined : `r${random.int(199)}`,
      amount: random.chance(0.1) ? undefined : random.int(100),
      at: random.chance(0.1) ? undefined : new Date(1_700_000_000_000 + random.int(50) * 1000),
    }));
    expect((await sales.createMany(documents, { returnDocuments: false })).error).toBeUndefined();
    const all = (await sales.query(byRegion)).data!;
    expect(all.length).toBeGreaterThan(150);
    const pageCount = Math.ceil(all.length / 7);

    const pages = sales.paginated({ ...byRegion, pageSize: 7 });
    const { last, stop } = record(pages.subscribe);
    const forward: Row[] = [];
    for (let page = 1; ; page++) {
      expect(last()).toMatchObject({
        currentPage: page,
        estimatedTotalPages: pageCount,
        estimatedTotalCount: all.length,
        hasPrevious: page > 1,
        hasNext: page < pageCount,
        loading: false,
        error: undefined,
      });
      forward.push(...last().data!);
      if (!last().hasNext) break;
      await pages.next();
    }
    expect(forward).toEqual(all);
    await pages.next(); // on the last page: nothing happens
    expect(last().currentPage).toBe(pageCount);

    const backward: Row[][] = [];
    for (;;) {
      backward.unshift([...last().data!]);
      if (!last().hasPrevious) break;
      await pages.previous();
    }
    expect(backward.flat()).toEqual(all);
    expect(last().currentPage).toBe(1);
    stop();
  });

  it("moves a group between pages as its aggregates change, and keeps the page's place among groups", async () => {
    const { sales } = setup();
    // Regions r0..r5 with 6..1 sales: ordered by count, r0 first.
    for (let region = 0; region < 6; region++) {
      await sales.createMany(Array.from({ length: 6 - region }, () => ({ region: `r${region}`, amount: 1 })));
    }
    const pages = sales.paginated({
      aggregations: { n: { count: "*" } },
      groupBy: ["region"],
      orderBy: ["n", "desc"],
      pageSize: 2,
    });
    const { last, stop } = record(pages.subscribe);
    const regions = () => last().data!.map((row) => row.region);
    expect(regions()).toEqual(["r0", "r1"]);
    await pages.next();
    expect(regions()).toEqual(["r2", "r3"]);
    expect(last()).toMatchObject({ currentPage: 2, estimatedTotalPages: 3, estimatedTotalCount: 6 });

    // r5 (1 sale, page 3) gains 9: it moves before the page, which keeps its cursor (after r1).
    await sales.createMany(Array.from({ length: 9 }, () => ({ region: "r5" })));
    expect(regions()).toEqual(["r2", "r3"]);
    expect(last()).toMatchObject({ currentPage: 3, hasPrevious: true, hasNext: true });
    await pages.previous();
    expect(regions()).toEqual(["r0", "r1"]);
    await pages.previous();
    expect(regions()).toEqual(["r5"]);
    expect(last()).toMatchObject({ currentPage: 1, hasPrevious: false });
    await pages.next();
    await pages.next();
    expect(regions()).toEqual(["r2", "r3"]);

    // r2 loses its sales: it leaves the page, and the next group moves up into it.
    await sales.deleteMany({ where: { region: "r2" } });
    expect(regions()).toEqual(["r3", "r4"]);
    expect(last()).toMatchObject({ estimatedTotalCount: 5, hasNext: false });

    // A new region with the most sales arrives before the page: the page stays, and says where it is.
    await sales.createMany(Array.from({ length: 20 }, () => ({ region: "r9" })));
    expect(regions()).toEqual(["r3", "r4"]);
    expect(last()).toMatchObject({ currentPage: 3, estimatedTotalCount: 6 });
    stop();
  });

  it("shows the last page when every group after its cursor goes, and the first when the page before does", async () => {
    const { sales } = setup();
    await sales.createMany(["a", "b", "c", "d", "e"].map((region) => ({ region })));
    const pages = sales.paginated({ groupBy: ["region"], orderBy: ["region", "asc"], pageSize: 2 });
    const { last, stop } = record(pages.subscribe);
    await pages.next();
    await pages.next();
    expect(last().data).toEqual([{ region: "e" }]);
    await sales.deleteMany({ where: { region: "e" } });
    expect(last()).toMatchObject({ data: [{ region: "c" }, { region: "d" }], currentPage: 2, hasNext: false });

    await pages.previous();
    expect(last().data).toEqual([{ region: "a" }, { region: "b" }]);
    await pages.next();
    await pages.previous(); // the page before "c": a and b
    await sales.deleteMany({ where: { region: { in: ["a", "b"] } } });
    expect(last()).toMatchObject({ data: [{ region: "c" }, { region: "d" }], currentPage: 1, hasPrevious: false });
    stop();
  });

  it("pages through one row without groupBy, and answers getCurrentState and next() unsubscribed", async () => {
    const { sales } = setup();
    await sales.createMany([{ amount: 2 }, { amount: 3 }]);
    const single = sales.paginated({ aggregations: { total: { sum: "amount" } }, pageSize: 5 });
    expect(single.getCurrentState()).toMatchObject({ data: [{ total: 5 }], estimatedTotalCount: 1, hasNext: false });

    await sales.createMany(["x", "y", "z"].map((region) => ({ region })));
    const pages = sales.paginated({ groupBy: ["region"], orderBy: ["region", "desc"], pageSize: 2 });
    expect(pages.getCurrentState().data).toEqual([{ region: "z" }, { region: "y" }]);
    await pages.next();
    expect(pages.getCurrentState()).toMatchObject({ data: [{ region: "x" }, { region: undefined }], currentPage: 2 });
  });

  it("refuses pageSize with limit, fields with aggregations, and unknown orderBy names", async () => {
    const { sales } = setup();
    const errorOf = (input: unknown) => sales.paginated(input as never).getCurrentState().error;
    expect(errorOf({ groupBy: ["region"], pageSize: 2, limit: 2 })).toMatchObject({ code: "VALIDATION" });
    expect(errorOf({ groupBy: ["region"], fields: { region: true }, pageSize: 2 })).toMatchObject({
      code: "VALIDATION",
    });
    expect(errorOf({ groupBy: ["region"], orderBy: ["amount", "asc"], pageSize: 2 })?.message).toMatch(
      /neither a groupBy field nor an aggregate/,
    );
  });
});
