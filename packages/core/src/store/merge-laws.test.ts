import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeHlc, TICKS_PER_MS } from "../hlc.js";
import { mergeDocumentTriples } from "../merge.js";
import { compileMaterializer } from "../query/materialize.js";
import { normalizeQuery } from "../query/normalize.js";
import { runQuery } from "../query/run-query.js";
import { createSchema } from "../schema/create-schema.js";
import { t } from "../schema/t.js";
import { checkLaw } from "../testing/law-seed.js";
import { canonicalKey, modelOf, modelState } from "../testing/lww-model.js";
import { DELETED_FIELD, type Triple } from "../triples.js";
import { TripleStore } from "./triple-store.js";

// ---- the change sets ----

const COLLECTIONS = ["users", "posts"] as const;
const IDS = ["a", "b", "c", "d"];
const NODES = ["n1", "n2", "n3"];
const ELEMENTS = ["t1", "t2", "t3"];
// Few distinct ticks, so different nodes often stamp the same ticks (node id breaks the tie) and
// the same node sometimes stamps two writes alike (the value breaks the tie).
const BASE_TICKS = 1_700_000_000_000 * TICKS_PER_MS;

const schema = createSchema({
  entities: {
    users: { name: t.string({ fallback: "" }), age: t.number({ optional: true }), tagIds: t.refMany("posts") },
    posts: { name: t.string({ fallback: "untitled" }), age: t.number({ fallback: 0 }), tagIds: t.refMany("users") },
  },
});

const hlcArb = fc
  .tuple(fc.integer({ min: 0, max: 12 }), fc.constantFrom(...NODES))
  .map(([tick, node]) => encodeHlc({ ticks: BASE_TICKS + tick * 700, node }));
const keyArb = fc.record({ collection: fc.constantFrom(...COLLECTIONS), id: fc.constantFrom(...IDS) });
// `null` removes a field; numbers in `name` and strings in `age` are stored values of the wrong type.
const valueArb = fc.constantFrom<unknown>("x", "y", "", null, 1, 2, -3.5, true, "7");

const fieldTripleArb: fc.Arbitrary<Triple> = fc
  .tuple(keyArb, fc.constantFrom("name", "age", "createdAt"), valueArb, hlcArb)
  .map(([key, field, value, hlc]) => ({ ...key, field, value, hlc }));
const elementTripleArb: fc.Arbitrary<Triple> = fc
  .tuple(keyArb, fc.constantFrom(...ELEMENTS), fc.boolean(), hlcArb)
  .map(([key, element, value, hlc]) => ({ ...key, field: "tagIds", element, value, hlc }));
const deleteTripleArb: fc.Arbitrary<Triple> = fc
  .tuple(keyArb, hlcArb)
  .map(([key, hlc]) => ({ ...key, field: DELETED_FIELD, value: true, hlc }));

/** Two writes of one cell under one HLC: no correct client does this, but replicas must agree anyway. */
const sameHlcConflictArb: fc.Arbitrary<Triple[]> = fc.oneof(
  fc.tuple(fieldTripleArb, valueArb).map(([triple, value]) => [triple, { ...triple, value }]),
  elementTripleArb.map((triple) => [triple, { ...triple, value: !triple.value }]),
);

const changeSetArb: fc.Arbitrary<Triple[]> = fc
  .array(
    fc.oneof(
      { arbitrary: fieldTripleArb.map((triple) => [triple]), weight: 10 },
      { arbitrary: elementTripleArb.map((triple) => [triple]), weight: 8 },
      { arbitrary: deleteTripleArb.map((triple) => [triple]), weight: 2 },
      { arbitrary: sameHlcConflictArb, weight: 1 },
    ),
    { minLength: 1, maxLength: 30 },
  )
  .map((groups) => groups.flat());

/** A delivery order: a permutation of the change set plus some re-deliveries at random points. */
type Delivery = number[];
function deliveryArb(count: number): fc.Arbitrary<Delivery> {
  const indices = Array.from({ length: count }, (_, i) => i);
  return fc
    .tuple(
      fc.shuffledSubarray(indices, { minLength: count, maxLength: count }),
      fc.array(fc.tuple(fc.nat({ max: count - 1 }), fc.nat()), { maxLength: count }),
    )
    .map(([order, duplicates]) => {
      const delivery = [...order];
      for (const [index, at] of duplicates) delivery.splice(at % (delivery.length + 1), 0, index);
      return delivery;
    });
}

const scenarioArb = changeSetArb.chain((changes) =>
  fc.tuple(fc.constant(changes), fc.array(deliveryArb(changes.length), { minLength: 3, maxLength: 5 })),
);

// ---- replicas ----

function replicaOf(changes: readonly Triple[], delivery?: Delivery): TripleStore {
  const store = new TripleStore();
  for (const index of delivery ?? changes.keys()) {
    const result = store.applyTriple(changes[index]!);
    expect(result.error).toBeUndefined();
  }
  return store;
}

/** A replica holding what two replicas hold between them: one's export applied onto the other's. */
function merged(left: TripleStore, right: TripleStore): TripleStore {
  const store = new TripleStore();
  for (const triple of [...left.triples(), ...right.triples()]) store.applyTriple(triple);
  return store;
}

/** Every stored triple, in one canonical order. */
function stateOf(store: TripleStore): Triple[] {
  return [...store.triples()]
    .map((triple) => ({ ...triple }))
    .sort((a, b) => (canonicalKey(a) < canonicalKey(b) ? -1 : canonicalKey(a) > canonicalKey(b) ? 1 : 0));
}

const QUERIES: Record<string, unknown>[] = [
  {
    fields: { id: true, name: true, age: true, tagIds: true, createdAt: true, updatedAt: true },
    orderBy: ["id", "asc"],
  },
  {
    where: { tagIds: "t1" },
    orderBy: [
      ["name", "desc"],
      ["age", "asc"],
    ],
  },
  { where: { name: { notEquals: "x" }, age: { isDefined: true } } },
  { where: { tagIds: { notIn: ["t2", "t3"] } }, orderBy: ["updatedAt", "desc"], limit: 2 },
];

/** What a replica answers to a fixed set of queries over every collection. */
function answersOf(store: TripleStore): unknown[] {
  const answers: unknown[] = [];
  for (const collection of COLLECTIONS) {
    for (const input of QUERIES) {
      const query = normalizeQuery(schema.collections[collection]!, input);
      expect(query.error).toBeUndefined();
      const table = store.table(collection);
      const materialize = compileMaterializer(query.data!);
      answers.push(table === undefined ? [] : runQuery(store, query.data!).map((row) => materialize(table, row)));
    }
  }
  return answers;
}

// ---- the reference model (testing/lww-model.ts): last writer wins per cell, delete wins ----

/** The live documents of a collection as the model reads them (what query 0 returns). */
function modelDocs(changes: readonly Triple[], collection: string): Record<string, unknown>[] {
  const nameFallback = collection === "users" ? "" : "untitled";
  const ageFallback = collection === "users" ? undefined : 0;
  const docs: Record<string, unknown>[] = [];
  for (const doc of modelOf(changes).values()) {
    if (doc.collection !== collection || doc.tombstone !== undefined) continue;
    const name = doc.cells.get("name")?.value;
    const age = doc.cells.get("age")?.value;
    const createdAt = doc.cells.get("createdAt")?.value;
    const tagIds = ELEMENTS.filter((element) => doc.cells.get(`tagIds\u0000${element}`)?.value === true);
    docs.push({
      id: doc.id,
      name: typeof name === "string" ? name : nameFallback,
      age: typeof age === "number" ? age : ageFallback,
      tagIds,
      createdAt: typeof createdAt === "number" ? new Date(createdAt) : undefined,
      updatedAt: new Date(Math.floor(doc.maxTicks / TICKS_PER_MS)),
    });
  }
  return docs.sort((a, b) => ((a.id as string) < (b.id as string) ? -1 : 1));
}

// ---- the laws ----

describe("merge laws", () => {
  it("converges: every delivery order, with duplicates, ends in the reference model's state", () => {
    checkLaw(
      fc.property(scenarioArb, ([changes, deliveries]) => {
        const expected = modelState(changes);
        const replicas = deliveries.map((delivery) => replicaOf(changes, delivery));
        const answers = answersOf(replicas[0]!);
        for (const replica of replicas) {
          expect(stateOf(replica)).toEqual(expected);
          expect(answersOf(replica)).toEqual(answers);
        }
        // The first answer of each collection lists every live document with every field.
        expect(answers[0]).toEqual(modelDocs(changes, "users"));
        expect(answers[QUERIES.length]).toEqual(modelDocs(changes, "posts"));
      }),
      { numRuns: 400 },
    );
  });

  it("is commutative: a ⊔ b = b ⊔ a", () => {
    checkLaw(
      fc.property(changeSetArb, changeSetArb, (left, right) => {
        const a = replicaOf(left);
        const b = replicaOf(right);
        const ab = merged(a, b);
        expect(stateOf(ab)).toEqual(stateOf(merged(b, a)));
        expect(stateOf(ab)).toEqual(modelState([...left, ...right]));
        expect(answersOf(ab)).toEqual(answersOf(merged(b, a)));
      }),
      { numRuns: 300 },
    );
  });

  it("is associative: (a ⊔ b) ⊔ c = a ⊔ (b ⊔ c)", () => {
    checkLaw(
      fc.property(changeSetArb, changeSetArb, changeSetArb, (first, second, third) => {
        const [a, b, c] = [replicaOf(first), replicaOf(second), replicaOf(third)];
        const leftFirst = merged(merged(a, b), c);
        const rightFirst = merged(a, merged(b, c));
        expect(stateOf(leftFirst)).toEqual(stateOf(rightFirst));
        expect(stateOf(leftFirst)).toEqual(modelState([...first, ...second, ...third]));
        expect(answersOf(leftFirst)).toEqual(answersOf(rightFirst));
      }),
      { numRuns: 300 },
    );
  });

  it("is idempotent: a ⊔ a = a, and re-applying every change changes nothing", () => {
    checkLaw(
      fc.property(changeSetArb, (changes) => {
        const a = replicaOf(changes);
        const before = stateOf(a);
        const answers = answersOf(a);
        expect(stateOf(merged(a, a))).toEqual(before);
        let commits = 0;
        for (const collection of COLLECTIONS) a.watch(collection);
        a.onCommit(() => commits++);
        // No re-delivered change wins a cell, so nothing is committed and nothing changes.
        for (const triple of [...changes, ...before])
          expect(a.applyTriple(triple)).toEqual({ data: false, error: undefined });
        expect(commits).toBe(0);
        expect(stateOf(a)).toEqual(before);
        expect(answersOf(a)).toEqual(answers);
      }),
      { numRuns: 300 },
    );
  });

  it("merges stored document states as the store does (mergeDocumentTriples)", () => {
    checkLaw(
      fc.property(changeSetArb, changeSetArb, (left, right) => {
        const a = replicaOf(left);
        const b = replicaOf(right);
        const expected = merged(a, b);
        for (const collection of COLLECTIONS) {
          for (const id of IDS) {
            const folded = mergeDocumentTriples(a.documentTriples(collection, id), b.documentTriples(collection, id));
            expect(sortedTriples(folded)).toEqual(sortedTriples(expected.documentTriples(collection, id)));
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

function sortedTriples(triples: readonly Triple[]): Triple[] {
  return triples
    .map((triple) => ({ ...triple }))
    .sort((x, y) => (canonicalKey(x) < canonicalKey(y) ? -1 : canonicalKey(x) > canonicalKey(y) ? 1 : 0));
}

// ---- targeted cases ----

const at = (tick: number, node: string) => encodeHlc({ ticks: BASE_TICKS + tick, node });
const field = (id: string, name: string, value: unknown, hlc: string): Triple => ({
  collection: "users",
  id,
  field: name,
  value,
  hlc,
});
const element = (id: string, member: string, present: boolean, hlc: string): Triple => ({
  collection: "users",
  id,
  field: "tagIds",
  element: member,
  value: present,
  hlc,
});
const tombstone = (id: string, hlc: string): Triple => ({
  collection: "users",
  id,
  field: DELETED_FIELD,
  value: true,
  hlc,
});

/** Every order of a small list. */
function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

function usersOf(store: TripleStore, where?: Record<string, unknown>): Record<string, unknown>[] {
  const query = normalizeQuery(schema.collections.users!, { where, orderBy: ["id", "asc"] });
  expect(query.error).toBeUndefined();
  const table = store.table("users");
  if (table === undefined) return [];
  const materialize = compileMaterializer(query.data!);
  return runQuery(store, query.data!).map((row) => materialize(table, row));
}

/** Applies `changes` in every order and returns the one state and answer all orders agree on. */
function convergedUsers(changes: readonly Triple[]): Record<string, unknown>[] {
  const results = permutations(changes).map((order) => {
    const store = replicaOf(order);
    return { state: stateOf(store), users: usersOf(store) };
  });
  for (const result of results) expect(result).toEqual(results[0]);
  expect(results[0]!.state).toEqual(modelState(changes));
  return results[0]!.users;
}

describe("merge rules", () => {
  it("keeps concurrent writes to different fields of one document", () => {
    const users = convergedUsers([field("u", "name", "Ada", at(5, "n1")), field("u", "age", 36, at(5, "n2"))]);
    expect(users).toEqual([{ id: "u", name: "Ada", age: 36, tagIds: [] }]);
  });

  it("picks one winner everywhere for concurrent writes to the same field", () => {
    // Same ticks: the larger node id wins; larger ticks win whatever the node.
    expect(
      convergedUsers([field("u", "name", "from-n1", at(5, "n1")), field("u", "name", "from-n2", at(5, "n2"))])[0]!.name,
    ).toBe("from-n2");
    expect(
      convergedUsers([field("u", "name", "later", at(6, "n1")), field("u", "name", "earlier", at(5, "n2"))])[0]!.name,
    ).toBe("later");
    // A removal (null) is a write like any other.
    const removed = convergedUsers([
      field("u", "name", "Ada", at(5, "n1")),
      field("u", "name", null, at(6, "n2")),
      field("u", "age", 1, at(1, "n1")),
    ]);
    expect(removed[0]!.name).toBe("");
  });

  it("keeps a deleted document deleted whatever arrives before or after the delete", () => {
    const changes = [
      field("u", "name", "Ada", at(1, "n1")),
      tombstone("u", at(5, "n2")),
      field("u", "name", "resurrected", at(9, "n1")),
      element("u", "t1", true, at(10, "n3")),
      field("v", "name", "other", at(2, "n1")),
    ];
    expect(convergedUsers(changes)).toEqual([{ id: "v", name: "other", age: undefined, tagIds: [] }]);
    for (const order of permutations(changes)) {
      const store = replicaOf(order);
      expect(stateOf(store).filter((triple) => triple.id === "u")).toEqual([tombstone("u", at(5, "n2"))]);
      // Tombstones never come back from queries, whatever the filter.
      expect(usersOf(store, { id: "u" })).toEqual([]);
      expect(usersOf(store, { name: { notEquals: "zzz" } }).map((user) => user.id)).toEqual(["v"]);
      expect(usersOf(store, { tagIds: { notEquals: "t9" } }).map((user) => user.id)).toEqual(["v"]);
    }
  });

  it("agrees on one tombstone when several deletes arrive", () => {
    const users = convergedUsers([
      tombstone("u", at(7, "n1")),
      tombstone("u", at(3, "n3")),
      tombstone("u", at(3, "n2")),
    ]);
    expect(users).toEqual([]);
    expect(
      stateOf(replicaOf([tombstone("u", at(7, "n1")), tombstone("u", at(3, "n3")), tombstone("u", at(3, "n2"))])),
    ).toEqual([tombstone("u", at(3, "n2"))]);
  });

  it("keeps concurrent additions to a refMany from two nodes", () => {
    const users = convergedUsers([element("u", "t1", true, at(5, "n1")), element("u", "t2", true, at(5, "n2"))]);
    expect(users).toEqual([{ id: "u", name: "", age: undefined, tagIds: ["t1", "t2"] }]);
  });

  it("decides an add and a remove of one refMany element by HLC", () => {
    const removedLater = convergedUsers([
      element("u", "t1", true, at(5, "n1")),
      element("u", "t1", false, at(6, "n2")),
      element("u", "t2", true, at(1, "n1")),
    ]);
    expect(removedLater[0]!.tagIds).toEqual(["t2"]);
    expect(
      convergedUsers([element("u", "t1", false, at(5, "n1")), element("u", "t1", true, at(6, "n2"))])[0]!.tagIds,
    ).toEqual(["t1"]);
    // A concurrent add and remove with equal ticks: the larger node wins.
    expect(
      convergedUsers([element("u", "t1", true, at(5, "n2")), element("u", "t1", false, at(5, "n1"))])[0]!.tagIds,
    ).toEqual(["t1"]);
  });

  it("stays deterministic when one HLC carries two different values", () => {
    // A correct client never does this; if one does, every replica must still pick the same value.
    const users = convergedUsers([
      field("u", "name", "a", at(5, "n1")),
      field("u", "name", "b", at(5, "n1")),
      field("u", "name", null, at(5, "n1")),
    ]);
    // The rule of docs/design/003: the larger canonical JSON wins ("null" > "\"b\"" > "\"a\"").
    expect(users).toEqual([{ id: "u", name: "", age: undefined, tagIds: [] }]);
  });
});
