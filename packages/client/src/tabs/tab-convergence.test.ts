import "fake-indexeddb/auto";
import { createSchema, t } from "@trellis/core";
import { describe, expect, it, onTestFinished } from "vitest";
import { createClient, type TrellisClient } from "../create-client.js";
import { createRandom, seedOf } from "../testing/fuzz-kit.js";
import { FAST_RECONNECT, useServerProcess, waitFor } from "../testing/live-server.js";
import { createFakeLocks } from "./fake-locks.js";
import { type SimulatedPage, simulatePage } from "./page-environment.js";

// Tabs of one browser profile (clients on one fake IndexedDB database and one BroadcastChannel)
// and clients on other machines write at random while tabs close (the leader among them), new
// ones open, a tab's page freezes (and resumes later) and a tab's main thread is busy for longer
// than a leader may be silent (so a leader is replaced, and steps down when it runs again). Once
// everything settles, every tab, every other client, the server and a tab opened afresh from
// storage alone hold the same items. Runs with the BroadcastChannel lease, and one with Web
// Locks (an in-process lock manager shared by the tabs). Seeds are fixed, printed on failure,
// and overridable with SEED.

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
const ALL = { fields: { id: true, title: true, n: true, tagIds: true }, orderBy: ["id", "asc"] } as const;
/**
 * What tabs follow in the bounded runs (with `cacheSize: 0`): documents leave it and come back,
 * so tabs drop them from memory and must read them back for what arrives meanwhile.
 */
const LOW = { ...ALL, where: { n: { lessThan: 50 } } } as const;
const WORDS = ["ant", "bee", "cat", "dog", "eel"];
const TAGS = ["red", "green", "blue"];

const live = useServerProcess();

interface Replica {
  readonly name: string;
  readonly client: Client;
  /** A tab's page (undefined for other machines). */
  readonly page: SimulatedPage | undefined;
  /** What it follows: ALL, or LOW for bounded tabs. */
  readonly query: typeof ALL | typeof LOW;
  items(): readonly Row[];
}

function replica(name: string, appId: string, storage: "indexeddb" | "memory", isBounded = false): Replica {
  const bound = isBounded ? { cacheSize: 0 } : {};
  const clientId = `${appId}-${name}`;
  const page = storage === "indexeddb" ? simulatePage(clientId) : undefined;
  const client = live.track(
    createClient({
      schema,
      appId,
      clientId,
      serverUrl: live.server.url,
      storage,
      userId: "u",
      reconnect: FAST_RECONNECT,
      ...bound,
    }),
  );
  const query = isBounded ? LOW : ALL;
  const subscription = client.database.items.subscribe(query, () => {});
  return { name, client, page, query, items: () => subscription.getCurrentState().data ?? [] };
}

async function close(replica: Replica): Promise<void> {
  await live.untrack(replica.client);
  replica.page?.dispose();
}

/** Longer than a leader may be silent before a follower takes over (3 s by default). */
const BUSY_MS = 3_500;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("tabs and other machines, random writes, tabs closing and opening", () => {
  const seedFor = (fallback: number) => seedOf(process.env.SEED, fallback);
  it.each([
    [3, 300, seedFor(0x7ab5_0001), false, false],
    [4, 400, seedFor(0x7ab5_0002), false, true],
    [3, 300, seedFor(0x7ab5_0003), true, false],
  ])(
    "%i tabs, %i steps, seed %i, tabs bounded %s, Web Locks %s: every tab, every client, the server and storage agree",
    async (tabCount, steps, seed, isBounded, withLocks) => {
      const random = createRandom(seed);
      const navigator = (globalThis as { navigator?: unknown }).navigator;
      if (withLocks)
        Object.defineProperty(globalThis, "navigator", {
          value: { locks: createFakeLocks() },
          configurable: true,
          writable: true,
        });
      onTestFinished(
        () =>
          void Object.defineProperty(globalThis, "navigator", { value: navigator, configurable: true, writable: true }),
      );
      const appId = live.newApp("tab-converge");
      let opened = 0;
      const tab = () => replica(`tab${opened++}`, appId, "indexeddb", isBounded);
      const tabs = Array.from({ length: tabCount }, tab);
      const others = [replica("other0", appId, "memory"), replica("other1", appId, "memory")];
      const log: string[] = [];
      /** The tab whose page is frozen, if one is. */
      let frozen: Replica | undefined;
      const awake = () => [...tabs.filter((each) => each !== frozen), ...others];
      const context = () =>
        `SEED=${seed} (rerun with: SEED=${seed} npx vitest run packages/client/src/tabs/tab-convergence.test.ts)\nlast steps:\n${log.slice(-20).join("\n")}`;
      try {
        for (let step = 0; step < steps; step++) {
          if (random.chance(0.03)) {
            // A tab closes (whichever it is, the leader or a frozen one too) and another opens.
            const closing = random.pick(tabs);
            tabs.splice(tabs.indexOf(closing), 1);
            if (closing === frozen) frozen = undefined;
            await close(closing);
            tabs.push(tab());
            log.push(`${step} ${closing.name} closes, ${tabs.at(-1)!.name} opens`);
            continue;
          }
          if (frozen === undefined ? random.chance(0.02) : random.chance(0.06)) {
            // A tab's page freezes (a leader hands over at once), or the frozen one resumes.
            if (frozen === undefined) {
              frozen = random.pick(tabs);
              frozen.page!.freeze();
              log.push(`${step} ${frozen.name} freezes`);
            } else {
              frozen.page!.resume();
              log.push(`${step} ${frozen.name} resumes`);
              frozen = undefined;
            }
            continue;
          }
          if (random.chance(0.006)) {
            // A tab's main thread is busy for longer than a leader may be silent; the others write meanwhile.
            const busy = random.pick(tabs.filter((each) => each !== frozen));
            busy.page!.block();
            log.push(`${step} ${busy.name} is busy`);
            const writers = awake().filter((each) => each !== busy);
            const before = random.pick(writers);
            log.push(`${step} ${before.name} ${await randomWrite(before, random)}`);
            await sleep(BUSY_MS);
            const after = random.pick(writers);
            log.push(`${step} ${after.name} ${await randomWrite(after, random)}`);
            busy.page!.unblock();
            log.push(`${step} ${busy.name} runs again`);
            continue;
          }
          const writer = random.pick(awake());
          log.push(`${step} ${writer.name} ${await randomWrite(writer, random)}`);
          if (random.chance(0.2)) await new Promise((resolve) => setTimeout(resolve, random.int(3)));
        }
        if (frozen !== undefined) {
          frozen.page!.resume();
          log.push(`end: ${frozen.name} resumes`);
        }
        const everyone = [...tabs, ...others];
        await waitFor(
          () =>
            everyone.every((each) => each.client.connection.state === "online" && each.client.connection.pending === 0),
          () =>
            `everyone online with nothing pending: ${everyone.map((each) => `${each.name} ${each.client.connection.state}/${each.client.connection.pending}`).join(", ")}\n${context()}`,
          30_000,
        );
        const observer = replica("observer", appId, "memory");
        const onServer = {
          all: (await observer.client.database.items.query(ALL)).data!,
          low: (await observer.client.database.items.query(LOW)).data!,
        };
        expect(onServer.all.length, context()).toBeGreaterThan(0);
        const expected = (each: Replica) => (each.query === ALL ? onServer.all : onServer.low);
        await waitFor(
          () => everyone.every((each) => JSON.stringify(each.items()) === JSON.stringify(expected(each))),
          () =>
            `every replica equal to the server (${onServer.all.length} items)\n${everyone.map((each) => difference(each, expected(each))).join("")}${context()}`,
        );
        // Storage holds it all: with every tab closed, a tab opened offline finds the same items.
        for (const closing of tabs.splice(0)) await close(closing);
        const offline = live.track(createClient({ schema, appId, storage: "indexeddb" }));
        const query = isBounded ? LOW : ALL;
        expect((await offline.database.items.query(query)).data, context()).toEqual(
          isBounded ? onServer.low : onServer.all,
        );
      } catch (error) {
        if (error instanceof Error && !error.message.includes(`SEED=${seed}`))
          error.message = `${context()}\n${error.message}`;
        throw error;
      }
    },
  );
});

/** How a replica's items differ from the server's, or "" when they do not. */
function difference(replica: Replica, onServer: readonly Row[]): string {
  const mine = new Map(replica.items().map((row) => [row.id, JSON.stringify(row)]));
  const theirs = new Map(onServer.map((row) => [row.id, JSON.stringify(row)]));
  const lines: string[] = [];
  for (const [id, row] of theirs)
    if (mine.get(id) !== row) lines.push(`  ${String(id)}: has ${mine.get(id) ?? "nothing"}, server ${row}`);
  for (const [id, row] of mine) if (!theirs.has(id)) lines.push(`  ${String(id)}: has ${row}, server nothing`);
  return lines.length === 0 ? "" : `${replica.name} (${replica.items().length} items) differs:\n${lines.join("\n")}\n`;
}

async function randomWrite(replica: Replica, random: ReturnType<typeof createRandom>): Promise<string> {
  const items = replica.client.database.items;
  const known = replica.items();
  const roll = random.next();
  if (known.length === 0 || roll < 0.3) {
    const created = await items.create({
      title: random.pick(WORDS),
      n: random.int(100),
      tagIds: random.subset(TAGS, 0.3),
    });
    expect(created.error).toBeUndefined();
    return `create ${created.data!.id}`;
  }
  const id = random.pick(known).id as string;
  if (roll < 0.6) {
    const title = random.pick(WORDS);
    expect((await items.update({ id, fields: { title } })).error).toBeUndefined();
    return `title ${id} ${title}`;
  }
  if (roll < 0.75) {
    const tag = random.pick(TAGS);
    expect(
      (await items.update({ id, fields: (previous) => ({ tagIds: [...new Set([...previous.tagIds, tag])] }) })).error,
    ).toBeUndefined();
    return `tag ${id} ${tag}`;
  }
  if (roll < 0.9) {
    const n = random.int(100);
    expect((await items.update({ id, fields: { n } })).error).toBeUndefined();
    return `n ${id} ${n}`;
  }
  expect((await items.delete(id)).error).toBeUndefined();
  return `delete ${id}`;
}
