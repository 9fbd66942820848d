import { createSchema, t } from "@trellis/core";
import { expect, it } from "vitest";
import { createClient } from "./index.js";
import {
  copyResult,
  createRandom,
  sameResult,
  seedOf,
  type LooseCallback as Callback,
  type LooseCollection,
  type LooseDoc,
  type LooseBatch as KitBatch,
} from "./testing/fuzz-kit.js";

/**
 * Model test of live aggregates: random aggregate subscriptions follow random writes made
 * through the public API; after every write each subscription's last delivery must equal a fresh
 * one-shot query, no callback may repeat its previous delivery, and none may run twice for one
 * write. Bulk commits (over 512 rows) exercise the recompute path. Reproduce a failure with
 * `SEED=<seed> npx vitest run packages/client/src/aggregate-fuzz.test.ts`.
 */

const SEED = seedOf(process.env.SEED, 0x5eed_a66);
const SUBSCRIPTIONS = 50;
const WRITES = 2_000;

const schema = createSchema({
  entities: {
    items: {
      tag: t.string({ optional: true }),
      kind: t.string({ fallback: "plain" }),
      score: t.number({ fallback: 0 }),
      rank: t.number({ optional: true }),
      done: t.boolean({ fallback: false }),
      due: t.date({ optional: true }),
      seen: t.date({ fallback: "now" }),
      labelIds: t.refMany("labels"),
      meta: t.json({ optional: true }),
    },
    labels: { name: t.string({ fallback: "" }) },
  },
});

type Doc = LooseDoc;

type LooseBatch = KitBatch<"items">;

const BASE_MS = Date.UTC(2024, 0, 1);
const TAGS = ["a", "b", "c", "d"];
const KINDS = ["x", "y", "plain"];
const SCORES = [-1, 0, 0.1, 0.2, 0.5, 1, 2, 3, 1e9];
const RANKS = [0, 1, 2, 5];
const DATES = [0, 1_000, 60_000, 86_400_000].map((offset) => new Date(BASE_MS + offset));
const LABELS = ["L1", "L2", "L3"];
const GROUPABLE = ["tag", "kind", "score", "rank", "done", "due", "seen", "createdAt"];
const NUMERIC = ["score", "rank"];
const EXTREMES = ["tag", "kind", "score", "rank", "due", "seen", "id", "createdAt", "updatedAt"];
const COUNTABLE = ["tag", "rank", "due", "labelIds", "meta", "done"];

it(`keeps ${SUBSCRIPTIONS} aggregate subscriptions equal to fresh queries over ${WRITES} random writes (seed ${SEED})`, async () => {
  const random = createRandom(SEED);
  let wallMs = BASE_MS;
  const client = createClient({ schema, userId: "fuzzer", clientId: "fuzz", now: () => wallMs });
  const items = client.database.items as unknown as LooseCollection;
  const batch = client.database.batch as unknown as LooseBatch;
  const live = new Set<string>();
  const someId = () => (live.size > 0 && random.chance(0.95) ? random.pick([...live]) : "missing");

  const valueOf = (field: string): unknown => {
    if (field === "tag") return random.pick(TAGS);
    if (field === "kind") return random.pick(KINDS);
    if (field === "score") return random.pick(SCORES);
    if (field === "rank") return random.pick(RANKS);
    if (field === "done") return random.chance(0.5);
    if (field === "due" || field === "seen") return random.pick(DATES);
    if (field === "labelIds") return LABELS.filter(() => random.chance(0.4));
    return random.pick<unknown>([{ a: 1 }, "m", 0]);
  };
  const randomCreate = (): Doc => {
    const fields: Doc = { kind: valueOf("kind"), score: valueOf("score"), done: valueOf("done") };
    for (const field of ["tag", "rank", "due", "seen", "labelIds", "meta"])
      if (random.chance(0.6)) fields[field] = valueOf(field);
    return fields;
  };
  const randomPartial = (): Doc => {
    const fields: Doc = {};
    for (let n = 1 + random.int(2); n > 0; n--) {
      const field = random.pick(["tag", "kind", "score", "rank", "done", "due", "labelIds", "meta"]);
      fields[field] =
        ["tag", "rank", "due", "meta"].includes(field) && random.chance(0.25) ? undefined : valueOf(field);
    }
    return fields;
  };
  const randomWhere = (): Doc | undefined => {
    const roll = random.next();
    if (roll < 0.35) return undefined;
    if (roll < 0.55)
      return { tag: random.chance(0.5) ? random.pick(TAGS) : { in: [random.pick(TAGS), random.pick(TAGS)] } };
    if (roll < 0.7) return { score: { greaterThan: random.pick(SCORES) } };
    if (roll < 0.8) return { labelIds: random.pick(LABELS) };
    if (roll < 0.9) return { done: random.chance(0.5), rank: { isDefined: true } };
    return { kind: { notEquals: random.pick(KINDS) }, due: { lessThanOrEqual: random.pick(DATES) } };
  };
  const randomQuery = (): Doc => {
    const groupBy = [...new Set(Array.from({ length: random.pick([0, 1, 1, 1, 2]) }, () => random.pick(GROUPABLE)))];
    const aggregations: Doc = {};
    for (let i = 0, count = 1 + random.int(4); i < count; i++) {
      const fn = random.pick(["count", "count", "sum", "avg", "min", "max"]);
      const field =
        fn === "count"
          ? random.chance(0.4)
            ? "*"
            : random.pick(COUNTABLE)
          : fn === "sum" || fn === "avg"
            ? random.pick(NUMERIC)
            : random.pick(EXTREMES);
      aggregations[`${fn}${i}`] = { [fn]: field };
    }
    const query: Doc = { aggregations };
    if (groupBy.length > 0) query.groupBy = groupBy;
    const where = randomWhere();
    if (where !== undefined) query.where = where;
    const names = [...groupBy, ...Object.keys(aggregations)];
    if (random.chance(0.5)) query.orderBy = [[random.pick(names), random.pick(["asc", "desc"])]];
    if (random.chance(0.4)) query.limit = random.int(4);
    return query;
  };

  interface Sub {
    readonly index: number;
    readonly query: Doc;
    readonly isOne: boolean;
    handle: ReturnType<LooseCollection["subscribe"]>;
    calls: number;
    callsThisWrite: number;
    last: unknown;
    isActive: boolean;
  }
  const problems: string[] = [];
  const open = (index: number, query: Doc, isOne: boolean): Sub => {
    const sub = { index, query, isOne, calls: 0, callsThisWrite: 0, last: undefined, isActive: true } as Sub;
    const callback: Callback = (data, error, loading) => {
      if (!sub.isActive) problems.push(`sub ${index} called after unsubscribe`);
      if (error !== undefined || loading)
        problems.push(`sub ${index} got error=${JSON.stringify(error)} loading=${loading}`);
      const snapshot = copyResult(data);
      if (sub.calls > 0 && sameResult(snapshot, sub.last))
        problems.push(`sub ${index} called again with an unchanged result`);
      sub.last = snapshot;
      sub.calls++;
      sub.callsThisWrite++;
    };
    sub.handle = isOne ? items.subscribeOne(query, callback) : items.subscribe(query, callback);
    if (sub.calls !== 1) problems.push(`sub ${index} was not called at once`);
    sub.callsThisWrite = 0;
    return sub;
  };
  const subs: Sub[] = [];
  const newSub = (index: number) =>
    open(
      index,
      subs.length > 0 && random.chance(0.1) ? structuredClone(random.pick(subs).query) : randomQuery(),
      random.chance(0.2),
    );

  let step = -1;
  let description = "initial state";
  const fail = (message: string): never => {
    throw new Error(`[SEED=${SEED}] write #${step} (${description}): ${message}`);
  };
  const check = async () => {
    if (problems.length > 0) fail(problems.slice(0, 5).join("; "));
    for (const sub of subs) {
      if (sub.callsThisWrite > 1) fail(`sub ${sub.index} ran ${sub.callsThisWrite} times for one write`);
      sub.callsThisWrite = 0;
      const fresh = sub.isOne ? await items.queryOne(sub.query) : await items.query(sub.query);
      if (fresh.error) fail(`query ${JSON.stringify(sub.query)} failed: ${fresh.error.message}`);
      if (!sameResult(sub.last, fresh.data)) {
        expect(
          sub.last,
          `[SEED=${SEED}] write #${step} (${description}): sub ${sub.index} ${JSON.stringify(sub.query)} is stale`,
        ).toEqual(fresh.data);
        fail(`sub ${sub.index} ${JSON.stringify(sub.query)} is stale`);
      }
    }
  };
  /** A write must succeed, or fail with NOT_FOUND for an id that does not exist. */
  const expectWritten = (id: string, result: { error?: { code: string; message: string } }) => {
    if (result.error && !(result.error.code === "NOT_FOUND" && !live.has(id))) fail(result.error.message);
  };
  const refreshLive = async () => {
    live.clear();
    for (const doc of (await items.query({ fields: { id: true } })).data!) live.add(doc.id as string);
  };

  for (let i = 0; i < 40; i++) live.add((await items.create(randomCreate())).data!.id as string);
  for (let i = 0; i < SUBSCRIPTIONS; i++) subs.push(newSub(i));
  await check();

  let nextIndex = SUBSCRIPTIONS;
  const counts: Record<string, number> = {};
  for (step = 0; step < WRITES; step++) {
    wallMs += random.pick([0, 1, 7]);
    if (step % 200 === 199) {
      for (let i = 0; i < 4; i++) {
        const at = random.int(subs.length);
        subs[at]!.handle.unsubscribe();
        subs[at]!.isActive = false;
        subs[at] = newSub(nextIndex++);
      }
    }
    // Three bulk commits of over 512 rows: the views recompute instead of folding row by row.
    const kind =
      step === 700
        ? "bulkCreate"
        : step === 701
          ? "bulkUpdate"
          : step === 702
            ? "bulkDelete"
            : live.size < 15
              ? "create"
              : random.pick([
                  "create",
                  "update",
                  "update",
                  "update",
                  "updateFn",
                  "delete",
                  "updateMany",
                  "deleteMany",
                  "batch",
                  "unseen",
                ]);
    counts[kind] = (counts[kind] ?? 0) + 1;
    description = kind;
    switch (kind) {
      case "create": {
        const fields = randomCreate();
        description = `create ${JSON.stringify(fields)}`;
        live.add((await items.create(fields)).data!.id as string);
        break;
      }
      case "update": {
        const id = someId();
        const fields = randomPartial();
        description = `update ${id} ${JSON.stringify(fields)}`;
        expectWritten(id, await items.update({ id, fields }));
        break;
      }
      case "updateFn": {
        const id = someId();
        description = `update ${id} score + 1`;
        expectWritten(
          id,
          await items.update({ id, fields: (previous: Doc) => ({ score: (previous.score as number) + 1 }) }),
        );
        break;
      }
      case "delete": {
        const id = someId();
        description = `delete ${id}`;
        expectWritten(id, await items.delete(id));
        live.delete(id);
        break;
      }
      case "updateMany": {
        const where = randomWhere() ?? {};
        const fields = randomPartial();
        description = `updateMany ${JSON.stringify(where)} ${JSON.stringify(fields)}`;
        const result = await items.updateMany({ where, fields });
        if (result.error) fail(result.error.message);
        break;
      }
      case "deleteMany": {
        const where = { tag: random.pick(TAGS), kind: random.pick(KINDS) };
        description = `deleteMany ${JSON.stringify(where)}`;
        await items.deleteMany({ where });
        await refreshLive();
        break;
      }
      case "batch": {
        const ops = Array.from({ length: 2 + random.int(5) }, () => {
          const op = random.pick(["create", "update", "update", "delete"]);
          if (op === "create") return batch.items.create!(randomCreate() as never);
          if (op === "update") return batch.items.update!({ id: someId(), fields: randomPartial() } as never);
          return batch.items.delete!(someId() as never);
        });
        description = `batch ${JSON.stringify(ops)}`;
        const result = await batch.execute(ops);
        if (result.error) fail(result.error.message);
        await refreshLive();
        break;
      }
      case "unseen": {
        // A field no aggregate query reads: no subscription may hear of it.
        const id = someId();
        description = `update ${id} labels`;
        expectWritten(id, await items.update({ id, fields: { labelIds: valueOf("labelIds") } }));
        break;
      }
      case "bulkCreate": {
        const ops = Array.from({ length: 600 }, () =>
          batch.items.create!({ ...randomCreate(), kind: "bulk" } as never),
        );
        const result = await batch.execute(ops);
        if (result.error) fail(result.error.message);
        await refreshLive();
        break;
      }
      case "bulkUpdate": {
        const result = await items.updateMany({
          where: { kind: "bulk" },
          fields: (previous: Doc) => ({ score: (previous.score as number) * 2 }),
        });
        expect(result.data?.count).toBe(600);
        break;
      }
      case "bulkDelete": {
        const result = await items.deleteMany({ where: { kind: "bulk" } });
        expect(result.data?.count).toBe(600);
        await refreshLive();
        break;
      }
    }
    await check();
  }

  const totalCalls = subs.reduce((sum, sub) => sum + sub.calls, 0);
  // The run only means something if subscriptions followed many changes.
  expect(totalCalls).toBeGreaterThan(SUBSCRIPTIONS * 20);
  expect(Object.keys(counts)).toHaveLength(11); // every kind of write came up
  await client.close();
}, 180_000); // a few seconds alone; the margin is for a busy machine, not a timing assertion
