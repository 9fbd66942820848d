import { createSchema, t, TICKS_PER_MS, type Triple } from "@trellis/core";
import { describe, expect, it } from "vitest";
import { canonicalKey, modelOf, modelState } from "../../../core/src/testing/lww-model.js";
import { createClient, type TrellisClient } from "../create-client.js";
import { createRandom, seedOf } from "../testing/fuzz-kit.js";
import {
  allOnline,
  FAST_RECONNECT,
  type FrameLog,
  recordFrames,
  useServerProcess,
  waitFor,
} from "../testing/live-server.js";

// Convergence of replicas through a real `trellis-server` process: after any mix of concurrent
// writes, disconnects and reconnects, once every client is online with nothing pending, every
// replica holds what the server holds, and both equal a last-writer-wins model computed from the
// triples the clients pushed (their HLCs decide). Seeds are fixed, printed on failure, and
// overridable with SEED.

const schema = createSchema({
  entities: {
    items: {
      title: t.string({ optional: true, fallback: "" }),
      n: t.number({ optional: true, fallback: 0 }),
      tagIds: t.refMany("tags"),
    },
    tags: { name: t.string({ fallback: "" }) },
  },
});
type Client = TrellisClient<typeof schema>;
type Row = Record<string, unknown>;

/** Every field of every item, in id order: what each replica follows and what is compared. */
const ALL_ITEMS = {
  fields: { id: true, title: true, n: true, tagIds: true, createdAt: true, updatedAt: true, createdBy: true },
  orderBy: ["id", "asc"],
} as const;
/**
 * What replicas follow, by index: every item, or only some (so documents enter and leave their
 * results as other clients write), with the filter applied to the server's items to check them.
 */
const VIEWS = [
  { where: {}, matches: () => true },
  { where: { n: { lessThan: 50 } }, matches: (item: Row) => (item.n as number) < 50 },
  { where: { tagIds: "red" }, matches: (item: Row) => (item.tagIds as string[]).includes("red") },
] as const;
const TAGS = ["red", "green", "blue", "gold", "grey"];
const WORDS = ["ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen"];

/** One client, the frames it exchanged and its live view of every item. */
interface Replica {
  readonly name: string;
  readonly client: Client;
  readonly frames: FrameLog;
  /** The replica's current items (its subscription's data). */
  items(): readonly Row[];
  /** Which of all items the replica follows. */
  matches(item: Row): boolean;
  isDisconnected: boolean;
}

const live = useServerProcess();

/** Replicas of a fresh app; with `isFiltered` they follow the {@link VIEWS} in turn, else every item. */
function replicasOf(count: number, isFiltered = false): Replica[] {
  const appId = live.newApp("converge");
  return Array.from({ length: count }, (_, index) => {
    const name = `c${index}`;
    const frames = recordFrames();
    let next = 0;
    const client = createClient({
      schema,
      appId,
      serverUrl: live.server.url,
      userId: `user-${name}`,
      // Fixed node ids and document ids: a run's choices depend only on its seed and on timing.
      clientId: name,
      generateId: () => `${name}-${(next++).toString().padStart(4, "0")}`,
      WebSocket: frames.WebSocket,
      reconnect: FAST_RECONNECT,
    });
    live.track(client);
    const view = isFiltered ? VIEWS[index % VIEWS.length]! : VIEWS[0]!;
    const subscription = client.database.items.subscribe({ ...ALL_ITEMS, where: view.where }, () => {});
    return {
      name,
      client,
      frames,
      items: () => subscription.getCurrentState().data ?? [],
      matches: view.matches,
      isDisconnected: false,
    };
  });
}

/** Every triple the replicas pushed over their sockets (re-sends included: merging is idempotent). */
function pushedTriples(replicas: readonly Replica[]): Triple[] {
  return replicas.flatMap((replica) => replica.frames.sentOf("push").flatMap((push) => push.triples));
}

/** The items the model says every replica should show. */
function modelItems(pushed: readonly Triple[]): Row[] {
  const items: Row[] = [];
  for (const doc of modelOf(pushed).values()) {
    if (doc.collection !== "items" || doc.tombstone !== undefined) continue;
    const value = (cell: string) => doc.cells.get(cell)?.value;
    const title = value("title");
    const n = value("n");
    items.push({
      id: doc.id,
      title: typeof title === "string" ? title : "",
      n: typeof n === "number" ? n : 0,
      tagIds: TAGS.filter((tag) => value(`tagIds\u0000${tag}`) === true).sort(),
      createdAt: new Date(value("createdAt") as number),
      // Losing writes never carry more ticks than the cell's winner, so the largest ticks of the
      // document are its winners' largest.
      updatedAt: new Date(Math.floor(doc.maxTicks / TICKS_PER_MS)),
      createdBy: value("createdBy"),
    });
  }
  return items.sort((a, b) => ((a.id as string) < (b.id as string) ? -1 : 1));
}

/**
 * Brings every replica online, waits for quiescence (everything acknowledged, every query
 * answered, every replica caught up with the server) and checks that replicas, server and model
 * agree. Returns the converged items.
 */
async function expectConverged(replicas: readonly Replica[], context: () => string): Promise<readonly Row[]> {
  for (const replica of replicas) {
    if (replica.isDisconnected) replica.client.connect();
    replica.isDisconnected = false;
  }
  await allOnline(
    replicas.map((replica) => replica.client),
    30_000,
  );
  // Nothing is pending anywhere: the server holds every write. A fresh client asks it, over HTTP
  // (preload: the stored triples) and over its socket (the documents).
  const observer = live.track(
    createClient({ schema, appId: replicas[0]!.client.appId, serverUrl: live.server.url, reconnect: FAST_RECONNECT }),
  );
  const answer = await observer.database.items.preload(ALL_ITEMS);
  expect(answer.error, context()).toBeUndefined();
  const onServer = (await observer.database.items.query(ALL_ITEMS)).data!;

  const pushed = pushedTriples(replicas);
  expect(onServer, `the server against the model\n${context()}`).toEqual(modelItems(pushed));
  // Triple for triple: the server stores exactly each live cell's winner.
  const sorted = (triples: readonly Triple[]) =>
    [...triples].sort((a, b) => (canonicalKey(a) < canonicalKey(b) ? -1 : 1));
  const liveIds = new Set(onServer.map((item) => item.id));
  const expected = modelState(pushed).filter((triple) => triple.collection === "items" && liveIds.has(triple.id));
  expect(sorted(answer.data!.triples), `the server's triples against the model\n${context()}`).toEqual(expected);

  const expectedOf = (replica: Replica) => onServer.filter((item) => replica.matches(item));
  await waitFor(
    () => replicas.every((replica) => JSON.stringify(replica.items()) === JSON.stringify(expectedOf(replica))),
    () =>
      `every replica equal to the server\n${replicas.map((replica) => differences(replica, expectedOf(replica), replicas)).join("")}${context()}`,
  );
  for (const replica of replicas)
    expect(replica.items(), `${replica.name} against the server\n${context()}`).toEqual(expectedOf(replica));
  return onServer;
}

/**
 * How a replica's items differ from the expected ones, by id, with the history of each differing
 * document on the wire (who pushed what, what the replica received); empty when they do not.
 */
function differences(replica: Replica, expected: readonly Row[], replicas: readonly Replica[]): string {
  const byId = (rows: readonly Row[]) => new Map(rows.map((row) => [row.id as string, JSON.stringify(row)]));
  const [has, wants] = [byId(replica.items()), byId(expected)];
  const differing = new Set<string>();
  for (const [id, row] of wants) if (has.get(id) !== row) differing.add(id);
  for (const id of has.keys()) if (!wants.has(id)) differing.add(id);
  const show = (triple: Triple) =>
    `${triple.field}${triple.element === undefined ? "" : `[${triple.element}]`}=${JSON.stringify(triple.value)} @${triple.hlc}`;
  const lines: string[] = [];
  for (const id of differing) {
    lines.push(`  ${id}: has ${has.get(id) ?? "nothing"}, server ${wants.get(id) ?? "nothing"}`);
    for (const each of replicas) {
      for (const push of each.frames.sentOf("push")) {
        for (const triple of push.triples)
          if (triple.id === id) lines.push(`    pushed by ${each.name} in ${push.batchId}: ${show(triple)}`);
      }
    }
    replica.frames.received.forEach((message, index) => {
      if (!("triples" in message)) return;
      for (const triple of message.triples)
        if (triple.id === id)
          lines.push(
            `    ${replica.name} received #${index} ${message.type} (cursor ${"cursor" in message ? message.cursor : "none"}): ${show(triple)}`,
          );
    });
  }
  const sockets = `${replica.name} opened ${replica.frames.sockets} sockets; received ${replica.frames.received.map((message) => message.type).join(" ")}`;
  return lines.length === 0 ? "" : `${replica.name} differs:\n${lines.join("\n")}\n${sockets}\n`;
}

describe("random concurrent writes with disconnects", () => {
  // Each run has a seed of its own; SEED=<n> runs every one with that seed.
  const seedFor = (fallback: number) => seedOf(process.env.SEED, fallback);
  const runs: [clients: number, steps: number, views: "all" | "filtered", restarts: number, seed: number][] = [
    [2, 1_000, "all", 0, seedFor(0x7e11_0001)],
    [2, 1_000, "filtered", 1, seedFor(0x7e11_0002)],
    [5, 2_000, "all", 0, seedFor(0x7e11_0003)],
    [5, 2_000, "filtered", 2, seedFor(0x7e11_0004)],
  ];

  it.each(runs)(
    "%i clients, %i steps, %s views, %i server restarts, seed %i: every replica equals the server and the model",
    async (count, steps, views, restarts, seed) => {
      const random = createRandom(seed);
      const replicas = replicasOf(count, views === "filtered");
      const log: string[] = [];
      const context = () =>
        `SEED=${seed} (rerun with: SEED=${seed} npx vitest run packages/client/src/sync/convergence.test.ts)\nlast steps:\n${log.slice(-25).join("\n")}`;
      try {
        await allOnline(replicas.map((replica) => replica.client));
        // The server crashes (SIGKILL) and comes back at these steps: acknowledged writes must survive, the rest is pushed again.
        const restartAt = new Set(Array.from({ length: restarts }, () => random.int(steps)));
        for (let step = 0; step < steps; step++) {
          if (restartAt.has(step)) {
            log.push(`${step} server restart`);
            await live.server.restart();
          }
          const replica = random.pick(replicas);
          if (random.chance(0.04)) {
            replica.isDisconnected = !replica.isDisconnected;
            if (replica.isDisconnected) replica.client.disconnect();
            else replica.client.connect();
            log.push(`${step} ${replica.name} ${replica.isDisconnected ? "disconnect" : "connect"}`);
            continue;
          }
          log.push(`${step} ${replica.name} ${await randomWrite(replica, random)}`);
          // Now and then the network gets a moment; otherwise writes of several clients pile up concurrently.
          if (random.chance(0.2)) await new Promise((resolve) => setTimeout(resolve, random.int(3)));
        }
        const items = await expectConverged(replicas, context);
        expect(items.length, context()).toBeGreaterThan(0);
      } catch (error) {
        if (error instanceof Error && !error.message.includes(`SEED=${seed}`))
          error.message = `${context()}\n${error.message}`;
        throw error;
      }
    },
  );
});

/** One random write on a replica's own data; returns what it did. */
async function randomWrite(replica: Replica, random: ReturnType<typeof createRandom>): Promise<string> {
  const items = replica.client.database.items;
  const known = replica.items();
  const roll = random.next();
  if (known.length === 0 || roll < 0.2) {
    const created = await items.create({
      title: random.pick(WORDS),
      n: random.int(100),
      tagIds: random.subset(TAGS, 0.3),
    });
    expect(created.error).toBeUndefined();
    return `create ${created.data!.id}`;
  }
  const id = random.pick(known).id as string;
  let result: { error?: { code: string } | undefined };
  let what: string;
  if (roll < 0.45) {
    const title = random.pick(WORDS);
    result = await items.update({ id, fields: { title } });
    what = `title ${id} ${title}`;
  } else if (roll < 0.6) {
    const n = random.int(100);
    result = await items.update({ id, fields: { n } });
    what = `n ${id} ${n}`;
  } else if (roll < 0.7) {
    result = await items.delete(id);
    what = `delete ${id}`;
  } else if (roll < 0.85) {
    const tag = random.pick(TAGS);
    result = await items.update({ id, fields: (previous) => ({ tagIds: [...new Set([...previous.tagIds, tag])] }) });
    what = `add ${id} ${tag}`;
  } else {
    const tag = random.pick(TAGS);
    result = await items.update({
      id,
      fields: (previous) => ({ tagIds: previous.tagIds.filter((each) => each !== tag) }),
    });
    what = `remove ${id} ${tag}`;
  }
  // The target comes from the replica's own current data, so the write applies locally.
  expect(result.error, what).toBeUndefined();
  return what;
}

describe("concurrent writes to one document", () => {
  /** Two replicas holding one item, both offline: what they write next is concurrent. */
  async function concurrentPair(fields: { title?: string; n?: number; tagIds?: string[] } = {}) {
    const replicas = replicasOf(2);
    const [a, b] = replicas as [Replica, Replica];
    const id = (await a.client.database.items.create({ title: "start", n: 0, tagIds: [], ...fields })).data!.id;
    await waitFor(() => b.items().length === 1, "the item reaches b");
    await allOnline([a.client, b.client]);
    for (const replica of replicas) {
      replica.client.disconnect();
      replica.isDisconnected = true;
    }
    return {
      replicas,
      a,
      b,
      id,
      context: () => `replicas ${replicas.map((replica) => JSON.stringify(replica.items())).join(" / ")}`,
    };
  }

  it("keeps concurrent writes to different fields", async () => {
    const { replicas, a, b, context } = await concurrentPair();
    await a.client.database.items.update({ id: a.items()[0]!.id as string, fields: { title: "from a" } });
    await b.client.database.items.update({ id: b.items()[0]!.id as string, fields: { n: 42 } });
    const [item] = await expectConverged(replicas, context);
    expect(item).toMatchObject({ title: "from a", n: 42 });
  });

  it("picks one winner everywhere for concurrent writes to the same field", async () => {
    const { replicas, a, b, id, context } = await concurrentPair();
    await a.client.database.items.update({ id, fields: { title: "from a" } });
    await b.client.database.items.update({ id, fields: { title: "from b" } });
    const [item] = await expectConverged(replicas, context);
    // The write with the larger HLC wins, wherever it was made.
    const writes = pushedTriples(replicas).filter((triple) => triple.field === "title" && triple.value !== "start");
    const winner = writes.reduce((best, triple) => (triple.hlc > best.hlc ? triple : best));
    expect(item!.title).toBe(winner.value);
    expect(["from a", "from b"]).toContain(item!.title);
  });

  it("keeps a document deleted when another client updates it concurrently, even later", async () => {
    const { replicas, a, b, id, context } = await concurrentPair();
    await a.client.database.items.delete(id);
    // A later update by the clock: delete wins anyway.
    await new Promise((resolve) => setTimeout(resolve, 5));
    await b.client.database.items.update({ id, fields: { title: "updated after the delete", n: 7 } });
    expect(b.items()).toHaveLength(1);
    const items = await expectConverged(replicas, context);
    expect(items).toEqual([]);
    const pushed = pushedTriples(replicas);
    const tombstone = pushed.find((triple) => triple.field === "$deleted")!;
    const update = pushed.find((triple) => triple.value === "updated after the delete")!;
    expect(update.hlc > tombstone.hlc).toBe(true);
    expect((await b.client.database.items.update({ id, fields: { n: 8 } })).error?.code).toBe("NOT_FOUND");
  });

  // A client that writes a document it holds but no longer follows on the server (it left the
  // client's result while the client was away) may have missed its changes since: whatever
  // happens to its write, it must end up with the document as the server has it.
  it.each([
    ["deleted", { isDelete: true }, []],
    ["changed the same field later", { n: 80 }, [{ title: "start", n: 80 }]],
    ["changed another field", { title: "from w" }, [{ title: "from w", n: 20 }]],
  ] as const)(
    "converges when a client writes a document that, unknown to it, was meanwhile %s",
    async (_, change, expected) => {
      const replicas = replicasOf(2, true);
      const [w, r] = replicas as [Replica, Replica];
      expect(r.matches({ n: 10 }) && !r.matches({ n: 70 })).toBe(true);
      const id = (await w.client.database.items.create({ title: "start", n: 10 })).data!.id;
      await waitFor(() => r.items().length === 1, "the item reaches r");
      await allOnline([w.client, r.client]);
      // While r is away the item leaves r's result; r, not knowing, writes it back in with a later clock.
      r.client.disconnect();
      await w.client.database.items.update({ id, fields: { n: 70 } });
      await allOnline([w.client]);
      await new Promise((resolve) => setTimeout(resolve, 5));
      await r.client.database.items.update({ id, fields: { n: 20 } });
      // r comes back and resumes its query; its write waits, and meanwhile w changes the item.
      const snapshots = r.frames.receivedOf("snapshot").length;
      r.frames.holdPushes();
      r.client.connect();
      await waitFor(() => r.frames.receivedOf("snapshot").length > snapshots, "r resumes its query");
      expect(r.items()).toHaveLength(1);
      if ("isDelete" in change) await w.client.database.items.delete(id);
      else await w.client.database.items.update({ id, fields: change });
      await allOnline([w.client]);
      r.frames.releasePushes();
      const items = await expectConverged(
        replicas,
        () => `replicas ${replicas.map((replica) => JSON.stringify(replica.items())).join(" / ")}`,
      );
      expect(items.map(({ title, n }) => ({ title, n }))).toEqual(expected);
    },
  );

  it("keeps refMany additions from two clients", async () => {
    const { replicas, a, b, id, context } = await concurrentPair({ tagIds: ["grey"] });
    await a.client.database.items.update({ id, fields: (previous) => ({ tagIds: [...previous.tagIds, "red"] }) });
    await b.client.database.items.update({ id, fields: (previous) => ({ tagIds: [...previous.tagIds, "blue"] }) });
    const [item] = await expectConverged(replicas, context);
    expect(item!.tagIds).toEqual(["blue", "grey", "red"]);
  });
});
