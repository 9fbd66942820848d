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
 * Model test of live queries: many random subscriptions follow many random writes made through
 * the public API, and after every write each subscription's last delivery must equal a fresh
 * one-shot query, no callback may repeat its previous delivery, and none may run twice for one
 * write. Reproduce a failure with `SEED=<seed> npx vitest run packages/client/src/subscription-fuzz.test.ts`.
 */

const SEED = seedOf(process.env.SEED, 0x5eed_2024);
const SUBSCRIPTIONS = 200;
const WRITES = 5_000;

const schema = createSchema({
  entities: {
    items: {
      title: t.string({ fallback: "" }),
      tag: t.string({ fallback: "none" }),
      score: t.number({ fallback: 0 }),
      rank: t.number({ optional: true }),
      done: t.boolean({ fallback: false }),
      due: t.date({ optional: true }),
      seen: t.date({ fallback: "now" }),
      note: t.string({ optional: true }),
      ownerId: t.ref("labels"),
      labelIds: t.refMany("labels"),
      meta: t.json({ optional: true }),
    },
    labels: { name: t.string({ fallback: "" }) },
  },
});

type Doc = LooseDoc;

type LooseBatch = KitBatch<"items">;

const BASE_MS = Date.UTC(2024, 0, 1);
const TITLES = ["", "a", "ab", "abc", "b", "ba", "B", "é"];
const TAGS = ["a", "b", "c", "d", "none"];
const SCORES = [-1, 0, 0.5, 1, 2, 3];
const RANKS = [0, 1, 2, 5];
const DATES = [0, 1_000, 60_000, 3_600_000, 86_400_000].map((offset) => new Date(BASE_MS + offset));
const NOTES = ["", "x", "xy", "y"];
const LABELS = ["L1", "L2", "L3", "L4"];
const METAS = [{ a: 1 }, [1, 2], "m", 0, null];
const FIELDS = [
  "id",
  "title",
  "tag",
  "score",
  "rank",
  "done",
  "due",
  "seen",
  "note",
  "ownerId",
  "labelIds",
  "meta",
  "createdAt",
  "updatedAt",
  "createdBy",
];
const SORTABLE = [
  "id",
  "title",
  "tag",
  "score",
  "rank",
  "done",
  "due",
  "seen",
  "note",
  "ownerId",
  "createdAt",
  "updatedAt",
];
const REQUIRED = ["title", "tag", "score", "done"] as const;
const OPTIONAL = ["rank", "due", "seen", "note", "ownerId", "labelIds", "meta"] as const;

it(`keeps ${SUBSCRIPTIONS} random subscriptions equal to fresh queries over ${WRITES} random writes (seed ${SEED})`, async () => {
  const random = createRandom(SEED);
  let wallMs = BASE_MS;
  let idCounter = 0;
  const client = createClient({
    schema,
    userId: "fuzzer",
    clientId: "fuzz-client",
    now: () => wallMs,
    // Random-looking but seeded ids, so sort order by id is not creation order.
    generateId: () => `${"abcdefghij"[random.int(10)]}${(idCounter++).toString(36).padStart(4, "0")}`,
  });
  const items = client.database.items as unknown as LooseCollection;
  const batch = client.database.batch as unknown as LooseBatch;
  const live = new Set<string>();

  const ids = () => [...live];
  const someId = () => (live.size > 0 && random.chance(0.9) ? random.pick(ids()) : `missing${random.int(3)}`);

  const valueOf = (field: string): unknown => {
    switch (field) {
      case "title":
        return random.pick(TITLES);
      case "tag":
        return random.pick(TAGS);
      case "score":
        return random.pick(SCORES);
      case "rank":
        return random.pick(RANKS);
      case "done":
        return random.chance(0.5);
      case "due":
      case "seen":
        return random.pick(DATES);
      case "note":
        return random.pick(NOTES);
      case "ownerId":
        return random.pick(LABELS);
      case "labelIds":
        return random.subset(LABELS, 0.35);
      case "meta":
        return random.pick(METAS);
      default:
        throw new Error(`no values for ${field}`);
    }
  };
  const operandOf = (field: string): unknown => {
    switch (field) {
      case "id":
        return someId();
      case "createdAt":
      case "updatedAt":
        return new Date(BASE_MS + random.int(Math.max(1, wallMs - BASE_MS + 2)));
      case "createdBy":
        return random.pick(["fuzzer", "other"]);
      case "labelIds":
        return random.pick(LABELS);
      default:
        return valueOf(field);
    }
  };

  /** One random condition on a field, as a `where` entry value (an operator object or a bare value). */
  const conditionOf = (field: string): unknown => {
    if (field === "meta") return random.chance(0.5) ? { isDefined: true } : { isUndefined: true };
    const ops: string[] = ["equals", "notEquals", "in", "notIn", "isDefined", "isUndefined"];
    if (field === "labelIds") {
      // membership only
    } else if (field === "done") {
      // booleans: equality only
    } else {
      ops.push("greaterThan", "greaterThanOrEqual", "lessThan", "lessThanOrEqual");
      if (["title", "tag", "note", "ownerId", "id", "createdBy"].includes(field))
        ops.push("contains", "startsWith", "endsWith");
    }
    const op = random.pick(ops);
    if (op === "equals" && random.chance(0.5)) return operandOf(field); // bare value
    if (op === "isDefined" || op === "isUndefined") return { [op]: random.chance(0.8) };
    if (op === "in" || op === "notIn") return { [op]: Array.from({ length: random.int(4) }, () => operandOf(field)) };
    if (op === "contains" || op === "startsWith" || op === "endsWith")
      return { [op]: random.pick(["a", "b", "", "x", "0"]) };
    if (op.startsWith("greater") && random.chance(0.3)) {
      // A bounded range on one field.
      const lower = operandOf(field);
      return { [op]: lower, [random.pick(["lessThan", "lessThanOrEqual"])]: operandOf(field) };
    }
    return { [op]: operandOf(field) };
  };

  const randomWhere = (maxConditions: number, depth = 0): Doc | undefined => {
    const count = random.int(maxConditions + 1);
    if (count === 0) return random.chance(0.5) ? undefined : {};
    const where: Doc = {};
    for (let i = 0; i < count; i++) {
      // Bias towards fields the registry can route by, and the refMany.
      const field = random.chance(0.35) ? random.pick(["tag", "labelIds", "id", "done", "score"]) : random.pick(FIELDS);
      where[field] = conditionOf(field);
    }
    // Combinators: a document may enter or leave through a field that only an `or` or `not` reads.
    if (depth < 2 && random.chance(0.2))
      where.or = Array.from({ length: 1 + random.int(2) }, () => randomWhere(2, depth + 1) ?? {});
    if (depth < 2 && random.chance(0.15)) where.not = randomWhere(2, depth + 1) ?? {};
    return where;
  };

  const randomQuery = (): Doc => {
    const query: Doc = {};
    if (random.chance(0.8)) {
      const fields: Doc = {};
      for (const field of random.subset(FIELDS, 0.3)) fields[field] = true;
      query.fields = fields;
    }
    const where = randomWhere(3);
    if (where !== undefined) query.where = where;
    const sorts = random.int(3);
    if (sorts > 0) {
      const tuples = Array.from({ length: sorts }, () => [random.pick(SORTABLE), random.pick(["asc", "desc"])]);
      query.orderBy = tuples.length === 1 && random.chance(0.5) ? tuples[0] : tuples;
    }
    if (random.chance(0.8)) query.limit = random.int(9);
    return query;
  };

  const randomCreate = (): Doc => {
    const fields: Doc = {};
    for (const field of REQUIRED) fields[field] = valueOf(field);
    for (const field of OPTIONAL) if (random.chance(0.5)) fields[field] = valueOf(field);
    return fields;
  };
  const randomPartial = (): Doc => {
    const fields: Doc = {};
    const count = 1 + random.int(3);
    for (let i = 0; i < count; i++) {
      const field = random.pick([...REQUIRED, ...OPTIONAL, "note", "meta"]);
      // Optional fields may be removed with undefined (not "seen": its "now" fallback makes it required).
      fields[field] =
        field !== "seen" && (OPTIONAL as readonly string[]).includes(field) && random.chance(0.25)
          ? undefined
          : valueOf(field);
    }
    return fields;
  };
  const randomUpdater = (): ((previous: Doc) => Doc) =>
    random.pick([
      (previous: Doc) => ({ score: (previous.score as number) + 1 }),
      (previous: Doc) => ({ done: !(previous.done as boolean) }),
      (previous: Doc) => ({ rank: previous.rank === undefined ? 0 : (previous.rank as number) + 1 }),
      (previous: Doc) => ({ title: `${previous.title as string}a`.slice(-3) }),
      (previous: Doc) => ({
        labelIds: [...(previous.labelIds as string[]), LABELS[(previous.labelIds as string[]).length % LABELS.length]],
      }),
      (previous: Doc) => ({ labelIds: (previous.labelIds as string[]).slice(1) }),
      (previous: Doc) => ({ due: previous.due === undefined ? DATES[0] : undefined }),
      (previous: Doc) => ({ score: previous.score }), // writes the same value
    ]);

  // ---- subscriptions ----

  interface Sub {
    readonly index: number;
    readonly query: Doc;
    readonly isOne: boolean;
    handle: ReturnType<LooseCollection["subscribe"]>;
    calls: number;
    callsThisWrite: number;
    hasDelivered: boolean;
    /** A copy of the last delivery, so a later mutation of delivered data cannot hide a change. */
    last: unknown;
    /** The last delivery itself. */
    delivered: unknown;
    isActive: boolean;
  }
  const problems: string[] = [];
  const subs: Sub[] = [];
  const open = (index: number, query: Doc, isOne: boolean): Sub => {
    const sub = {
      index,
      query,
      isOne,
      calls: 0,
      callsThisWrite: 0,
      hasDelivered: false,
      last: undefined,
      isActive: true,
    } as Sub;
    const callback: Callback = (data, error, loading) => {
      if (!sub.isActive) problems.push(`sub ${index} called after unsubscribe`);
      if (error !== undefined || loading)
        problems.push(`sub ${index} got error=${JSON.stringify(error)} loading=${loading}`);
      const snapshot = copyResult(data);
      sub.delivered = data;
      if (sub.hasDelivered && sameResult(snapshot, sub.last)) {
        problems.push(`sub ${index} called again with an unchanged result ${JSON.stringify(snapshot)}`);
      }
      sub.hasDelivered = true;
      sub.last = snapshot;
      sub.calls++;
      sub.callsThisWrite++;
    };
    sub.handle = isOne ? items.subscribeOne(query, callback) : items.subscribe(query, callback);
    if (sub.calls !== 1) problems.push(`sub ${index} was not called at once (calls=${sub.calls})`);
    return sub;
  };
  const newSub = (index: number): Sub => {
    // Some subscriptions repeat an earlier query, so live queries are shared between callbacks.
    const query = subs.length > 0 && random.chance(0.1) ? structuredClone(random.pick(subs).query) : randomQuery();
    return open(index, query, random.chance(0.2));
  };

  let step = -1;
  let description = "initial state";
  const fail = (message: string): never => {
    throw new Error(`[SEED=${SEED}] write #${step} (${description}): ${message}`);
  };

  const check = async () => {
    if (problems.length > 0) fail(problems.slice(0, 5).join("; "));
    const fresh = await Promise.all(
      subs.map((sub) => (sub.isOne ? items.queryOne(sub.query) : items.query(sub.query))),
    );
    for (const [i, sub] of subs.entries()) {
      if (sub.callsThisWrite > 1)
        fail(`sub ${sub.index} ran ${sub.callsThisWrite} times for one write; query ${JSON.stringify(sub.query)}`);
      sub.callsThisWrite = 0;
      const result = fresh[i]!;
      if (result.error) fail(`query ${JSON.stringify(sub.query)} failed: ${result.error.message}`);
      if (!sameResult(sub.last, result.data)) {
        const message = `sub ${sub.index} (${sub.isOne ? "subscribeOne" : "subscribe"} ${JSON.stringify(sub.query)}) is stale`;
        expect(sub.last, `[SEED=${SEED}] write #${step} (${description}): ${message}`).toEqual(result.data);
        fail(message); // toEqual is looser (it ignores undefined keys); stay strict
      }
      if (sub.handle.getCurrentState().data !== sub.delivered)
        fail(`sub ${sub.index}: getCurrentState is not the last delivery`);
    }
  };

  // Seed some documents before subscribing, so initial results are not all empty.
  for (let i = 0; i < 30; i++) {
    const created = await items.create(randomCreate());
    if (created.error) fail(`seed create failed: ${created.error.message}`);
    live.add(created.data!.id as string);
  }
  for (let i = 0; i < SUBSCRIPTIONS; i++) subs.push(newSub(i));
  await check();

  let nextIndex = SUBSCRIPTIONS;
  const counts: Record<string, number> = {};
  for (step = 0; step < WRITES; step++) {
    wallMs += random.pick([0, 0, 1, 7]);
    // Now and then, replace a few subscriptions: shared live queries must survive a release.
    if (step % 250 === 249) {
      for (let i = 0; i < 5; i++) {
        const at = random.int(subs.length);
        const old = subs[at]!;
        old.handle.unsubscribe();
        old.isActive = false;
        subs[at] = newSub(nextIndex++);
        subs[at]!.callsThisWrite = 0; // its first call came from subscribing, not from this write
      }
    }
    const size = live.size;
    const roll = random.next();
    const kind =
      size < 10 && roll < 0.5
        ? "create"
        : size > 35 && roll < 0.4
          ? "delete"
          : random.pick([
              "create",
              "create",
              "update",
              "update",
              "update",
              "updateFn",
              "updateFn",
              "replace",
              "delete",
              "updateMany",
              "updateManyFn",
              "deleteMany",
              "batch",
              "batch",
              "unseen",
            ]);
    counts[kind] = (counts[kind] ?? 0) + 1;
    description = kind;
    switch (kind) {
      case "create": {
        const fields = randomCreate();
        description = `create ${JSON.stringify(fields)}`;
        const created = await items.create(fields);
        if (created.error) fail(created.error.message);
        live.add(created.data!.id as string);
        break;
      }
      case "update": {
        const id = someId();
        const fields = randomPartial();
        description = `update ${id} ${JSON.stringify(fields)}`;
        const result = await items.update({ id, fields });
        if (result.error && !(result.error.code === "NOT_FOUND" && !live.has(id))) fail(result.error.message);
        break;
      }
      case "updateFn": {
        const id = someId();
        const updater = randomUpdater();
        description = `update ${id} with ${updater.toString()}`;
        const result = await items.update({ id, fields: updater });
        if (result.error && !(result.error.code === "NOT_FOUND" && !live.has(id))) fail(result.error.message);
        break;
      }
      case "replace": {
        const id = someId();
        const fields = randomCreate();
        description = `replace ${id} ${JSON.stringify(fields)}`;
        const result = await items.replace({ id, fields });
        if (result.error && !(result.error.code === "NOT_FOUND" && !live.has(id))) fail(result.error.message);
        break;
      }
      case "delete": {
        const id = someId();
        description = `delete ${id}`;
        const result = await items.delete(id);
        if (result.error && !(result.error.code === "NOT_FOUND" && !live.has(id))) fail(result.error.message);
        live.delete(id);
        break;
      }
      case "updateMany":
      case "updateManyFn": {
        const where = randomWhere(2) ?? {};
        const fields = kind === "updateMany" ? randomPartial() : randomUpdater();
        description = `updateMany ${JSON.stringify(where)} ${typeof fields === "function" ? fields.toString() : JSON.stringify(fields)}`;
        const result = await items.updateMany({ where, fields });
        if (result.error) fail(result.error.message);
        break;
      }
      case "deleteMany": {
        // Two conditions keep most deletions small.
        const where = { tag: random.pick(TAGS), score: random.pick(SCORES) };
        description = `deleteMany ${JSON.stringify(where)}`;
        const matching = await items.query({ where, fields: { id: true } });
        const result = await items.deleteMany({ where });
        if (result.error) fail(result.error.message);
        if (result.data!.count !== matching.data!.length)
          fail(`deleteMany counted ${result.data!.count}, expected ${matching.data!.length}`);
        for (const doc of matching.data!) live.delete(doc.id as string);
        break;
      }
      case "batch": {
        const ops: unknown[] = [];
        const length = 2 + random.int(6);
        for (let i = 0; i < length; i++) {
          const op = random.pick([
            "create",
            "update",
            "update",
            "update",
            "replace",
            "delete",
            "updateMany",
            "deleteMany",
          ]);
          if (op === "create") ops.push(batch.items.create!(randomCreate() as never));
          else if (op === "update") ops.push(batch.items.update!({ id: someId(), fields: randomPartial() } as never));
          else if (op === "replace") ops.push(batch.items.replace!({ id: someId(), fields: randomCreate() } as never));
          else if (op === "delete") ops.push(batch.items.delete!(someId() as never));
          else if (op === "updateMany")
            ops.push(batch.items.updateMany!({ where: randomWhere(2) ?? {}, fields: randomPartial() } as never));
          else
            ops.push(
              batch.items.deleteMany!({
                where: { tag: random.pick(TAGS), rank: random.pick(RANKS), done: random.chance(0.5) },
              } as never),
            );
        }
        description = `batch ${JSON.stringify(ops)}`;
        const result = await batch.execute(ops);
        if (result.error) fail(result.error.message);
        for (const [i, each] of result.data!.entries()) {
          if (each.error !== undefined && each.error.code !== "NOT_FOUND")
            fail(`batch op ${i} failed: ${JSON.stringify(each.error)}`);
        }
        // Recompute the live set: batches may create and delete many.
        const all = await items.query({ fields: { id: true } });
        live.clear();
        for (const doc of all.data!) live.add(doc.id as string);
        break;
      }
      case "unseen": {
        // A write only to the JSON field, which few queries return and none sorts on.
        const id = someId();
        const fields = { meta: random.pick(METAS) };
        description = `update ${id} ${JSON.stringify(fields)}`;
        const result = await items.update({ id, fields });
        if (result.error && !(result.error.code === "NOT_FOUND" && !live.has(id))) fail(result.error.message);
        break;
      }
    }
    await check();
  }

  const totalCalls = subs.reduce((sum, sub) => sum + sub.calls, 0);
  // The run is only meaningful if subscriptions actually followed changes and writes were varied.
  expect(totalCalls).toBeGreaterThan(SUBSCRIPTIONS * 10);
  expect(Object.keys(counts).length).toBeGreaterThanOrEqual(10);
  await client.close();
}, 180_000); // about 25 s alone; the margin is for a busy machine, not a timing assertion
