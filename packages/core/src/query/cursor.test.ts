import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createClock, hlcMillis } from "../hlc.js";
import { createSchema } from "../schema/create-schema.js";
import { t } from "../schema/t.js";
import { TripleStore } from "../store/triple-store.js";
import { checkLaw } from "../testing/law-seed.js";
import { CREATED_AT_FIELD } from "../triples.js";
import { cursorOf, keyedOfCursor } from "./cursor.js";
import { LiveQueryRegistry } from "./live-registry.js";
import { normalizeQuery } from "./normalize.js";
import type { Cursor, NormalizedQuery } from "./normalized-query.js";
import { runQuery } from "./run-query.js";

const schema = createSchema({
  entities: {
    items: {
      title: t.string({ fallback: "" }),
      score: t.number({ optional: true }),
      flag: t.boolean({ fallback: false }),
      seen: t.date({ optional: true }),
    },
  },
});

/** A document of the model, as read (missing optional fields absent). */
interface Item {
  title: string;
  score?: number | undefined;
  flag: boolean;
  seen?: number | undefined;
}
type SortField = "title" | "score" | "flag" | "seen" | "id";
type Order = Array<[SortField, "asc" | "desc"]>;

/** A store plus a plain model of it that the oracle reads. */
function setup() {
  const store = new TripleStore();
  const clock = createClock({ node: "test", wallClock: () => 1_700_000_000_000 });
  const registry = new LiveQueryRegistry(store);
  const model = new Map<string, Item>();
  const deleted = new Set<string>();
  const write = (id: string, item: Item) => {
    store.transact(() => {
      const hlc = clock.now();
      if (!model.has(id) && !deleted.has(id)) store.setField("items", id, CREATED_AT_FIELD, hlcMillis(hlc), hlc);
      for (const field of ["title", "score", "flag", "seen"] as const)
        store.setField("items", id, field, item[field] ?? null, clock.now());
    });
    if (!deleted.has(id)) model.set(id, item); // delete wins: a deleted document stays deleted
  };
  const remove = (id: string) => {
    store.delete("items", id, clock.now());
    model.delete(id);
    deleted.add(id);
  };
  return { store, registry, model, write, remove };
}

function normalize(query: unknown): NormalizedQuery {
  const normalized = normalizeQuery(schema.collections.items!, query);
  if (normalized.error) throw normalized.error;
  return normalized.data;
}

// ---- the oracle: the spec's order written out plainly ----

function rank(value: unknown): number {
  return value === undefined ? 0 : typeof value === "boolean" ? 1 : typeof value === "number" ? 2 : 3;
}

function compareValue(a: unknown, b: unknown): number {
  if (rank(a) !== rank(b)) return rank(a) - rank(b);
  if (a === undefined || a === b) return 0;
  return (a as number) < (b as number) ? -1 : 1;
}

/** Sort keys of a position: a document's values, or a cursor's (null meaning missing). */
function compareKeys(order: Order, a: { keys: unknown[]; id: string }, b: { keys: unknown[]; id: string }): number {
  for (let i = 0; i < order.length; i++) {
    const c = compareValue(a.keys[i], b.keys[i]);
    if (c !== 0) return order[i]![1] === "desc" ? -c : c;
  }
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function keysOf(order: Order, id: string, item: Item): { keys: unknown[]; id: string } {
  return { keys: order.map(([field]) => (field === "id" ? id : item[field])), id };
}

function fromCursor(cursor: Cursor): { keys: unknown[]; id: string } {
  return { keys: cursor.keys.map((key) => (key === null ? undefined : key)), id: cursor.id };
}

interface Page {
  ids: string[];
  total: number;
  before: number;
  after: number;
}

/** The page a query with cursors shows, computed from the model. */
function oraclePage(
  model: Map<string, Item>,
  order: Order,
  where: (item: Item) => boolean,
  query: NormalizedQuery,
): Page {
  const sorted = [...model]
    .filter(([, item]) => where(item))
    .map(([id, item]) => keysOf(order, id, item))
    .sort((a, b) => compareKeys(order, a, b));
  let start = 0;
  let end = sorted.length;
  if (query.after)
    start = sorted.filter((position) => compareKeys(order, position, fromCursor(query.after!)) <= 0).length;
  if (query.before)
    end = sorted.filter((position) => compareKeys(order, position, fromCursor(query.before!)) < 0).length;
  end = Math.max(start, end);
  const limit = query.limit ?? Infinity;
  if (end - start > limit) {
    if (query.before && !query.after) start = end - limit;
    else end = start + limit;
  }
  return {
    ids: sorted.slice(start, end).map((position) => position.id),
    total: sorted.length,
    before: start,
    after: sorted.length - end,
  };
}

// ---- generators ----

const idArb = fc.constantFrom("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l");
const itemArb: fc.Arbitrary<Item> = fc.record({
  title: fc.constantFrom("", "x", "y", "Y", "é"),
  score: fc.option(fc.constantFrom(-1, 0, 2, 2.5, 7), { nil: undefined }),
  flag: fc.boolean(),
  seen: fc.option(fc.constantFrom(0, 1_000, 86_400_000), { nil: undefined }),
});
const orderArb: fc.Arbitrary<Order> = fc.uniqueArray(
  fc.tuple(
    fc.constantFrom<SortField>("title", "score", "flag", "seen", "id"),
    fc.constantFrom<"asc" | "desc">("asc", "desc"),
  ),
  { maxLength: 3, selector: ([field]) => field },
);
const whereArb = fc.constantFrom<[unknown, (item: Item) => boolean]>(
  [undefined, () => true],
  [{ flag: true }, (item) => item.flag],
  [{ score: { isDefined: true } }, (item) => item.score !== undefined],
);
/** A cursor: a position of some (possibly absent) document, or made-up keys. */
function cursorArb(order: Order): fc.Arbitrary<Cursor> {
  return fc.tuple(idArb, itemArb).map(([id, item]) => {
    const { keys } = keysOf(order, id, item);
    return { keys: keys.map((key) => key ?? null), id };
  });
}
const pageQueryArb = orderArb.chain((order) =>
  fc.record({
    order: fc.constant(order),
    where: whereArb,
    limit: fc.option(fc.nat(5), { nil: undefined }),
    after: fc.option(cursorArb(order), { nil: undefined }),
    before: fc.option(cursorArb(order), { nil: undefined }),
  }),
);

function buildQuery(spec: {
  order: Order;
  where: [unknown, unknown];
  limit: number | undefined;
  after?: Cursor | undefined;
  before?: Cursor | undefined;
}) {
  const base = normalize({ fields: { id: true }, where: spec.where[0], orderBy: spec.order, limit: spec.limit });
  return {
    ...base,
    ...(spec.after ? { after: spec.after } : {}),
    ...(spec.before ? { before: spec.before } : {}),
  };
}

describe("cursors", () => {
  it("are plain JSON: missing keys become null and read back as missing", () => {
    const entry = { row: 3, id: "a", first: undefined, rest: [false, 0] };
    const cursor = cursorOf(entry, 3);
    expect(cursor).toEqual({ keys: [null, false, 0], id: "a" });
    expect(JSON.parse(JSON.stringify(cursor))).toEqual(cursor);
    expect(keyedOfCursor(cursor)).toEqual({ row: -1, id: "a", first: undefined, rest: [false, 0] });
    expect(cursorOf(entry, 3)).toBe(cursor);
    expect(cursorOf({ row: 1, id: "b", first: undefined, rest: [] }, 0)).toEqual({ keys: [], id: "b" });
  });
});

describe("runQuery with cursors", () => {
  it("returns the matches strictly after / before a cursor, limited from the cursor's side", () => {
    checkLaw(
      fc.property(fc.dictionary(idArb, itemArb), pageQueryArb, (items, spec) => {
        const { store, model, write } = setup();
        for (const [id, item] of Object.entries(items)) write(id, item);
        const query = buildQuery(spec);
        const expected = oraclePage(model, spec.order, spec.where[1], query);
        const table = store.table("items");
        const ids = table === undefined ? [] : runQuery(store, query).map((row) => table.idOf(row));
        expect(ids).toEqual(expected.ids);
      }),
      { numRuns: 400 },
    );
  });

  it("pages through a result in order with `after: last`, and back with `before: first`", () => {
    const { store, write } = setup();
    for (let i = 0; i < 50; i++)
      write(`d${String(i).padStart(2, "0")}`, { title: "", score: i % 7, flag: i % 3 === 0 });
    const base = normalize({ fields: { id: true, score: true }, orderBy: [["score", "desc"]], limit: 8 });
    const table = store.table("items")!;
    const all = runQuery(store, { ...base, limit: undefined }).map((row) => table.idOf(row));
    const keyOf = (id: string): Cursor => {
      const row = table.rowOf(id)!;
      return { keys: [table.get(row, "score") ?? null], id };
    };
    const forward: string[] = [];
    let page = runQuery(store, base).map((row) => table.idOf(row));
    while (page.length > 0) {
      forward.push(...page);
      page = runQuery(store, { ...base, after: keyOf(page.at(-1)!) }).map((row) => table.idOf(row));
    }
    expect(forward).toEqual(all);
    const backward: string[] = [];
    page = runQuery(store, { ...base, before: { keys: [null], id: "" } }).map((row) => table.idOf(row)); // undefined sorts last in desc
    expect(page).toEqual(all.slice(-8));
    while (page.length > 0) {
      backward.unshift(...page);
      page = runQuery(store, { ...base, before: keyOf(page[0]!) }).map((row) => table.idOf(row));
    }
    expect(backward).toEqual(all);
  });
});

describe("LiveQuery with cursors", () => {
  it("keeps its page and window equal to a fresh run through random writes", () => {
    const writeArb = fc.oneof(
      fc.record({ kind: fc.constant("write" as const), id: idArb, item: itemArb }),
      fc.record({ kind: fc.constant("delete" as const), id: idArb }),
    );
    checkLaw(
      fc.property(
        fc.dictionary(idArb, itemArb),
        pageQueryArb,
        fc.array(writeArb, { maxLength: 25 }),
        (items, spec, writes) => {
          const { registry, model, write, remove } = setup();
          for (const [id, item] of Object.entries(items)) write(id, item);
          const query = buildQuery(spec);
          const live = registry.acquire(query);
          const check = () => {
            const expected = oraclePage(model, spec.order, spec.where[1], query);
            expect(live.result.value.map((doc) => doc.id)).toEqual(expected.ids);
            const window = live.window.value;
            expect({ total: window.total, before: window.before, after: window.after }).toEqual({
              total: expected.total,
              before: expected.before,
              after: expected.after,
            });
            const positionOf = (id: string) => {
              const { keys } = keysOf(spec.order, id, model.get(id)!);
              return { keys: keys.map((key) => key ?? null), id };
            };
            expect(window.first).toEqual(expected.ids.length === 0 ? undefined : positionOf(expected.ids[0]!));
            expect(window.last).toEqual(expected.ids.length === 0 ? undefined : positionOf(expected.ids.at(-1)!));
          };
          check();
          for (const change of writes) {
            if (change.kind === "write") write(change.id, change.item);
            else if (model.has(change.id)) remove(change.id);
            check();
          }
          registry.release(live);
          registry.dispose();
        },
      ),
      { numRuns: 200 },
    );
  });

  it("notifies the window signal only when the window changed", () => {
    const { registry, write } = setup();
    for (const id of ["a", "b", "c", "d"]) write(id, { title: id, flag: false });
    const live = registry.acquire(normalize({ fields: { id: true }, orderBy: ["title", "asc"], limit: 2 }));
    const before = live.window.value;
    expect(before).toMatchObject({
      total: 4,
      before: 0,
      after: 2,
      first: { keys: ["a"], id: "a" },
      last: { keys: ["b"], id: "b" },
    });
    write("c", { title: "c", flag: true }); // a field the query does not depend on
    expect(live.window.value).toBe(before);
    write("e", { title: "e", flag: false });
    expect(live.window.value).toMatchObject({ total: 5, after: 3, first: before.first, last: before.last });
  });
});
