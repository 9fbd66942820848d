// Persistence in real Chromium: the client's IndexedDB storage across page reloads, with a real
// `trellis-server` process going away and coming back.
import { removeDataDir, type ServerProcess, startServerProcess } from "@trellis/server/testing";
import type { BrowserContext, Page } from "playwright-core";
import { afterEach, expect, it } from "vitest";
import { describeBrowser, reloadApp, useBrowserEnv, waitForStatus } from "./harness.js";

/** Reload-during-write rounds; `E2E_RELOADS` overrides (`npm run soak` runs 500). */
const RELOADS = Number(process.env.E2E_RELOADS ?? 100);

const titles = (page: Page) => page.evaluate(() => window.app.views.todos?.map((row) => row.title));

describeBrowser("persistence in Chromium", () => {
  // Chromium itself logs each refused WebSocket connection while the server is down.
  const env = useBrowserEnv({ ignoreConsole: /net::ERR_CONNECTION_REFUSED/ });
  const servers: ServerProcess[] = [];

  async function tab(
    context: BrowserContext,
    { cacheSize, ...options }: { appId: string; serverUrl?: string; cacheSize?: number },
  ): Promise<Page> {
    const bound = cacheSize === undefined ? {} : { cacheSize };
    return env.open(context, {
      userId: "ada",
      storage: "indexeddb",
      options: { reconnect: { baseMs: 50, maxMs: 200 }, ...bound },
      ...options,
    });
  }

  afterEach(async () => {
    for (const server of servers.splice(0)) {
      await server.stop();
      removeDataDir(server.dataDir);
    }
  });

  it("keeps writes made offline across a reload and syncs them once the server is back", async () => {
    const server = await startServerProcess();
    servers.push(server);
    await server.stop();
    const appId = env.newAppId();
    const page = await tab(await env.newContext(), { appId, serverUrl: server.url });
    for (const title of ["one", "two", "three"]) await page.evaluate((title) => window.app.createTodo(title), title);

    await reloadApp(page);
    await page.evaluate(() => window.app.watchTodos());
    await page.waitForFunction(() => window.app.views.todos?.length === 3);
    expect(await titles(page)).toEqual(["one", "three", "two"]);
    expect(await page.evaluate(() => window.app.status())).toMatch(/\/3$/);

    await server.restart();
    await waitForStatus(page, "online/0");
    // Another browser profile (nothing stored) gets them from the server.
    const other = await tab(await env.newContext(), { appId, serverUrl: server.url });
    await other.evaluate(() => window.app.watchTodos());
    await other.waitForFunction(() => window.app.views.todos?.length === 3, undefined, { timeout: 15_000 });
    expect(await titles(other)).toEqual(["one", "three", "two"]);
  });

  it("with cacheSize 0, keeps only what a subscription holds, and reads back by id or field value what it needs", async () => {
    const server = await startServerProcess();
    servers.push(server);
    const appId = env.newAppId();
    const page = await tab(await env.newContext(), { appId, serverUrl: server.url, cacheSize: 0 });
    for (let n = 0; n < 20; n++)
      await page.evaluate((title) => window.app.createTodo(title, true), `d${String(n).padStart(2, "0")}`);
    for (const title of ["open1", "open2"]) await page.evaluate((title) => window.app.createTodo(title), title);
    await page.evaluate(() => window.app.watchOpen());
    await page.waitForFunction(() => window.app.views.open?.length === 2);
    await waitForStatus(page, "online/0");

    const other = await env.open(await env.newContext(), {
      appId,
      userId: "bob",
      storage: "memory",
      serverUrl: server.url,
    });
    await other.evaluate(() => window.app.watchTodos());
    await other.waitForFunction(() => window.app.views.todos?.length === 22, undefined, { timeout: 15_000 });
    const idOf = (title: string) =>
      other.evaluate((title) => window.app.views.todos!.find((row) => row.title === title)!.id, title);
    // Another browser reopens a done todo: it enters the subscription of the bounded tab.
    await other.evaluate((id) => window.app.updateTodo(id, { done: false }), await idOf("d07"));
    await page.waitForFunction(
      () => window.app.views.open?.map((row) => row.title).join() === "d07,open1,open2",
      undefined,
      { timeout: 15_000 },
    );
    // The bounded tab renames a done todo by id: it reads it back from IndexedDB first.
    await page.evaluate((id) => window.app.updateTodo(id, { title: "d12 renamed" }), await idOf("d12"));
    await other.waitForFunction(() => window.app.views.todos?.some((row) => row.title === "d12 renamed"), undefined, {
      timeout: 15_000,
    });
    // A query by equality reads the done todos through IndexedDB's field index.
    const done = Array.from({ length: 20 }, (_, n) => `d${String(n).padStart(2, "0")}`).filter(
      (title) => title !== "d07",
    );
    expect(await page.evaluate(() => window.app.doneTitles())).toEqual(
      done.map((title) => (title === "d12" ? "d12 renamed" : title)).sort(),
    );
    // What IndexedDB holds is whole: a reload offline shows the three open todos.
    await server.stop();
    await reloadApp(page);
    await page.evaluate(() => window.app.watchOpen());
    await page.waitForFunction(() => window.app.views.open?.length === 3);
    expect(await page.evaluate(() => window.app.todoIds())).toHaveLength(22);
  });

  it(`loses no write it reported as stored across ${RELOADS} reloads in the middle of writing`, async () => {
    const appId = env.newAppId();
    const context = await env.newContext();
    const page = await tab(context, { appId });
    const reported = new Set<string>();
    page.on("console", (message) => {
      const text = message.text();
      if (text.startsWith("stored:")) reported.add(text.slice("stored:".length));
    });
    // Deterministic spread of reload delays: 0-15 ms after the round's first write was reported
    // stored, so every reload lands in the middle of writing, however long the client takes to
    // open its storage (and load its code) after a reload.
    let seed = 0x9e3779b9;
    const next = () => (seed = (seed * 1664525 + 1013904223) >>> 0) % 16;
    for (let round = 0; round < RELOADS; round++) {
      const before = reported.size;
      await page.evaluate((round) => window.app.writeUntilUnload(`r${round}`), round);
      for (const deadline = Date.now() + 15_000; reported.size === before;) {
        if (Date.now() > deadline) throw new Error(`round ${round}: no write was reported as stored within 15 s`);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      await page.waitForTimeout(next());
      await reloadApp(page);
    }
    const stored = new Set(await page.evaluate(() => window.app.todoIds()));
    const lost = [...reported].filter((id) => !stored.has(id));
    console.info(`${RELOADS} reloads: ${reported.size} writes reported as stored, ${stored.size} stored`);
    // Guards against a vacuous run: every round had a write reported as stored before its reload.
    expect(reported.size, "writes were reported as stored").toBeGreaterThanOrEqual(RELOADS);
    expect(lost, `writes reported as stored but missing after ${RELOADS} reloads`).toEqual([]);
  }, 600_000);
});
