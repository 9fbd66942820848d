// Tabs of one profile in real Chromium whose leader stops making progress: frozen through CDP
// (`Page.setWebLifecycleState`), or its main thread blocked by a long task. Chromium is attached
// over CDP with `noDefaults`, so Playwright's focus emulation, which keeps every page "visible"
// and makes Chromium ignore the freeze, is off; each test checks that the page really froze
// (its `freeze` event, read after it resumes). An outside client (another profile) checks what
// reached the server. See docs/design/031-leader-liveness.md.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeDataDir, type ServerProcess, startServerProcess } from "@trellis/server/testing";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import {
  type AppServer,
  closeApp,
  consoleErrors,
  describeBrowser,
  launchOverCdp,
  openApp,
  reloadApp,
  serveTestApp,
  waitForStatus,
} from "./harness.js";

/** Generous: the documented takeover bound is about 4 s (see docs/offline.md). */
const BOUND_MS = 10_000;
const FAST_RECONNECT = { reconnect: { baseMs: 50, maxMs: 300 } };

describeBrowser("a leader tab that stops making progress, in Chromium", () => {
  let browser: Browser;
  let closeBrowser: (() => Promise<void>) | undefined;
  let profile: string;
  let server: ServerProcess;
  let app: AppServer;
  let apps = 0;
  const pages: Page[] = [];
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    profile = mkdtempSync(join(tmpdir(), "trellis-e2e-liveness-"));
    [{ browser, close: closeBrowser }, server, app] = await Promise.all([
      launchOverCdp(profile),
      startServerProcess(),
      serveTestApp(),
    ]);
  }, 60_000);
  afterEach(async () => {
    const errors = pages.flatMap((page) => consoleErrors(page)).filter((error) => !/WebSocket connection/.test(error));
    for (const page of pages.splice(0)) await closeApp(page);
    for (const context of contexts.splice(0)) await context.close();
    expect(errors, "the browser console stays free of errors").toEqual([]);
  });
  afterAll(async () => {
    await closeBrowser?.();
    await app?.close();
    if (server !== undefined) {
      await server.stop();
      removeDataDir(server.dataDir);
    }
    rmSync(profile, { recursive: true, force: true });
  });

  const newAppId = () => `liveness-${process.pid}-${Date.now().toString(36)}-${++apps}`;

  /** A tab of the profile Chromium was started with (the CDP default context: no focus emulation). */
  async function tab(appId: string): Promise<Page> {
    const page = await openApp(browser.contexts()[0]!, {
      appUrl: app.url,
      serverUrl: server.url,
      appId,
      userId: "ada",
      storage: "indexeddb",
      options: FAST_RECONNECT,
    });
    pages.push(page);
    await watchTab(page);
    return page;
  }

  /** Records the page's lifecycle events (read them with {@link lifecycle}) and watches its todos. */
  async function watchTab(page: Page): Promise<void> {
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { lifecycle: string[] }).lifecycle = seen;
      document.addEventListener("freeze", () => seen.push("freeze"));
      document.addEventListener("resume", () => seen.push("resume"));
      window.app.watchTodos();
    });
  }

  /**
   * Routes a tab's sync socket through this process, from a reload on, and drops the `push`
   * frames it sends while `isStalled`: its writes stay in its outbox, unacknowledged.
   */
  async function stallPushes(page: Page): Promise<{ isStalled: boolean }> {
    const stall = { isStalled: false };
    await page.routeWebSocket(/\/v1\/sync/, (socket) => {
      const server = socket.connectToServer();
      socket.onMessage((message) => {
        if (!(stall.isStalled && String(message).includes('"type":"push"'))) server.send(message);
      });
    });
    await reloadApp(page);
    await watchTab(page);
    return stall;
  }

  /** A client of another profile (another machine): memory only, its own connection. */
  async function outside(appId: string): Promise<Page> {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await openApp(context, {
      appUrl: app.url,
      serverUrl: server.url,
      appId,
      userId: "bea",
      storage: "memory",
      options: FAST_RECONNECT,
    });
    pages.push(page);
    await page.evaluate(() => window.app.watchTodos());
    await waitForStatus(page);
    return page;
  }

  /**
   * Two tabs, the first leading (it opened alone), both online, and an outside client. The
   * first is in the background (hidden) once the second opens, as a leader that a browser
   * freezes would be.
   */
  async function setUp(options: { stallLeader?: boolean } = {}) {
    const appId = newAppId();
    const a = await tab(appId);
    const stall = options.stallLeader === true ? await stallPushes(a) : { isStalled: false };
    await waitForStatus(a);
    const b = await tab(appId);
    await waitForStatus(b);
    const other = await outside(appId);
    return { a, b, other, stall };
  }

  const titles = (page: Page) => page.evaluate(() => window.app.views.todos?.map((row) => row.title) ?? []);
  const waitForTitles = (page: Page, expected: readonly string[], timeout = BOUND_MS) =>
    page.waitForFunction(
      (want) => JSON.stringify(window.app.views.todos?.map((row) => row.title)) === JSON.stringify(want),
      expected,
      { timeout },
    );
  const lifecycle = (page: Page) => page.evaluate(() => (window as unknown as { lifecycle: string[] }).lifecycle);

  async function setLifecycle(page: Page, state: "frozen" | "active"): Promise<void> {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Page.setWebLifecycleState", { state });
    await cdp.detach();
  }

  /** Every title each page shows, and the todo ids the outside client has, with none twice. */
  async function expectConverged(pages: readonly Page[], expected: readonly string[]): Promise<void> {
    for (const page of pages) await waitForTitles(page, expected);
    for (const page of pages) await waitForStatus(page, "online/0", BOUND_MS);
    const ids = await pages.at(-1)!.evaluate(() => window.app.todoIds());
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(expected.length);
  }

  it("keeps syncing the other tab while the leader is frozen, both ways, and converges after it resumes", async () => {
    const { a, b, other } = await setUp();
    await setLifecycle(a, "frozen");
    const frozenAt = Date.now();
    await b.evaluate(() => window.app.createTodo("from the other tab"));
    await waitForTitles(other, ["from the other tab"]);
    const outwardMs = Date.now() - frozenAt;
    await other.evaluate(() => window.app.createTodo("from outside"));
    await waitForTitles(b, ["from outside", "from the other tab"]);
    await waitForStatus(b, "online/0", BOUND_MS);
    console.info(`frozen leader: the other tab's write reached the outside client ${outwardMs} ms after the freeze`);
    await setLifecycle(a, "active");
    expect(await lifecycle(a)).toEqual(["freeze", "resume"]);
    await a.evaluate(() => window.app.createTodo("after resuming"));
    await expectConverged([a, b, other], ["after resuming", "from outside", "from the other tab"]);
  });

  it("pushes the writes held in a frozen leader's outbox from the tab that takes over", async () => {
    const { a, b, other, stall } = await setUp({ stallLeader: true });
    // The leader's socket stalls when it writes: its writes wait in its stored outbox.
    stall.isStalled = true;
    await a.evaluate(async () => {
      await window.app.createTodo("held 1");
      await window.app.createTodo("held 2");
    });
    await waitForStatus(b, "syncing/2", BOUND_MS);
    await setLifecycle(a, "frozen");
    const frozenAt = Date.now();
    await b.evaluate(() => window.app.createTodo("from the other tab"));
    await waitForTitles(other, ["from the other tab", "held 1", "held 2"]);
    console.info(
      `frozen leader with held writes: all reached the outside client ${Date.now() - frozenAt} ms after the freeze`,
    );
    await other.evaluate(() => window.app.createTodo("from outside"));
    await waitForTitles(b, ["from outside", "from the other tab", "held 1", "held 2"]);
    await setLifecycle(a, "active");
    expect(await lifecycle(a)).toEqual(["freeze", "resume"]);
    stall.isStalled = false;
    await expectConverged([a, b, other], ["from outside", "from the other tab", "held 1", "held 2"]);
  });

  it("keeps syncing the other tab while the leader's main thread is blocked, and the leader steps down after", async () => {
    const { a, b, other } = await setUp();
    // A long task, not awaited: the leader's timers (its heartbeat) stop for 8 s.
    await a.evaluate(() => {
      setTimeout(() => {
        const end = Date.now() + 8_000;
        while (Date.now() < end);
      });
    });
    const blockedAt = Date.now();
    await b.evaluate(() => window.app.createTodo("from the other tab"));
    await waitForTitles(other, ["from the other tab"]);
    const outwardMs = Date.now() - blockedAt;
    await other.evaluate(() => window.app.createTodo("from outside"));
    await waitForTitles(b, ["from outside", "from the other tab"]);
    console.info(
      `busy leader: the other tab's write reached the outside client ${outwardMs} ms after the long task began`,
    );
    // Once the long task ends the old leader follows; both tabs agree with the outside client.
    await a.evaluate(() => window.app.createTodo("after the long task"));
    await expectConverged([a, b, other], ["after the long task", "from outside", "from the other tab"]);
    expect(await titles(a)).toEqual(["after the long task", "from outside", "from the other tab"]);
  });
});
