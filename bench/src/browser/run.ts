/**
 * The browser benchmark: in Debian's Chromium (driven by playwright-core), how long a
 * page takes from navigation start to its storage being ready and to the first result of a
 * query, with 10k and 100k documents persisted in IndexedDB — all in the queried collection, or
 * spread over 20 collections — and the JS heap then; and the heap after visiting every
 * collection in turn, unbounded and with `cacheSize: 5000`; and the heap while a query that
 * matches a twentieth of c0 is followed, unbounded and with `cacheSize: 5000` (documents of a
 * followed collection that no live query holds leave memory). Seeds each database through the
 * client API (`batch.execute` chunks), then reloads the page and measures; prints a markdown
 * table, and the same as JSON in bench/results/browser-latest.json.
 *
 * Then the takeover time between tabs (see takeover.ts): a leader tab frozen, or busy with a long
 * task, until the other tab shows an outside client's write; p50 over the runs.
 *
 * Usage: node dist/browser/run.js [--smoke]
 * Environment: BENCH_SMOKE=1 (200 documents, one reload, one takeover of each kind), BENCH_BROWSER_SIZES=10000,100000,
 * BENCH_BROWSER_SPREADS=1,20 (collections the documents spread over), BENCH_BROWSER_RELOADS=3, BENCH_BROWSER_CHUNK=5000, BENCH_TAKEOVER_RUNS=10,3 (frozen, long task;
 * 0,0 skips them), CHROMIUM_PATH (default /usr/bin/chromium).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeDataDir, startServerProcess } from "@trellis/server/testing";
import type { BrowserContext } from "playwright-core";
import { finishRun, runMain } from "../finish-run.js";
import { median } from "../stats.js";
import { buildBenchPage, chromiumPath, hasChromium, launchProfile, serveDir } from "./chromium.js";
import type { LoadTimings, SeedTimings } from "./page/bench-page.js";
import { measureTakeover, type TakeoverResult, takeoverTable } from "./takeover.js";

/** As in the page: how many collections a database may spread over. */
const COLLECTIONS = 20;

interface BrowserConfig {
  readonly isSmoke: boolean;
  readonly sizes: readonly number[];
  /** Over how many collections each size is spread, one database each. */
  readonly spreads: readonly number[];
  readonly reloads: number;
  readonly chunk: number;
  /** Takeovers measured: leader frozen, leader busy. */
  readonly takeovers: { readonly freeze: number; readonly "long task": number };
}

function configFromEnv(env: NodeJS.ProcessEnv, isSmokeFlag: boolean): BrowserConfig {
  const isSmoke = isSmokeFlag || env.BENCH_SMOKE === "1";
  const numbers = (value: string | undefined) =>
    value
      ?.split(",")
      .map(Number)
      .filter((n) => Number.isInteger(n) && n > 0);
  return {
    isSmoke,
    sizes: numbers(env.BENCH_BROWSER_SIZES) ?? (isSmoke ? [200] : [10_000, 100_000]),
    spreads: numbers(env.BENCH_BROWSER_SPREADS) ?? [1, COLLECTIONS],
    reloads: Number(env.BENCH_BROWSER_RELOADS ?? (isSmoke ? 1 : 3)),
    chunk: Number(env.BENCH_BROWSER_CHUNK ?? 5_000),
    takeovers: takeoverRuns(env.BENCH_TAKEOVER_RUNS, isSmoke),
  };
}

function takeoverRuns(value: string | undefined, isSmoke: boolean): BrowserConfig["takeovers"] {
  const [freeze, longTask] = (value ?? (isSmoke ? "1,1" : "10,3")).split(",").map(Number);
  return { freeze: Number.isInteger(freeze) ? freeze! : 0, "long task": Number.isInteger(longTask) ? longTask! : 0 };
}

/** One reload's measurements: the page's timings plus the heap as CDP reports it. */
interface Reload extends LoadTimings {
  /** `Runtime.getHeapUsage().usedSize` once the queried collection is loaded (no GC). */
  readonly heapUsed: number;
  /** The same after a full garbage collection: what the loaded client retains. */
  readonly heapRetained: number;
}

/** Heap after visiting every collection (GC'd), for one cacheSize. */
interface Visit {
  readonly cacheSize: number | undefined;
  readonly rows: number;
  readonly heapRetained: number;
}

/** Heap (GC'd) while following the tag query on c0, for one cacheSize; then the time a new query on c0 takes. */
interface Followed {
  readonly cacheSize: number | undefined;
  readonly heapRetained: number;
  /** A new query by another tag on c0, then a new unfiltered one: ms to their first results. */
  readonly otherTagMs: number;
  readonly otherAllMs: number;
}

/** A screen of 50 opened on a reload that finds no stored result for it: the first result's time. */
interface ColdScreen {
  readonly screen: ColdScreenName;
  /** Per reload: ms from navigation start to the first result. */
  readonly firstResultMs: readonly number[];
}

/** The page's cold screens (`?screen=`), with the query each follows on c0. */
const COLD_SCREENS = {
  open50: '{ where: { done: false }, orderBy: ["createdAt", "desc"], limit: 50 }',
  oldest50: '{ orderBy: ["createdAt", "asc"], limit: 50 }',
  title50: '{ orderBy: ["title", "asc"], limit: 50 }',
} as const;
type ColdScreenName = keyof typeof COLD_SCREENS;

interface SizeResult {
  readonly documents: number;
  /** With one collection only: the cold screens. */
  readonly cold: readonly ColdScreen[];
  readonly followed: readonly Followed[];
  /** Over how many collections the documents are spread. */
  readonly spread: number;
  readonly visits: readonly Visit[];
  readonly seed: SeedTimings;
  /** The origin's storage use after seeding (`navigator.storage.estimate().usage`), in bytes. */
  readonly storedBytes: number | undefined;
  readonly reloads: readonly Reload[];
}

const VISIT_CACHE_SIZES = [undefined, 5_000] as const;

async function measureSize(
  context: BrowserContext,
  url: string,
  documents: number,
  spread: number,
  config: BrowserConfig,
): Promise<SizeResult> {
  const appId = `bench-${documents}-${spread}`;
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(`${url}?seed`);
  const seed = await page.evaluate(
    ({ appId, documents, chunk, spread }) => window.bench.seed(appId, documents, chunk, spread),
    { appId, documents, chunk: config.chunk, spread },
  );
  const storedBytes = await page.evaluate(async () => (await navigator.storage.estimate()).usage);
  console.log(`  seeded ${documents} documents in ${(seed.totalMs / 1000).toFixed(1)} s (${seed.chunks} chunks)`);

  const cdp = await context.newCDPSession(page);
  const reloads: Reload[] = [];
  for (let round = 0; round < config.reloads; round++) {
    await page.goto(`${url}?measure=${appId}`);
    await page.waitForFunction(() => window.bench?.load !== undefined, undefined, { timeout: 300_000, polling: 20 });
    const load = await page.evaluate(() => window.bench.load!);
    if ("error" in load) throw new Error(`${documents} documents, reload ${round + 1}: ${load.error}`);
    const heapUsed = (await cdp.send("Runtime.getHeapUsage")).usedSize;
    await cdp.send("HeapProfiler.collectGarbage");
    const heapRetained = (await cdp.send("Runtime.getHeapUsage")).usedSize;
    reloads.push({ ...load, heapUsed, heapRetained });
    console.log(
      `  reload ${round + 1}: ready ${load.readyMs.toFixed(0)} ms, first result ${load.firstResultMs.toFixed(0)} ms ` +
        `(${load.rows} rows), heap ${mb(heapUsed)} MB (${mb(heapRetained)} MB after GC)`,
    );
  }
  const cold: ColdScreen[] = [];
  for (const screen of spread === 1 ? (Object.keys(COLD_SCREENS) as ColdScreenName[]) : []) {
    const firstResultMs: number[] = [];
    for (let run = 0; run < config.reloads; run++) {
      await page.goto(`${url}?measure=${appId}&screen=${screen}&run=${run}`);
      await page.waitForFunction(() => window.bench?.load !== undefined, undefined, { timeout: 300_000, polling: 20 });
      const load = await page.evaluate(() => window.bench.load!);
      if ("error" in load) throw new Error(`${documents} documents, ${screen} ${run + 1}: ${load.error}`);
      firstResultMs.push(load.firstResultMs);
    }
    cold.push({ screen, firstResultMs });
    console.log(`  ${screen}, nothing stored: first result ${firstResultMs.map(ms).join(", ")} ms`);
  }
  const visits: Visit[] = [];
  for (const cacheSize of VISIT_CACHE_SIZES) {
    await page.goto(`${url}?measure=${appId}${cacheSize === undefined ? "" : `&cacheSize=${cacheSize}`}`);
    await page.waitForFunction(() => window.bench?.load !== undefined, undefined, { timeout: 300_000, polling: 20 });
    const rows = await page.evaluate(() => window.bench.visitAll());
    await cdp.send("HeapProfiler.collectGarbage");
    const heapRetained = (await cdp.send("Runtime.getHeapUsage")).usedSize;
    visits.push({ cacheSize, rows, heapRetained });
    console.log(
      `  visited every collection, cacheSize ${cacheSize ?? "unbounded"}: heap after GC ${mb(heapRetained)} MB`,
    );
  }
  const followed: Followed[] = [];
  for (const cacheSize of VISIT_CACHE_SIZES) {
    await page.goto(`${url}?measure=${appId}&screen=tag${cacheSize === undefined ? "" : `&cacheSize=${cacheSize}`}`);
    await page.waitForFunction(() => window.bench?.load !== undefined, undefined, { timeout: 300_000, polling: 20 });
    // Eviction runs on a timer after the collection's read: give it its turn before measuring.
    await page.waitForTimeout(200);
    await cdp.send("HeapProfiler.collectGarbage");
    const heapRetained = (await cdp.send("Runtime.getHeapUsage")).usedSize;
    const otherTagMs = await page.evaluate(() => window.bench.openOther("tag"));
    await page.waitForTimeout(200);
    const otherAllMs = await page.evaluate(() => window.bench.openOther("all"));
    followed.push({ cacheSize, heapRetained, otherTagMs, otherAllMs });
    console.log(
      `  following the tag query, cacheSize ${cacheSize ?? "unbounded"}: heap after GC ${mb(heapRetained)} MB; ` +
        `then a new query by tag answers in ${ms(otherTagMs)} ms, a new unfiltered one in ${ms(otherAllMs)} ms`,
    );
  }
  await cdp.detach();
  if (errors.length > 0) throw new Error(`${documents} documents: the page threw: ${errors.join("; ")}`);
  return { documents, spread, cold, visits, followed, seed, storedBytes, reloads };
}

const mb = (bytes: number | undefined) => (bytes === undefined ? "–" : (bytes / 1024 / 1024).toFixed(1));
const ms = (value: number) => value.toFixed(0);

function resultTable(results: readonly SizeResult[], reloads: number): string {
  const header = [
    "documents",
    "collections",
    "seed (s)",
    "seed docs/s",
    "stored (MB)",
    "script start (ms)",
    "storage ready (ms)",
    "first result, first reload (ms)",
    "first result, later reloads (ms)",
    "JS heap once loaded (MB)",
    "after GC (MB)",
    "after visiting all, unbounded, GC (MB)",
    "after visiting all, cacheSize 5000, GC (MB)",
    "following the tag query, unbounded, GC (MB)",
    "same, cacheSize 5000, GC (MB)",
    "then a new query by tag on c0, unbounded (ms)",
    "same, cacheSize 5000 (ms)",
    "then a new unfiltered query on c0, unbounded (ms)",
    "same, cacheSize 5000 (ms)",
  ];
  const rows = results.map(({ documents, spread, visits, followed, seed, storedBytes, reloads: runs }) => {
    const pick = (key: keyof Reload) => median(runs.map((run) => run[key] as number));
    return [
      documents.toLocaleString("en-US"),
      String(spread),
      (seed.totalMs / 1000).toFixed(1),
      Math.round((documents / seed.totalMs) * 1000).toLocaleString("en-US"),
      mb(storedBytes),
      ms(pick("scriptMs")),
      ms(pick("readyMs")),
      ms(runs[0]!.firstResultMs),
      runs.length > 1 ? ms(median(runs.slice(1).map((run) => run.firstResultMs))) : "–",
      mb(pick("heapUsed")),
      mb(pick("heapRetained")),
      ...VISIT_CACHE_SIZES.map((cacheSize) => mb(visits.find((visit) => visit.cacheSize === cacheSize)?.heapRetained)),
      ...VISIT_CACHE_SIZES.map((cacheSize) => mb(followed.find((each) => each.cacheSize === cacheSize)?.heapRetained)),
      ...(["otherTagMs", "otherAllMs"] as const).flatMap((key) =>
        VISIT_CACHE_SIZES.map((cacheSize) => {
          const each = followed.find((one) => one.cacheSize === cacheSize);
          return each === undefined ? "–" : ms(each[key]);
        }),
      ),
    ];
  });
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [
    `Times from navigation start (performance.now() in the page), median of ${reloads} reload(s) (first result: the first reload, which finds no stored result, apart from the median of the later ones, which answer from the result the previous reload stored); query { where: { done: false }, orderBy: ["createdAt", "desc"], limit: 20 } on c0; "visiting all" opens the same query on every other collection in turn (subscribe, first result, unsubscribe); "the tag query" is { where: { tag: "tag3" }, orderBy: ["createdAt", "desc"], limit: 20 } on c0, followed instead of the first one (it matches a twentieth of c0 with one collection, none of it with 20), measured once c0 was read whole by a one-shot query; then "a new query by tag" subscribes { where: { tag: "tag7" }, orderBy: ["createdAt", "desc"], limit: 20 } beside it (with cacheSize, c0 is partial by then: read through the field index), and "a new unfiltered query" { orderBy: ["title", "asc"], limit: 20 } (read whole).`,
    "",
    line(header),
    line(header.map((_, index) => (index === 0 ? "---" : "---:"))),
    ...rows.map(line),
  ].join("\n");
}

function coldTable(results: readonly SizeResult[], reloads: number): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  const rows = results.flatMap(({ documents, cold }) =>
    cold.map(({ screen, firstResultMs }) =>
      line([
        documents.toLocaleString("en-US"),
        COLD_SCREENS[screen],
        ms(median([...firstResultMs])),
        firstResultMs.map(ms).join(", "),
      ]),
    ),
  );
  return [
    `Cold screens: one collection (c0), first result from navigation start on a reload that finds no stored result for the query (each of the ${reloads} run(s) selects other fields, so it is another query), median and every run.`,
    "",
    line(["documents", "query on c0", "first result, limit 50 ordered, nothing stored (ms)", "runs (ms)"]),
    line(["---", "---", "---:", "---:"]),
    ...rows,
  ].join("\n");
}

async function main(): Promise<number> {
  const started = performance.now();
  const config = configFromEnv(process.env, process.argv.includes("--smoke"));
  if (!hasChromium) {
    console.warn(
      `browser benchmark skipped: no Chromium at ${chromiumPath} (apt-get install -y chromium, or set CHROMIUM_PATH)`,
    );
    return 0;
  }
  console.log(
    `browser benchmark (${config.isSmoke ? "smoke" : "full"}): ${config.sizes.join(", ")} documents, ${config.reloads} reload(s) each, chunks of ${config.chunk}`,
  );
  const built = await buildBenchPage();
  const server = await serveDir(built);
  const results: SizeResult[] = [];
  const failures: string[] = [];
  try {
    for (const documents of config.sizes)
      for (const spread of config.spreads) {
        // A fresh on-disk profile per size: IndexedDB as a returning visitor has it, nothing else in it.
        const profile = mkdtempSync(join(tmpdir(), "trellis-bench-chromium-"));
        const context = await launchProfile(profile);
        try {
          console.log(`${documents} documents in ${spread} collection(s):`);
          results.push(await measureSize(context, server.url, documents, spread, config));
        } catch (error) {
          failures.push(error instanceof Error ? error.message : String(error));
        } finally {
          await context.close();
          rmSync(profile, { recursive: true, force: true });
        }
      }
  } finally {
    await server.close();
    rmSync(built, { recursive: true, force: true });
  }
  const takeovers = await runTakeovers(config, failures);
  console.log(`\n${resultTable(results, config.reloads)}`);
  if (results.some((result) => result.cold.length > 0)) console.log(`\n${coldTable(results, config.reloads)}`);
  if (takeovers.length > 0) console.log(`\n${takeoverTable(takeovers)}`);
  for (const result of results) console.log(JSON.stringify({ browser: result.documents, ...result }));
  for (const takeover of takeovers) console.log(JSON.stringify({ takeover: takeover.stop, ...takeover }));
  return finishRun({
    started,
    resultsFile: "browser-latest.json",
    results: { config, results, takeovers },
    busyLoad: 1.6,
    failures,
  });
}

/** The takeover rows: their own page and a `trellis-server` process. */
async function runTakeovers(config: BrowserConfig, failures: string[]): Promise<TakeoverResult[]> {
  if (config.takeovers.freeze + config.takeovers["long task"] === 0) return [];
  console.log(
    `takeover between tabs: ${config.takeovers.freeze} frozen leader(s), ${config.takeovers["long task"]} busy one(s):`,
  );
  const built = await buildBenchPage("takeover-page");
  const page = await serveDir(built);
  const sync = await startServerProcess();
  try {
    return await measureTakeover(page.url, sync, config.takeovers);
  } catch (error) {
    failures.push(`takeover: ${error instanceof Error ? error.message : String(error)}`);
    return [];
  } finally {
    await page.close();
    await sync.stop();
    removeDataDir(sync.dataDir);
    rmSync(built, { recursive: true, force: true });
  }
}

runMain(main);
