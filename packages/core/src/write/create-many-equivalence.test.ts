import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createClock } from "../hlc.js";
import { createSchema } from "../schema/create-schema.js";
import { t } from "../schema/t.js";
import { checkLaw } from "../testing/law-seed.js";
import { TripleStore } from "../store/triple-store.js";
import type { Triple } from "../triples.js";
import { LocalWriter } from "./local-writer.js";

const schema = createSchema({
  entities: {
    notes: {
      text: t.string({ fallback: "" }),
      count: t.number({ optional: true }),
      done: t.boolean({ fallback: false }),
      due: t.date({ fallback: "now" }),
      meta: t.json({ optional: true }),
    },
    tagged: {
      name: t.string({ fallback: "" }),
      tagIds: t.refMany("notes"),
    },
  },
});

type Collection = keyof typeof schema.entities;

/** A writer over a fresh store whose clock stands still and whose ids count up, and what it reports. */
function setup(userId: string | undefined, isReported: boolean, collection: Collection) {
  const store = new TripleStore();
  store.watch(collection);
  const changes: string[] = [];
  store.onCommit((commit) => {
    for (const [table, rows] of commit.tables)
      for (const [row, change] of rows) changes.push(`${table.name}:${row}:${change.fields().join(",")}`);
  });
  const clock = createClock({ node: "writer", wallClock: () => 1_700_000_000_000 });
  let next = 0;
  const reported: Triple[] = [];
  const writer = new LocalWriter(
    schema,
    store,
    clock,
    userId,
    () => `gen${next++}`,
    isReported ? (triples) => reported.push(...triples) : undefined,
  );
  return { store, writer, reported, changes };
}

const fieldValues: Record<Collection, Record<string, fc.Arbitrary<unknown>>> = {
  notes: {
    text: fc.string({ maxLength: 4 }),
    count: fc.integer({ min: -5, max: 5 }),
    done: fc.boolean(),
    due: fc.integer({ min: 0, max: 2_000_000_000_000 }).map((ms) => new Date(ms)),
    meta: fc.jsonValue({ maxDepth: 2 }),
  },
  tagged: {
    name: fc.string({ maxLength: 4 }),
    tagIds: fc.array(fc.constantFrom("a", "b", "c"), { maxLength: 4 }),
  },
};

/** `value` once in `odds` draws, undefined otherwise. */
function rarely<T>(value: fc.Arbitrary<T>, odds: number): fc.Arbitrary<T | undefined> {
  return fc.oneof({ arbitrary: fc.constant(undefined), weight: odds - 1 }, { arbitrary: value, weight: 1 });
}

/** A document to create: some of the fields in any order, now and then an id of its own or a bad value. */
function documentOf(collection: Collection): fc.Arbitrary<Record<string, unknown>> {
  const specs = schema.collections[collection]!.fields;
  // Fields a create must give are given, the others now and then (a missing one is refused).
  const entries = Object.entries(fieldValues[collection]).map(([field, value]) => {
    const entry = value.map((each) => [field, each] as const);
    const isRequired = !specs[field]!.optional && specs[field]!.fallback !== "now";
    return isRequired ? entry : fc.option(entry, { nil: undefined });
  });
  return fc
    .record({
      fields: fc.tuple(...entries).chain((chosen) => {
        const given = chosen.filter((each) => each !== undefined);
        return fc.shuffledSubarray(given, { minLength: given.length });
      }),
      id: rarely(fc.constantFrom("x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8"), 4),
      bad: rarely(
        fc.constantFrom<[string, unknown]>(["text", 5], ["name", null], ["unknown", 1], ["createdAt", 1]),
        60,
      ),
    })
    .map(({ fields, id, bad }) => {
      const document: Record<string, unknown> = Object.fromEntries(fields.filter(([, value]) => value !== undefined));
      if (id !== undefined) document.id = id;
      if (bad !== undefined) document[bad[0]] = bad[1];
      return document;
    });
}

const scenario = fc.constantFrom<Collection>("notes", "tagged").chain((collection) =>
  fc.record({
    collection: fc.constant(collection),
    documents: fc.array(documentOf(collection), { minLength: 1, maxLength: 12 }),
    userId: fc.option(fc.constant("alice"), { nil: undefined }),
    isReported: fc.boolean(),
  }),
);

describe("createMany against creates one by one", () => {
  it("writes the same documents, triples, clock readings and changes, or fails at the same document", () => {
    const outcomes = { created: 0, refused: 0 };
    checkLaw(
      fc.property(scenario, ({ collection, documents, userId, isReported }) => {
        const bulk = setup(userId, isReported, collection);
        const single = setup(userId, isReported, collection);
        const created = bulk.writer.createMany(collection, documents);
        const singles: Record<string, unknown>[] = [];
        let failedAt: number | undefined;
        for (const [index, document] of documents.entries()) {
          const result = single.writer.create(collection, document);
          if (result.error) {
            failedAt = index;
            break;
          }
          singles.push(result.data);
        }
        outcomes[failedAt === undefined ? "created" : "refused"]++;
        if (failedAt !== undefined) {
          // All or none: the call fails at the first document a create refuses, and writes nothing.
          expect(created.error?.code).toBe("VALIDATION");
          expect(created.error?.details?.index).toBe(failedAt);
          expect([...bulk.store.triples()]).toEqual([]);
          expect(bulk.reported).toEqual([]);
          expect(bulk.changes).toEqual([]);
          return;
        }
        expect(created.error).toBeUndefined();
        const docs = created.data as Record<string, unknown>[];
        expect(docs).toEqual(singles);
        expect(docs.map((doc) => Object.keys(doc))).toEqual(singles.map((doc) => Object.keys(doc)));
        expect([...bulk.store.triples()]).toEqual([...single.store.triples()]);
        expect(bulk.reported).toEqual(single.reported);
        expect(bulk.changes).toEqual(single.changes);
      }),
      { numRuns: 300 },
    );
    // Both outcomes were tried often enough to mean something.
    expect(outcomes.created).toBeGreaterThan(60);
    expect(outcomes.refused).toBeGreaterThan(30);
  });
});
