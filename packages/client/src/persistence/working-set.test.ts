import { createClock, createSchema, encodeHlc, t, type Triple, TripleStore } from "@trellis/core";
import { afterEach, describe, expect, it } from "vitest";
import { createClient, type TrellisClient } from "../create-client.js";
import { createRandom, seedOf } from "../testing/fuzz-kit.js";
import { waitFor } from "../testing/live-server.js";
import { createMemoryStorage } from "./memory-storage.js";
import { StorageSession } from "./storage-session.js";
import type { ClientStorage } from "./storage.js";
import { WorkingSet } from "./working-set.js";

const fields = { n: t.number({ fallback: 0 }), tag: t.string({ optional: true }), aId: t.ref("a") };
const schema = createSchema({ entities: { a: fields, b: fields, c: fields, d: fields } });
type Collection = "a" | "b" | "c" | "d";
const COLLECTIONS: readonly Collection[] = ["a", "b", "c", "d"];

/** A storage that counts the collection reads, so tests see what was loaded when. */
function countingStorage(inner: ClientStorage = createMemoryStorage()) {
  const reads: string[] = [];
  const storage: ClientStorage = {
    ...inner,
    readCollection: (collection) => {
      reads.push(collection);
      return inner.readCollection(collection);
    },
  };
  return { storage, reads };
}

const clients: TrellisClient<typeof schema>[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

function open(storage: ClientStorage, cacheSize?: number, idPrefix = "id") {
  let ids = 0;
  const client = createClient({
    schema,
    storage,
    ...(cacheSize === undefined ? {} : { cacheSize }),
    generateId: () => `${idPrefix}${String(++ids).padStart(4, "0")}`,
  });
  clients.push(client);
  return client;
}

const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("working set: collections load when first needed", () => {
  it("reads no documents when the client opens, then each collection once, when a query or write needs it", async () => {
    const { storage, reads } = countingStorage();
    const first = open(storage);
    await first.database.a.create({ n: 1 });
    await first.database.b.create({ n: 2 });
    await first.close();
    reads.length = 0;

    const second = open(storage, undefined, "second");
    await second.storage.ready;
    expect(reads).toEqual([]);
    expect((await second.database.a.query({ fields: { n: true } })).data).toEqual([{ n: 1 }]);
    expect(reads).toEqual(["a"]);
    await second.database.a.query({});
    await second.database.b.update({
      id: (await second.database.b.queryOne({}))!.data!.id as string,
      fields: { n: 3 },
    });
    expect(reads).toEqual(["a", "b"]);
    expect((await second.database.b.query({ fields: { n: true } })).data).toEqual([{ n: 3 }]);
  });

  it("reads a collection larger than one page whole", async () => {
    const storage = createMemoryStorage();
    await storage.open();
    const tick = encodeHlc({ ticks: 1, node: "seed" });
    const documents = Array.from({ length: 12_001 }, (_, index) => {
      const id = `doc${index}`;
      const cell = (field: string, value: unknown): Triple => ({ collection: "a", id, field, value, hlc: tick });
      return { collection: "a", id, triples: [cell("createdAt", 1), cell("n", index)] };
    });
    await storage.commit({ documents, added: [], acknowledged: [], cursors: new Map(), clock: tick });
    const client = open(storage);
    const counted = await client.database.a.query({ aggregations: { all: { count: "*" }, top: { max: "n" } } });
    expect(counted.data).toEqual([{ all: 12_001, top: 12_000 }]);
  });

  it("reads for a batch only the collections its operations write", async () => {
    const { storage, reads } = countingStorage();
    const first = open(storage);
    await first.database.a.create({ n: 1 });
    await first.close();
    reads.length = 0;
    const second = open(storage, undefined, "second");
    const { batch } = second.database;
    const result = await batch.execute([batch.c.create({ n: 2 }), batch.d.create({ n: 3 })]);
    expect(result.error).toBeUndefined();
    expect([...reads].sort()).toEqual(["c", "d"]);
  });

  it("loads the collections of a query's relations with it", async () => {
    const { storage, reads } = countingStorage();
    const first = open(storage);
    const parent = (await first.database.a.create({ n: 1 })).data!;
    await first.database.c.create({ n: 2, aId: parent.id });
    await first.close();
    reads.length = 0;
    const second = open(storage);
    const result = await second.database.c.query({ fields: { n: true, aId: { fields: { n: true } } } });
    expect(result.data).toEqual([{ n: 2, aId: { n: 1 } }]);
    expect([...reads].sort()).toEqual(["a", "c"]);
  });
});

describe("working set: what arrives for a collection not in memory", () => {
  const hlc = (ticks: number) => encodeHlc({ ticks, node: "remote" });
  const triple = (id: string, field: string, value: unknown, ticks: number): Triple => ({
    collection: "a",
    id,
    field,
    value,
    hlc: hlc(ticks),
  });

  /** A storage holding document x of collection a, tagged "stored" at tick 10. */
  async function storageWithX(): Promise<ClientStorage> {
    const storage = createMemoryStorage();
    await storage.open();
    const documents = [
      { collection: "a", id: "x", triples: [triple("x", "createdAt", 1, 1), triple("x", "tag", "stored", 10)] },
    ];
    await storage.commit({ documents, added: [], acknowledged: [], cursors: new Map(), clock: hlc(10) });
    return storage;
  }

  it("applies after the stored documents, by the merge rules, and drops stray changes of documents never held", async () => {
    const storage = await storageWithX();
    const store = new TripleStore();
    const clock = createClock({ node: "local" });
    const workingSet = new WorkingSet({ store, clock, storage, unstoredIds: () => new Set() });
    workingSet.apply([triple("x", "tag", "older", 5), triple("x", "n", 7, 20), triple("stray", "n", 1, 20)]);
    expect(store.table("a")).toBeUndefined();
    // The clock saw them at once, so a local write after them orders after them.
    expect(clock.last().ticks).toBeGreaterThanOrEqual(20);
    expect(workingSet.keptTriples()).toHaveLength(3);
    await workingSet.load(["a"]);
    const table = store.table("a")!;
    expect(table.ids).toEqual(["x"]);
    expect([table.get(table.rowOf("x")!, "tag"), table.get(table.rowOf("x")!, "n")]).toEqual(["stored", 7]);
    expect(workingSet.keptTriples()).toEqual([]);
  });

  it("applies a change another tab shared as whole to a document memory let go only with the stored document", async () => {
    const storage = await storageWithX();
    const store = new TripleStore();
    const workingSet = new WorkingSet({
      store,
      clock: createClock({ node: "local" }),
      storage,
      unstoredIds: () => new Set(),
    });
    await workingSet.load(["a"]);
    const table = store.table("a")!;
    store.unload("a", [table.rowOf("x")!]);
    expect(table.isPartial).toBe(true);
    // One change of x (stored), one of a document storage does not hold (deleted and dropped).
    workingSet.apply([triple("x", "n", 9, 30)], true);
    workingSet.apply([triple("gone", "tag", "late", 30)], true);
    await waitFor(() => workingSet.keptTriples().length === 0, "both documents are read back");
    expect([table.get(table.rowOf("x")!, "tag"), table.get(table.rowOf("x")!, "n")]).toEqual(["stored", 9]);
    expect(table.rowOf("gone")).toBeUndefined();
  });

  it("stores them as deltas merged into the stored documents, so a reload finds them", async () => {
    const storage = await storageWithX();
    const persistence = new StorageSession(storage, new TripleStore(), createClock({ node: "local" }));
    await persistence.open(() => {});
    const { apply, onRemoteApplied } = persistence.syncOptions();
    const remote = [
      triple("x", "n", 7, 20),
      triple("stray", "n", 1, 20),
      triple("y", "createdAt", 2, 21),
      triple("y", "n", 8, 21),
    ];
    apply(remote);
    onRemoteApplied(remote);
    expect((await persistence.durable()).error).toBeUndefined();
    const stored = (await storage.readCollection("a")).data!.documents;
    const cells = Object.fromEntries(
      stored.map((document) => [
        document.id,
        Object.fromEntries(document.triples.map((each) => [each.field, each.value])),
      ]),
    );
    expect(cells).toEqual({ x: { createdAt: 1, tag: "stored", n: 7 }, y: { createdAt: 2, n: 8 } });
  });
});

describe("working set: cacheSize", () => {
  it("drops the least recently used collections beyond the bound, keeps followed ones, and reads dropped ones again", async () => {
    const { storage, reads } = countingStorage();
    const client = open(storage, 5);
    for (const collection of COLLECTIONS) for (let n = 0; n < 4; n++) await client.database[collection].create({ n });
    await nextTask();
    // 16 documents written, at most 5 plus the last collection written may stay.
    reads.length = 0;
    const seen: number[][] = [];
    const subscription = client.database.b.subscribe(
      { fields: { n: true }, orderBy: ["n", "asc"] },
      (docs) => docs && seen.push(docs.map((doc) => doc.n)),
    );
    await waitFor(() => seen.length > 0, "the first result of b");
    expect(reads).toEqual(["b"]);
    for (const collection of ["a", "c", "d"] as const)
      expect((await client.database[collection].query({})).data).toHaveLength(4);
    await nextTask();
    // b is followed: never read again; a, c and d take turns in memory.
    expect(reads.filter((collection) => collection === "b")).toEqual(["b"]);
    expect((await client.database.a.query({})).data).toHaveLength(4);
    expect(reads.filter((collection) => collection === "a").length).toBeGreaterThanOrEqual(2);
    await client.database.b.create({ n: 9 });
    expect(seen.at(-1)).toEqual([0, 1, 2, 3, 9]);
    subscription.unsubscribe();
  });

  it("refuses a cacheSize that is not a whole number", () => {
    expect(() => createClient({ schema, storage: createMemoryStorage(), cacheSize: -1 })).toThrow(/cacheSize/);
  });
});

/**
 * A client with a small cacheSize and one without a bound get the same writes, queries,
 * subscriptions and reloads; every answer must be the same. Seeds are fixed and printed on
 * failure (`SEED=` overrides).
 */
describe("working set: bounded and unbounded clients answer alike (randomised)", () => {
  // 407 once caught a query by id with a relation to its own collection answered from too little.
  it.each([[0x5e7_0001], [0x5e7_0002], [0x5e7_0003], [407]])("seed %i", async (fixedSeed) => {
    const seed = seedOf(process.env.SEED, fixedSeed);
    const random = createRandom(seed);
    const cacheSize = random.int(8);
    // Documents the bounded client read back by id: those of followed collections it unloaded.
    let fetched = 0;
    const bounded = createMemoryStorage();
    let matched = 0;
    const counted: ClientStorage = {
      ...bounded,
      readDocuments: (collection, ids) => ((fetched += ids.length), bounded.readDocuments(collection, ids)),
      readMatching: (collection, field, values) => (matched++, bounded.readMatching(collection, field, values)),
    };
    const storages = [counted, createMemoryStorage()];
    let pair = storages.map((storage, index) => open(storage, index === 0 ? cacheSize : undefined));
    const ids: Record<Collection, string[]> = { a: [], b: [], c: [], d: [] };
    type Live = {
      collection: Collection;
      query: object;
      last: unknown[];
      first: unknown[] | undefined;
      unsubscribe: () => void;
      loading: boolean;
    };
    let subscriptions: Live[][] = [[], []];
    const randomQuery = (collection: Collection): object => {
      const query: Record<string, unknown> = {
        fields: { n: true, tag: true },
        orderBy: [
          ["n", random.pick(["asc", "desc"])],
          ["id", "asc"],
        ],
      };
      // Mostly filtered, so the bounded client can unload what its followed queries do not hold.
      const filter = random.next();
      if (filter < 0.45) query.where = { tag: random.pick(["x", "y", "z"]) };
      else if (filter < 0.8) query.where = { n: { lessThan: random.int(6) } };
      else if (filter < 0.9 && ids[collection].length > 0)
        query.where = { id: { in: [random.pick(ids[collection]), random.pick(ids[collection])] } };
      if (random.chance(0.4)) query.limit = 1 + random.int(4);
      if (random.chance(0.3)) query.fields = { n: true, aId: { fields: { n: true } } };
      return query;
    };
    const subscribe = (client: TrellisClient<typeof schema>, collection: Collection, query: object): Live => {
      const live: Live = { collection, query, last: [], first: undefined, unsubscribe: () => {}, loading: true };
      const subscription = client.database[collection].subscribe(query as never, (docs, _error, loading) => {
        live.loading = loading;
        if (loading) return;
        live.last = docs as unknown[];
        live.first ??= live.last;
      });
      live.unsubscribe = () => subscription.unsubscribe();
      return live;
    };
    const past: [Collection, object][] = [];
    /**
     * A new subscription's first answer (from a stored result, when current, before its
     * collection is read) is what the whole stored collection answers: a one-shot query waits
     * for that. Nothing is written meanwhile.
     */
    const checkFirstAnswers = async (lives: ReadonlyArray<readonly [client: number, live: Live]>, step: number) => {
      await waitFor(
        () => lives.every(([, live]) => live.first !== undefined),
        () => `first answers, ${context(step)}`,
      );
      for (const [index, live] of lives) {
        const whole = await pair[index]!.database[live.collection].query(live.query as never);
        expect(
          live.first,
          `${context(step)}: first answer of ${JSON.stringify(live.query)} on ${live.collection}`,
        ).toEqual(whole.data);
      }
    };
    const context = (step: number) => `seed ${seed} (SEED=${seed} to rerun), cacheSize ${cacheSize}, step ${step}`;

    for (let step = 0; step < 120; step++) {
      const collection = random.pick(COLLECTIONS);
      const roll = random.next();
      if (roll < 0.35) {
        // Several at once, so collections outgrow the bound and followed ones become partial.
        for (let count = 1 + random.int(4); count > 0; count--) {
          const aIds = ids.a;
          const fieldsOf = {
            n: random.int(10),
            tag: random.pick(["x", "y", "z"]),
            ...(aIds.length > 0 && random.chance(0.5) ? { aId: random.pick(aIds) } : {}),
          };
          const created = await Promise.all(pair.map((client) => client.database[collection].create(fieldsOf)));
          expect(created[0]!.data?.id, context(step)).toBe(created[1]!.data?.id);
          ids[collection].push(created[0]!.data!.id as string);
        }
      } else if (roll < 0.55 && ids[collection].length > 0) {
        const id = random.pick(ids[collection]);
        const patch = { n: random.int(10), tag: random.pick(["x", "y", "z"]) };
        await Promise.all(pair.map((client) => client.database[collection].update({ id, fields: patch })));
      } else if (roll < 0.6 && ids[collection].length > 0) {
        const id = random.pick(ids[collection]);
        ids[collection] = ids[collection].filter((each) => each !== id);
        await Promise.all(pair.map((client) => client.database[collection].delete(id)));
      } else if (roll < 0.75) {
        const query = randomQuery(collection);
        const [bounded, unbounded] = await Promise.all(
          pair.map((client) => client.database[collection].query(query as never)),
        );
        expect(bounded!.data, `${context(step)}: query ${JSON.stringify(query)} on ${collection}`).toEqual(
          unbounded!.data,
        );
      } else if (roll < 0.85) {
        // Often a query followed before: its result may be stored, current or not.
        const [target, query] =
          past.length > 0 && random.chance(0.5) ? random.pick(past) : [collection, randomQuery(collection)];
        past.push([target, query]);
        const added = pair.map((client) => subscribe(client, target, query));
        added.forEach((live, index) => subscriptions[index]!.push(live));
        await checkFirstAnswers(
          added.map((live, index) => [index, live] as const),
          step,
        );
      } else if (roll < 0.93 && subscriptions[0]!.length > 0) {
        const index = random.int(subscriptions[0]!.length);
        for (const lives of subscriptions) lives.splice(index, 1)[0]!.unsubscribe();
      } else if (roll < 0.96) {
        // A reload of both: subscriptions are made again on the new clients.
        await Promise.all(pair.map((client) => client.close()));
        pair = storages.map((storage, index) => open(storage, index === 0 ? cacheSize : undefined, `r${step}-`));
        subscriptions = subscriptions.map((lives, index) =>
          lives.map((live) => subscribe(pair[index]!, live.collection, live.query)),
        );
        await checkFirstAnswers(
          subscriptions.flatMap((lives, index) => lives.map((live) => [index, live] as const)),
          step,
        );
      }
      if (random.chance(0.5)) await nextTask();
      await waitFor(
        () => subscriptions.every((lives) => lives.every((live) => !live.loading)),
        () => `subscriptions done loading, ${context(step)}`,
      );
      subscriptions[0]!.forEach((live, index) => {
        expect(live.last, `${context(step)}: subscription ${JSON.stringify(live.query)} on ${live.collection}`).toEqual(
          subscriptions[1]![index]!.last,
        );
      });
    }
    for (const lives of subscriptions) for (const live of lives) live.unsubscribe();
    // The fixed seeds do reach documents unloaded from followed collections, by id and by field value.
    if (process.env.SEED === undefined) {
      expect(fetched, context(120)).toBeGreaterThan(0);
      expect(matched, context(120)).toBeGreaterThan(0);
    }
  });
});
