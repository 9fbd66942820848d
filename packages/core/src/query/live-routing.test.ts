import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createClock, hlcMillis } from "../hlc.js";
import { createSchema } from "../schema/create-schema.js";
import { t } from "../schema/t.js";
import { checkLaw } from "../testing/law-seed.js";
import { createRng, type Rng } from "../testing/sql-oracle.js";
import { TripleStore } from "../store/triple-store.js";
import { CREATED_AT_FIELD } from "../triples.js";
import { LiveQueryRegistry } from "./live-registry.js";
import { compileMaterializer } from "./materialize.js";
import { rangeRouteOf } from "./live-view.js";
import { normalizeQuery } from "./normalize.js";
import { runQuery } from "./run-query.js";

/**
 * Live queries routed by ranges and keeping only their first matches, against fresh runs: random
 * intervals with values on and around their bounds, fields missing or holding the wrong type,
 * rows moving between ranges alone or many at once, deleted and created, several per transaction. After every
 * transaction each live query must show what a fresh run shows (the documents' fields included),
 * and count what it counts.
 */

const schema = createSchema({
  entities: {
    items: {
      n: t.number({ fallback: 0 }),
      m: t.number({ optional: true }),
      d: t.date({ optional: true }),
      tag: t.string({ fallback: "" }),
    },
  },
});

const VALUES = [-1, 0, 0.5, 1, 2, 3, 5];
const TAGS = ["a", "b", ""];
const RANGE_FIELDS = ["n", "m", "d"] as const;
const BOUNDS = ["greaterThan", "greaterThanOrEqual", "lessThan", "lessThanOrEqual"] as const;

type Random = Rng;

function randomQuery(random: Random): Record<string, unknown> {
  const field = random.pick(RANGE_FIELDS);
  const range: Record<string, unknown> = {};
  const boundCount = 1 + random.int(0, 2);
  for (let i = 0; i < boundCount; i++) {
    const value = random.pick(VALUES);
    range[random.pick(BOUNDS)] = field === "d" ? new Date(value * 1000) : value;
  }
  const where: Record<string, unknown> = { [field]: range };
  if (random.chance(0.5)) where.tag = random.pick(TAGS);
  // Fields it neither filters nor sorts by are shown too: a change to them must reach a shown row.
  const query: Record<string, unknown> = { fields: { id: true, n: true, tag: true }, where };
  if (random.chance(0.7)) query.orderBy = [random.pick(["n", "m", "d", "createdAt"]), random.pick(["asc", "desc"])];
  if (random.chance(0.7)) query.limit = 1 + random.int(0, 3);
  return query;
}

/** A value for a field: usually of its type, sometimes missing or of another type. */
function randomValue(random: Random, field: string): unknown {
  if (random.chance(0.1)) return null;
  if (random.chance(0.05)) return "wrong";
  if (field === "tag") return random.pick(TAGS);
  const value = random.pick(VALUES);
  return field === "d" ? value * 1000 : value;
}

function runScenario(seed: number): void {
  const random = createRng(seed);
  const store = new TripleStore();
  let wallMs = 1_700_000_000_000;
  const clock = createClock({ node: "test", wallClock: () => wallMs });
  const registry = new LiveQueryRegistry(store);
  const spec = schema.collections.items!;
  const normalize = (query: unknown) => {
    const normalized = normalizeQuery(spec, query);
    if (normalized.error) throw normalized.error;
    return normalized.data;
  };
  const ids: string[] = [];
  const create = () => {
    const id = `i${ids.length}`;
    ids.push(id);
    const hlc = clock.now();
    store.setField("items", id, CREATED_AT_FIELD, hlcMillis(hlc), hlc);
    for (const field of ["n", "m", "d", "tag"])
      store.setField("items", id, field, randomValue(random, field), clock.now());
  };
  store.transact(() => {
    for (let i = 0; i < 80; i++) create();
  });
  const queries = Array.from({ length: 25 }, () => normalize(randomQuery(random)));
  const lives = queries.map((query) => registry.acquire(query));
  for (let step = 0; step < 100; step++) {
    wallMs += random.int(0, 2);
    store.transact(() => {
      if (random.chance(0.1)) {
        // Many rows move together: first-matches queries run short of entries and fill up again.
        const field = random.pick(["n", "m", "d", "tag"]);
        const value = randomValue(random, field);
        for (let i = 0; i < 25; i++) store.setField("items", random.pick(ids), field, value, clock.now());
        return;
      }
      const changes = 1 + random.int(0, 2);
      for (let i = 0; i < changes; i++) {
        const roll = random.int(0, 9);
        if (roll === 0) create();
        else if (roll === 1) store.delete("items", random.pick(ids), clock.now());
        else {
          const field = random.pick(["n", "m", "d", "tag"]);
          store.setField("items", random.pick(ids), field, randomValue(random, field), clock.now());
        }
      }
    });
    queries.forEach((query, index) => {
      const live = lives[index]!;
      const table = store.table("items")!;
      const materialize = compileMaterializer(query);
      const expected = runQuery(store, query).map((row) => materialize(table, row));
      const shown = live.result.value;
      const total = runQuery(store, { ...query, limit: undefined }).length;
      const context = `seed ${seed}, step ${step}, query ${JSON.stringify(query.where)} ${JSON.stringify(query.orderBy)} limit ${query.limit}`;
      expect(shown, context).toEqual(expected);
      expect(live.window.value.total, context).toBe(total);
    });
  }
}

describe("range routes and first-matches live queries", () => {
  it("keep every live query equal to a fresh run through random writes", () => {
    checkLaw(
      fc.property(fc.integer(), (seed) => runScenario(seed)),
      { numRuns: 10 },
    );
  });

  it("route by the interval the bounds of one field leave, bounds included or not", () => {
    const normalize = (where: unknown) => {
      const normalized = normalizeQuery(schema.collections.items!, { where });
      if (normalized.error) throw normalized.error;
      return normalized.data;
    };
    const route = (where: unknown) => {
      const query = normalize(where);
      const { field, low, isLowIncluded, high, isHighIncluded } = rangeRouteOf(query.where, query.specs) ?? {};
      return { field, low, isLowIncluded, high, isHighIncluded };
    };
    expect(route({ n: { greaterThan: 1, greaterThanOrEqual: 1, lessThanOrEqual: 5, lessThan: 9 } })).toEqual({
      field: "n",
      low: 1,
      isLowIncluded: false,
      high: 5,
      isHighIncluded: true,
    });
    expect(route({ tag: "a", m: { lessThan: 2 }, n: { greaterThan: 0 } })).toEqual({
      field: "m",
      low: -Infinity,
      isLowIncluded: true,
      high: 2,
      isHighIncluded: false,
    });
    expect(route({ d: { greaterThanOrEqual: new Date(5000) } })).toMatchObject({ field: "d", low: 5000 });
    // Strings, `or` branches and `updatedAt` do not route by range.
    expect(route({ tag: { greaterThan: "a" } }).field).toBeUndefined();
    expect(route({ or: [{ n: { greaterThan: 1 } }, { n: { lessThan: 0 } }] }).field).toBeUndefined();
    expect(route({ updatedAt: { greaterThan: new Date(0) } }).field).toBeUndefined();
  });

  it("visits only the live queries whose range holds a changed row's value before or after", () => {
    const store = new TripleStore();
    const clock = createClock({ node: "test", wallClock: () => 1_700_000_000_000 });
    const registry = new LiveQueryRegistry(store);
    const spec = schema.collections.items!;
    const acquire = (where: unknown) => {
      const normalized = normalizeQuery(spec, { where });
      if (normalized.error) throw normalized.error;
      return registry.acquire(normalized.data);
    };
    store.setField("items", "x", "n", 1, clock.now());
    const low = acquire({ n: { lessThan: 2 } });
    const middle = acquire({ n: { greaterThanOrEqual: 2, lessThanOrEqual: 4 } });
    const high = acquire({ n: { greaterThan: 4 } });
    const heard = new Map([low, middle, high].map((view) => [view, 0]));
    for (const view of heard.keys()) {
      const apply = view.apply.bind(view);
      const applyMembership = view.applyMembership.bind(view);
      view.apply = (...args) => {
        heard.set(view, heard.get(view)! + 1);
        apply(...args);
      };
      view.applyMembership = (...args) => {
        heard.set(view, heard.get(view)! + 1);
        return applyMembership(...args);
      };
    }
    store.setField("items", "x", "n", 3, clock.now()); // from low's range into middle's
    expect([...heard.values()]).toEqual([1, 1, 0]);
    store.setField("items", "x", "m", 7, clock.now()); // n unchanged: only middle holds 3
    expect([...heard.values()]).toEqual([1, 2, 0]);
    expect(middle.result.value.map((doc) => doc.id)).toEqual(["x"]);
  });
});
