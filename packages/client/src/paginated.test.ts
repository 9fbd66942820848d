import { createClock, createSchema, LiveQueryRegistry, t, TripleStore, LocalWriter } from "@trellis/core";
import { describe, expect, it, vi } from "vitest";
import { createClient, type PaginatedState } from "./index.js";
import { PaginatedQuery } from "./paginated.js";
import { QueryService } from "./query-service.js";
import { createRandom, seedOf } from "./testing/fuzz-kit.js";

const schema = createSchema({
  entities: {
    items: {
      name: t.string({ fallback: "" }),
      score: t.number({ optional: true }),
      at: t.date({ optional: true }),
    },
  },
});

const SEED = seedOf(process.env.SEED, 0x9a6e_17);

/** A client whose ids are seeded and shuffled, so id order is not creation order. */
function setup(seed = SEED) {
  const random = createRandom(seed);
  let counter = 0;
  const generateId = () => `${random.int(1e9).toString(36).padStart(6, "0")}-${(counter++).toString(36)}`;
  const client = createClient({ schema, generateId });
  return { client, items: client.database.items, random };
}

async function fill(items: ReturnType<typeof setup>["items"], count: number, score: (i: number) => number | undefined) {
  for (let i = 0; i < count; i++) {
    const created = await items.create({ name: `n${i}`, score: score(i), at: new Date(1_700_000_000_000 + i * 1000) });
    if (created.error) throw created.error;
  }
}

/** Every state a controller delivers. */
function record<T>(subscribe: (listener: (state: PaginatedState<T>) => void) => () => void) {
  const states: PaginatedState<T>[] = [];
  const stop = subscribe((state) => states.push(state));
  return { states, stop, last: () => states.at(-1)! };
}

describe("paginated", () => {
  it("walks 1,000 documents 17 at a time forward and back, each exactly once and in order", async () => {
    const { items, random } = setup();
    await fill(items, 1000, () => (random.chance(0.1) ? undefined : random.int(50)));
    const query = {
      fields: { id: true, name: true, score: true },
      orderBy: [
        ["score", "desc"],
        ["name", "asc"],
      ],
    } as const;
    const all = (await items.query(query)).data!.map((doc) => doc.id);
    const pages = items.paginated({ ...query, pageSize: 17 });
    const { last, stop } = record(pages.subscribe);

    const forward: string[] = [];
    for (let page = 1; ; page++) {
      const state = last();
      expect(state).toMatchObject({
        currentPage: page,
        estimatedTotalPages: 59,
        estimatedTotalCount: 1000,
        hasPrevious: page > 1,
        hasNext: page < 59,
        loading: false,
        error: undefined,
      });
      expect(state.data).toHaveLength(page < 59 ? 17 : 1000 - 58 * 17);
      forward.push(...state.data!.map((doc) => doc.id));
      if (!state.hasNext) break;
      await pages.next();
    }
    expect(forward).toEqual(all);

    await pages.next(); // on the last page: nothing happens
    expect(last().currentPage).toBe(59);

    const backward: string[][] = [];
    for (let page = 59; ; page--) {
      const state = last();
      expect(state).toMatchObject({
        currentPage: page,
        estimatedTotalPages: 59,
        hasPrevious: page > 1,
        hasNext: page < 59,
      });
      backward.unshift(state.data!.map((doc) => doc.id));
      if (!state.hasPrevious) break;
      await pages.previous();
    }
    expect(backward.flat()).toEqual(all);
    // Going back ends on a first page that is exactly the first page of the walk.
    expect(backward[0]).toEqual(all.slice(0, 17));
    stop();
  });

  it("neither skips nor repeats documents that stayed put while others are inserted and deleted between page turns", async () => {
    const { items, random } = setup();
    await fill(items, 1000, () => random.int(300));
    const query = { fields: { id: true, score: true }, orderBy: ["score", "asc"] } as const;
    const initial = (await items.query(query)).data!.map((doc) => doc.id);
    const touched = new Set<string>();
    const live = new Set(initial);
    let created = 0;
    const churn = async () => {
      for (let i = random.int(4); i > 0; i--) {
        const doc = await items.create({ name: `new${created++}`, score: random.int(300) });
        live.add(doc.data!.id);
      }
      for (let i = random.int(4); i > 0; i--) {
        const id = random.pick([...live]);
        await items.delete(id);
        live.delete(id);
        touched.add(id);
      }
      if (random.chance(0.5)) {
        // Moves a document elsewhere in the order.
        const id = random.pick([...live]);
        await items.update({ id, fields: { score: random.int(300) } });
        touched.add(id);
      }
    };
    const pages = items.paginated({ ...query, pageSize: 17 });
    const { stop } = record(pages.subscribe);

    const walk = async (
      turn: () => Promise<void>,
      hasMore: (state: PaginatedState<{ id: string; score: number | undefined }>) => boolean,
    ) => {
      const seen: string[][] = [];
      for (;;) {
        await churn();
        const state = pages.getCurrentState();
        const ids = state.data!.map((doc) => doc.id);
        expect(ids.length).toBeGreaterThan(0);
        // Each page is a contiguous run of the order as it is now.
        const now = (await items.query(query)).data!.map((doc) => doc.id);
        const start = now.indexOf(ids[0]!);
        expect(now.slice(start, start + ids.length)).toEqual(ids);
        seen.push(ids);
        if (!hasMore(state)) return seen;
        await turn();
      }
    };
    const stayedPut = () => initial.filter((id) => !touched.has(id));

    const forward = (await walk(pages.next, (state) => state.hasNext)).flat();
    const forwardStayed = forward.filter((id) => stayedPut().includes(id));
    expect(forwardStayed, `[SEED=${SEED}] forward walk`).toEqual(stayedPut());

    const backward = (await walk(pages.previous, (state) => state.hasPrevious)).reverse().flat();
    const backwardStayed = backward.filter((id) => stayedPut().includes(id));
    expect(backwardStayed, `[SEED=${SEED}] backward walk`).toEqual(stayedPut());
    expect(touched.size, "the walk changed documents").toBeGreaterThan(50);
    stop();
  });

  it("keeps pages live: an edit, an insert and a delete on the current page are delivered", async () => {
    const { items } = setup();
    await fill(items, 40, (i) => i);
    const pages = items.paginated({ fields: { name: true, score: true }, orderBy: ["score", "asc"], pageSize: 10 });
    const { states, last, stop } = record(pages.subscribe);
    await pages.next();
    expect(last().data!.map((doc) => doc.score)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    const before = states.length;

    const eleven = (await items.queryOne({ where: { score: 11 } })).data!;
    await items.update({ id: eleven.id, fields: { name: "eleven" } });
    expect(states).toHaveLength(before + 1);
    expect(last().data![1]).toEqual({ name: "eleven", score: 11 });

    await items.create({ name: "x", score: 12.5 }); // sorts into this page: 19 moves to the next
    expect(last().data!.map((doc) => doc.score)).toEqual([10, 11, 12, 12.5, 13, 14, 15, 16, 17, 18]);
    expect(last()).toMatchObject({ currentPage: 2, estimatedTotalCount: 41, estimatedTotalPages: 5, hasNext: true });

    await items.delete(eleven.id);
    expect(last().data!.map((doc) => doc.score)).toEqual([10, 12, 12.5, 13, 14, 15, 16, 17, 18, 19]);

    const count = states.length;
    await items.create({ name: "y", score: 100 }); // after this page: only the estimates change
    expect(states).toHaveLength(count + 1);
    expect(last().data).toBe(states[count - 1]!.data);
    expect(last()).toMatchObject({ estimatedTotalCount: 41, estimatedTotalPages: 5 });
    const settled = states.length;
    await items.create({ name: "z", score: 101 });
    expect(states.length).toBe(settled + 1);
    expect(last()).toMatchObject({ estimatedTotalCount: 42, estimatedTotalPages: 5 });
    stop();
  });

  it("does not shift a page when documents are inserted before it (keyset, not offset)", async () => {
    const { items } = setup();
    await fill(items, 30, (i) => i * 10);
    const pages = items.paginated({ fields: { score: true }, orderBy: ["score", "asc"], pageSize: 10 });
    const { last, stop } = record(pages.subscribe);
    await pages.next();
    const shown = last().data;
    for (let i = 0; i < 5; i++) await items.create({ name: "early", score: -1 - i });
    expect(last().data).toEqual(shown);
    expect(last()).toMatchObject({ currentPage: 3, hasPrevious: true, estimatedTotalCount: 35 }); // 15 documents before it now
    // The page before it: the 10 documents just before its first one.
    await pages.previous();
    expect(last().data!.map((doc) => doc.score)).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
    expect(last()).toMatchObject({ currentPage: 2, hasPrevious: true });
    await pages.previous();
    expect(last().data!.map((doc) => doc.score)).toEqual([-5, -4, -3, -2, -1]);
    expect(last()).toMatchObject({ currentPage: 1, hasPrevious: false, hasNext: true });
    stop();
  });

  it("switches pages at once from the prefetched neighbours", async () => {
    const { items } = setup();
    await fill(items, 25, (i) => i);
    const pages = items.paginated({ fields: { score: true }, orderBy: ["score", "asc"], pageSize: 10 });
    const { last, stop } = record(pages.subscribe);
    const turned = pages.next();
    // Shown before the promise settles: no waiting on anything.
    expect(last()).toMatchObject({ currentPage: 2 });
    expect(last().data![0]).toEqual({ score: 10 });
    await turned;
    void pages.next();
    expect(last().data!.map((doc) => doc.score)).toEqual([20, 21, 22, 23, 24]);
    void pages.previous();
    expect(last().data![0]).toEqual({ score: 10 });
    stop();
  });

  it("keeps the neighbouring pages live, reuses them on a page turn, and does not re-create them on writes", () => {
    const store = new TripleStore();
    const registry = new LiveQueryRegistry(store);
    let counter = 0;
    const writer = new LocalWriter(
      schema,
      store,
      createClock({ node: "n" }),
      undefined,
      () => `id${String(counter++).padStart(3, "0")}`,
    );
    const queries = new QueryService(schema, store, registry, "app");
    for (let i = 0; i < 50; i++) writer.create("items", { name: `n${i}`, score: i });
    const pages = PaginatedQuery.create(queries, registry, "items", {
      fields: { score: true },
      orderBy: ["score", "asc"],
      pageSize: 10,
    });
    const acquire = vi.spyOn(registry, "acquire");
    const stop = pages.subscribe(() => {});
    expect(registry.size).toBe(2); // the first page and the next one
    expect(acquire).toHaveBeenCalledTimes(2);

    void pages.next();
    expect(registry.size).toBe(3); // previous, current (the prefetched one) and next
    const created = acquire.mock.results.map((result) => result.value);
    expect(created[2]).toBe(created[1]); // the new current page is the prefetched next page

    acquire.mockClear();
    writer.create("items", { name: "edge", score: 19.5 }); // joins the end of the current page
    writer.create("items", { name: "start", score: 9.5 }); // joins the start of the current page
    expect(pages.getCurrentState().data!.map((doc) => doc.score)).toEqual([9.5, 10, 11, 12, 13, 14, 15, 16, 17, 18]);
    expect(acquire).not.toHaveBeenCalled();
    expect(registry.size).toBe(3);

    stop();
    expect(registry.size).toBe(0);
  });

  it("falls back to the previous page when the current page empties, and to the first page from there", async () => {
    const { items } = setup();
    await fill(items, 40, (i) => i);
    const pages = items.paginated({ fields: { id: true, score: true }, orderBy: ["score", "asc"], pageSize: 17 });
    const { last, stop } = record(pages.subscribe);
    await pages.next();
    await pages.next();
    expect(last().data!.map((doc) => doc.score)).toEqual([34, 35, 36, 37, 38, 39]);

    await items.deleteMany({ where: { score: { greaterThanOrEqual: 34 } } });
    expect(last().data!.map((doc) => doc.score)).toEqual(Array.from({ length: 17 }, (_, i) => 17 + i));
    expect(last()).toMatchObject({
      currentPage: 2,
      estimatedTotalPages: 2,
      estimatedTotalCount: 34,
      hasNext: false,
      hasPrevious: true,
    });

    // This page now ends before a cursor; once everything before that cursor is gone, the first page shows.
    await pages.previous();
    expect(last()).toMatchObject({ currentPage: 1, hasPrevious: false });
    await items.deleteMany({ where: { score: { lessThan: 17 } } });
    expect(last().data!.map((doc) => doc.score)).toEqual(Array.from({ length: 17 }, (_, i) => 17 + i));
    expect(last()).toMatchObject({ currentPage: 1, hasPrevious: false, hasNext: false });

    await items.deleteMany({});
    expect(last()).toMatchObject({
      data: [],
      currentPage: 1,
      estimatedTotalPages: 1,
      estimatedTotalCount: 0,
      hasNext: false,
      hasPrevious: false,
    });
    await items.create({ name: "again", score: 5 });
    expect(last().data).toEqual([{ id: expect.any(String), score: 5 }]);
    stop();
  });

  it("works without subscribers: getCurrentState, next and previous read the store on demand", async () => {
    const { items } = setup();
    await fill(items, 30, (i) => i);
    const pages = items.paginated({ fields: { score: true }, orderBy: ["score", "desc"], pageSize: 12 });
    const first = pages.getCurrentState();
    expect(first).toMatchObject({ currentPage: 1, estimatedTotalPages: 3, hasNext: true, loading: false });
    expect(pages.getCurrentState()).toBe(first); // unchanged data: the same state object
    await pages.next();
    await pages.next();
    expect(pages.getCurrentState().data!.map((doc) => doc.score)).toEqual([5, 4, 3, 2, 1, 0]);
    await pages.previous();
    expect(pages.getCurrentState()).toMatchObject({ currentPage: 2, hasNext: true, hasPrevious: true });
    const { states, stop } = record(pages.subscribe);
    expect(states).toHaveLength(1);
    expect(states[0]!.data![0]).toEqual({ score: 17 });
    stop();
  });

  it("keeps each subscriber to one call per change and stops following when the last one leaves", async () => {
    const { items } = setup();
    await fill(items, 5, (i) => i);
    const pages = items.paginated({ fields: { score: true }, orderBy: ["score", "asc"], pageSize: 2 });
    const a = record(pages.subscribe);
    const b = record(pages.subscribe);
    await items.create({ name: "first", score: -1 });
    expect(a.states).toHaveLength(2);
    expect(b.states).toHaveLength(2);
    a.stop();
    a.stop(); // twice is harmless
    await items.create({ name: "earlier", score: -2 });
    expect(a.states).toHaveLength(2);
    expect(b.states).toHaveLength(3);
    b.stop();
    await items.create({ name: "earliest", score: -3 });
    expect(b.states).toHaveLength(3);
    expect(pages.getCurrentState().data).toEqual([{ score: -3 }, { score: -2 }]);
  });

  it("reports invalid paginated queries as VALIDATION errors in the state", async () => {
    const { items } = setup();
    const listener = vi.fn();
    const cases: unknown[] = [
      {},
      { pageSize: 0 },
      { pageSize: 2.5 },
      { pageSize: 10, limit: 5 },
      { pageSize: 10, where: { nope: 1 } },
      null,
    ];
    for (const input of cases) {
      const pages = items.paginated(input as never);
      const stop = pages.subscribe(listener);
      expect(listener).toHaveBeenLastCalledWith(
        expect.objectContaining({
          data: undefined,
          loading: false,
          error: expect.objectContaining({ code: "VALIDATION" }),
        }),
      );
      await pages.next();
      stop();
    }
    expect(() => items.paginated({ pageSize: 1 }).subscribe(undefined as never)).toThrow(TypeError);
  });

  it("pages by id when the query has no order", async () => {
    const { items } = setup();
    await fill(items, 7, (i) => i);
    const ids = (await items.query({ fields: { id: true } })).data!.map((doc) => doc.id);
    const pages = items.paginated({ fields: { id: true }, pageSize: 3 });
    const seen: string[] = [];
    for (;;) {
      const state = pages.getCurrentState();
      seen.push(...state.data!.map((doc) => doc.id));
      if (!state.hasNext) break;
      await pages.next();
    }
    expect(seen).toEqual([...ids].sort());
  });
});
