/**
 * Takeover time of the browser benchmark: two tabs of one Chromium profile share an app's
 * connection through the first (the leader); the leader stops making progress and the time runs
 * until the other tab shows a todo an outside client (Node) wrote at that moment — the first
 * server data the other tab gets through a connection of its own. Two ways to stop: the leader
 * is frozen through CDP (`Page.setWebLifecycleState`; it hands leadership over on `freeze`), or
 * its main thread runs a long task (the others take over once its heartbeat has been silent
 * for the takeover timeout). p50 over the runs of each.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@trellis/client";
import type { ServerProcess } from "@trellis/server/testing";
import type { Page } from "playwright-core";
import { median } from "../stats.js";
import { launchOverCdp } from "./chromium.js";
// For `window.takeover`'s type.
import type {} from "./takeover-page/takeover-page.js";
import { schema } from "./takeover-page/takeover-schema.js";

/** How the leader stops: frozen, or busy with a long task of this many ms. */
export type Stop = "freeze" | "long task";
const LONG_TASK_MS = 6_000;

export interface TakeoverResult {
  readonly stop: Stop;
  /** Freeze (or start of the long task) to the outside write showing in the other tab, per run. */
  readonly runsMs: readonly number[];
  readonly p50Ms: number;
}

/**
 * Runs `runs` takeovers of each kind against `server`, with the takeover page served at `url`.
 *
 * @example
 * const results = await measureTakeover(url, server, { freeze: 10, "long task": 3 });
 */
export async function measureTakeover(
  url: string,
  server: ServerProcess,
  runs: Readonly<Record<Stop, number>>,
): Promise<TakeoverResult[]> {
  const profile = mkdtempSync(join(tmpdir(), "trellis-bench-takeover-"));
  const chromium = await launchOverCdp(profile);
  const results: TakeoverResult[] = [];
  try {
    const context = chromium.browser.contexts()[0]!;
    let apps = 0;
    for (const stop of ["freeze", "long task"] as const) {
      const runsMs: number[] = [];
      for (let run = 0; run < runs[stop]; run++) {
        const appId = `takeover-${process.pid}-${++apps}`;
        const open = async () => {
          const page = await context.newPage();
          await page.goto(`${url}?appId=${appId}&serverUrl=${encodeURIComponent(server.url)}`);
          await page.waitForFunction(() => window.takeover?.status() === "online/0", undefined, { timeout: 30_000 });
          return page;
        };
        const leader = await open();
        const other = await open();
        const outside = createClient({ schema, appId, serverUrl: server.url, storage: "memory", userId: "outside" });
        try {
          await other.evaluate(() => window.takeover.seenAt("outside"));
          const stoppedAt = await stopLeader(leader, stop);
          await outside.database.todos.create({ title: `outside ${run}` });
          const seen = await other.waitForFunction(() => window.takeover.seenAt("outside"), undefined, {
            timeout: 60_000,
            polling: 50,
          });
          runsMs.push((await seen.jsonValue())! - stoppedAt);
          if (stop === "freeze") {
            await setLifecycle(leader, "active");
            const events = await leader.evaluate(() => window.takeover.lifecycle);
            if (!events.includes("freeze")) throw new Error(`the leader did not freeze (events: ${events.join(", ")})`);
          } else {
            await leader.waitForFunction(() => true, undefined, { timeout: LONG_TASK_MS + 30_000 });
          }
          console.log(`  takeover (${stop}), run ${run + 1}: ${runsMs.at(-1)} ms`);
        } finally {
          await outside.close();
          await leader.close();
          await other.close();
        }
      }
      results.push({ stop, runsMs, p50Ms: median(runsMs) });
    }
  } finally {
    await chromium.close();
    try {
      // Chromium's helper processes may still write to the profile for a moment after it exits.
      rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 500 });
    } catch (error) {
      console.warn(
        `  could not remove the profile ${profile}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  return results;
}

/** Stops the leader tab; returns `Date.now()` at that moment. */
async function stopLeader(page: Page, stop: Stop): Promise<number> {
  if (stop === "freeze") {
    const stoppedAt = Date.now();
    await setLifecycle(page, "frozen");
    return stoppedAt;
  }
  // Not awaited by the page: the task runs once this evaluation has returned.
  return page.evaluate((ms) => {
    setTimeout(() => {
      const end = Date.now() + ms;
      while (Date.now() < end);
    });
    return Date.now();
  }, LONG_TASK_MS);
}

async function setLifecycle(page: Page, state: "frozen" | "active"): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Page.setWebLifecycleState", { state });
  await cdp.detach();
}

/** The takeover rows of the benchmark's report. */
export function takeoverTable(results: readonly TakeoverResult[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [
    `Takeover: two tabs of one profile share the first one's connection; it stops (frozen through CDP, or a ${LONG_TASK_MS / 1000} s long task), an outside client writes a todo at once, and the time runs until the other tab shows it.`,
    "",
    line(["leader stops by", "runs", "p50 (ms)", "min (ms)", "max (ms)"]),
    line(["---", "---:", "---:", "---:", "---:"]),
    ...results.map(({ stop, runsMs, p50Ms }) =>
      line([
        stop,
        String(runsMs.length),
        p50Ms.toFixed(0),
        Math.min(...runsMs).toFixed(0),
        Math.max(...runsMs).toFixed(0),
      ]),
    ),
  ].join("\n");
}
