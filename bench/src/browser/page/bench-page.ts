// The page the browser benchmark loads: @trellis/client as built (dist), a local-only client on
// IndexedDB. `?seed` pages wait for `window.bench.seed`; `?measure=<appId>` pages start the
// client as soon as the script runs and time, from navigation start, the storage being ready and
// the first result of the benchmark's subscription. Results are plain data on `window.bench`.
import { createClient } from "@trellis/client";
import { createSchema, t } from "@trellis/core";

/** Collections c0..c19 of todos: a seeded database puts its documents in the first `spread` of them. */
export const COLLECTIONS = 20;
const todo = {
  title: t.string({ fallback: "" }),
  done: t.boolean({ fallback: false }),
  tag: t.string({ fallback: "" }),
};
const schema = createSchema({
  entities: Object.fromEntries(Array.from({ length: COLLECTIONS }, (_, index) => [`c${index}`, todo])),
});
type Todos = {
  subscribe(
    query: object,
    callback: (
      rows: unknown[] | undefined,
      error: { code: string; message: string } | undefined,
      loading: boolean,
    ) => void,
  ): { unsubscribe(): void };
  query(query: object): Promise<unknown>;
};
const todosOf = (client: { database: unknown }, index: number) =>
  (client.database as Record<string, Todos>)[`c${index}`]!;

/** Milliseconds since navigation start (`performance.now()`), and what the first result held. */
export interface LoadTimings {
  /** This script started running. */
  readonly scriptMs: number;
  /** `client.storage.ready` settled. */
  readonly readyMs: number;
  /** The subscription's first result that is not loading. */
  readonly firstResultMs: number;
  readonly rows: number;
  /** `performance.memory.usedJSHeapSize` right after the first result, when Chromium offers it. */
  readonly usedJSHeapSize: number | undefined;
}

/** How long seeding took. */
export interface SeedTimings {
  readonly documents: number;
  /** Sum over chunks of `batch.execute` until its promise resolved (stored in IndexedDB). */
  readonly totalMs: number;
  readonly chunks: number;
}

export interface BenchPage {
  /**
   * Writes `count` todos spread round-robin over collections c0..c<spread-1>, in `batch.execute`
   * chunks of `chunk`, through a fresh client, then closes it.
   */
  seed(appId: string, count: number, chunk: number, spread: number): Promise<SeedTimings>;
  /** Set on `?measure` pages once the first result arrived; `error` if something failed. */
  load: LoadTimings | { readonly error: string } | undefined;
  /**
   * Opens the first screen of every other collection in turn, as a user moving between lists
   * does (subscribe, first result, unsubscribe); resolves with how many rows they showed.
   */
  visitAll(): Promise<number>;
  /**
   * Subscribes to another query on c0 next to the running one and resolves with the milliseconds
   * to its first result: what a new screen on a collection costs. `"tag"`: another tag's todos
   * (an equality filter); `"all"`: every todo by title (no filter).
   */
  openOther(which: "tag" | "all"): Promise<number>;
}

declare global {
  interface Window {
    bench: BenchPage;
    client?: unknown;
    subscription?: unknown;
  }
}

/** The benchmark's query: open todos, newest first, one screen of them. */
const FIRST_SCREEN = { where: { done: false }, orderBy: ["createdAt", "desc"], limit: 20 } as const;
/** Second screens on c0: another tag's todos, newest first; every todo by title. */
const OTHER_TAG_SCREEN = { where: { tag: "tag7" }, orderBy: ["createdAt", "desc"], limit: 20 } as const;
const ALL_SCREEN = { orderBy: ["title", "asc"], limit: 20 } as const;
/** `?screen=tag`: one tag's todos (a twentieth of c0 with one collection), newest first. */
const TAG_SCREEN = { where: { tag: "tag3" }, orderBy: ["createdAt", "desc"], limit: 20 } as const;
/**
 * `?screen=<name>&run=<n>`: screens of 50 that no earlier page stored a result of (each run
 * selects other fields, which makes it another query with the same documents).
 */
const COLD_SCREENS = {
  open50: { where: { done: false }, orderBy: ["createdAt", "desc"], limit: 50 },
  oldest50: { orderBy: ["createdAt", "asc"], limit: 50 },
  title50: { orderBy: ["title", "asc"], limit: 50 },
} as const;
const RUN_FIELDS = [
  { title: true },
  { title: true, done: true },
  { title: true, tag: true },
  { done: true, tag: true },
];

/** The screen a `?measure` page follows. */
function screenOf(parameters: URLSearchParams): object {
  const name = parameters.get("screen");
  if (name === "tag") return TAG_SCREEN;
  if (name === null || !(name in COLD_SCREENS)) return FIRST_SCREEN;
  const run = Number(parameters.get("run") ?? 0);
  return { ...COLD_SCREENS[name as keyof typeof COLD_SCREENS], fields: RUN_FIELDS[run % RUN_FIELDS.length] };
}

const scriptMs = performance.now();

const bench: BenchPage = {
  load: undefined,
  async visitAll() {
    let rows = 0;
    for (let index = 1; index < COLLECTIONS; index++) {
      rows += await new Promise<number>((resolve, reject) => {
        const subscription = todosOf(window.client as { database: unknown }, index).subscribe(
          FIRST_SCREEN,
          (docs, error, loading) => {
            if (loading) return;
            queueMicrotask(() => subscription.unsubscribe());
            if (error !== undefined || docs === undefined)
              reject(new Error(`visit c${index}: ${error?.code}: ${error?.message}`));
            else resolve(docs.length);
          },
        );
      });
    }
    return rows;
  },
  openOther(which) {
    const started = performance.now();
    return new Promise<number>((resolve, reject) => {
      const screen = which === "tag" ? OTHER_TAG_SCREEN : ALL_SCREEN;
      const subscription = todosOf(window.client as { database: unknown }, 0).subscribe(
        screen,
        (docs, error, loading) => {
          if (loading) return;
          queueMicrotask(() => subscription.unsubscribe());
          if (error !== undefined || docs === undefined)
            reject(new Error(`openOther: ${error?.code}: ${error?.message}`));
          else resolve(performance.now() - started);
        },
      );
    });
  },
  async seed(appId, count, chunk, spread) {
    const client = createClient({ schema, appId, storage: "indexeddb" });
    const ready = await client.storage.ready;
    if (ready.error) throw new Error(`seed: ${ready.error.message}`);
    const { batch } = client.database;
    let totalMs = 0;
    let chunks = 0;
    for (let start = 0; start < count; start += chunk) {
      const operations: unknown[] = [];
      for (let index = start; index < Math.min(count, start + chunk); index++) {
        operations.push(
          (batch as unknown as Record<string, { create(fields: object): never }>)[`c${index % spread}`]!.create({
            title: `todo ${index}`,
            done: index % 2 === 1,
            tag: `tag${index % 20}`,
          }),
        );
      }
      const began = performance.now();
      const result = await batch.execute(operations as never);
      totalMs += performance.now() - began;
      chunks++;
      if (result.error) throw new Error(`seed: ${result.error.code}: ${result.error.message}`);
      const failed = result.data.find((one) => one.error !== undefined);
      if (failed?.error) throw new Error(`seed: ${failed.error.code}: ${failed.error.message}`);
    }
    await client.close();
    return { documents: count, totalMs, chunks };
  },
};
window.bench = bench;

const parameters = new URLSearchParams(location.search);
const measureApp = parameters.get("measure");
if (measureApp !== null) {
  const cacheSize = parameters.get("cacheSize");
  const client = createClient({
    schema,
    appId: measureApp,
    storage: "indexeddb",
    ...(cacheSize === null ? {} : { cacheSize: Number(cacheSize) }),
  });
  // Kept alive as an app keeps them: the heap is measured with the client and its subscription running.
  window.client = client;
  const ready = client.storage.ready.then((result) => {
    if (result.error) throw new Error(`storage: ${result.error.message}`);
    return performance.now();
  });
  const first = new Promise<Omit<LoadTimings, "scriptMs" | "readyMs">>((resolve, reject) => {
    let isDone = false;
    const screen = screenOf(parameters);
    window.subscription = todosOf(client, 0).subscribe(screen, (rows, error, loading) => {
      if (loading || isDone) return;
      isDone = true;
      const firstResultMs = performance.now();
      if (error !== undefined || rows === undefined)
        return reject(new Error(`query: ${error?.code}: ${error?.message}`));
      const memory = (performance as { memory?: { usedJSHeapSize: number } }).memory;
      resolve({ firstResultMs, rows: rows.length, usedJSHeapSize: memory?.usedJSHeapSize });
    });
  });
  // Reported once the whole collection is in memory (a one-shot query waits for that), so the
  // heap is measured loaded and the next reload does not queue behind this page's read.
  Promise.all([ready, first, todosOf(client, 0).query({ limit: 1 })]).then(
    ([readyMs, result]) => (bench.load = { scriptMs, readyMs, ...result }),
    (error: unknown) => (bench.load = { error: String(error) }),
  );
}
