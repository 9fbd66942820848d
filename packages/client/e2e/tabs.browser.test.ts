// Tabs of one app in real Chromium: one browser context (one profile) shares IndexedDB,
// BroadcastChannel and Web Locks between its pages, as a user's tabs do.
import type { BrowserContext, Page } from "playwright-core";
import { expect, it } from "vitest";
import { describeBrowser, useBrowserEnv, waitForStatus } from "./harness.js";

const titles = (page: Page) => page.evaluate(() => window.app.views.todos?.map((row) => row.title) ?? []);

async function waitForTitles(page: Page, expected: readonly string[], timeout = 10_000): Promise<void> {
  await page.waitForFunction(
    (want) => JSON.stringify(window.app.views.todos?.map((row) => row.title)) === JSON.stringify(want),
    expected,
    { timeout },
  );
}

/** Sync frames a page sent: the payloads of every WebSocket it opened. */
function recordSockets(page: Page): { sockets: number; sent: string[] } {
  const log = { sockets: 0, sent: [] as string[] };
  page.on("websocket", (socket) => {
    log.sockets++;
    socket.on("framesent", (frame) => log.sent.push(String(frame.payload)));
  });
  return log;
}

describeBrowser("tabs in Chromium", () => {
  const env = useBrowserEnv();
  async function tab(
    context: BrowserContext,
    appId: string,
    withServer = true,
  ): Promise<{ page: Page; frames: ReturnType<typeof recordSockets> }> {
    let frames: ReturnType<typeof recordSockets> | undefined;
    const page = await env.open(
      context,
      { appId, userId: "ada", storage: "indexeddb", ...(withServer ? { serverUrl: env.server.url } : {}) },
      (opened) => (frames = recordSockets(opened)),
    );
    await page.evaluate(() => window.app.watchTodos());
    return { page, frames: frames! };
  }

  /** Two tabs of one profile, opened in turn, each online: the first leads. */
  async function twoSyncedTabs() {
    const context = await env.newContext();
    const appId = env.newAppId();
    const a = await tab(context, appId);
    await waitForStatus(a.page);
    const b = await tab(context, appId);
    await waitForStatus(b.page);
    return { appId, a, b };
  }

  it("shows a write in every tab at once, with no server", async () => {
    const context = await env.newContext();
    const appId = env.newAppId();
    const a = await tab(context, appId, false);
    const b = await tab(context, appId, false);
    await a.page.evaluate(() => window.app.createTodo("milk"));
    await waitForTitles(b.page, ["milk"], 2_000);
    await b.page.evaluate(() => window.app.createTodo("bread"));
    await waitForTitles(a.page, ["bread", "milk"], 2_000);
  });

  it("syncs every tab through one connection, and a write reaches the server once", async () => {
    const { appId, a, b } = await twoSyncedTabs();
    await b.page.evaluate(() => window.app.createTodo("from tab b"));
    await waitForTitles(a.page, ["from tab b"], 2_000);
    // Another profile (another machine) receives it through the server.
    const other = await tab(await env.newContext(), appId);
    await waitForTitles(other.page, ["from tab b"]);
    await waitForStatus(b.page);
    // The first tab leads (it was alone): it holds the only socket and pushed the other's write.
    expect([a.frames.sockets, b.frames.sockets]).toEqual([1, 0]);
    const pushes = [...a.frames.sent, ...b.frames.sent].filter(
      (payload) => payload.includes('"push"') && payload.includes("from tab b"),
    );
    expect(pushes).toHaveLength(1);
  });

  it("hands the connection to the other tab within 5 s when the leader tab closes", async () => {
    const { appId, a, b } = await twoSyncedTabs();
    await a.page.evaluate(() => window.app.createTodo("before"));
    await waitForTitles(b.page, ["before"], 2_000);
    expect([a.frames.sockets, b.frames.sockets]).toEqual([1, 0]);
    const startedAt = Date.now();
    await a.page.close();
    env.forget(a.page);
    await b.page.evaluate(() => window.app.createTodo("after"));
    const other = await tab(await env.newContext(), appId);
    await waitForTitles(other.page, ["after", "before"], 5_000);
    console.info(`handover: the other tab synced a write ${Date.now() - startedAt} ms after the leader closed`);
    await waitForStatus(b.page, "online/0", 5_000);
    expect(b.frames.sockets).toBe(1);
    expect(await titles(b.page)).toEqual(["after", "before"]);
  });
});
