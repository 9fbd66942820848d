import { createSchema, t } from "@trellis/core";
import { describe, expect, it } from "vitest";
import type { TrellisClient } from "../create-client.js";
import { createRandom, seedOf } from "../testing/fuzz-kit.js";
import { waitFor } from "../testing/live-server.js";
import { type Collection, COLLECTIONS, nextTask, useStoredClients } from "../testing/stored-clients.js";
import { createMemoryStorage } from "./memory-storage.js";
import type { ClientStorage } from "./storage.js";

const fields = { n: t.number({ fallback: 0 }), tag: t.string({ optional: true }), aId: t.ref("a") };
const schema = createSchema({ entities: { a: fields, b: fields, c: fields, d: fields } });
const open = useStoredClients(schema);

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
