// Sync in real Chromium: the bundled client in browser tabs, a real `trellis-server` process,
// the browser's own WebSocket. Each test uses an app id of its own on the shared server.
import type { BrowserContext, Page } from "playwright-core";
import { expect, it } from "vitest";
import type { TodoRow } from "./app/test-app.js";
import { closeApp, consoleErrors, describeBrowser, useBrowserEnv, waitForStatus } from "./harness.js";

/** Rows of a tab's `watchTodos` view once it holds a todo with this title (times out otherwise). */
async function waitForTodo(page: Page, title: string, view = "todos"): Promise<TodoRow> {
  const handle = await page.waitForFunction(
    ([name, wanted]) => window.app.views[name!]?.find((row) => row.title === wanted),
    [view, title] as const,
    { timeout: 15_000 },
  );
  return (await handle.jsonValue()) as TodoRow;
}

const titles = (page: Page) => page.evaluate(() => window.app.views.todos?.map((row) => row.title));

describeBrowser("sync in Chromium", () => {
  const env = useBrowserEnv();
  /**
   * A tab running the app against the shared server, watching its todos. Memory storage: tabs
   * meet only through the server here (persistence and tab sharing have tests of their own).
   */
  async function tab(context: BrowserContext, appId: string, userId: string): Promise<Page> {
    const page = await env.open(context, { serverUrl: env.server.url, appId, userId, storage: "memory" });
    await page.evaluate(() => window.app.watchTodos());
    return page;
  }

  it("shows a todo created in one tab in another tab's live subscription, both ways", async () => {
    const appId = env.newAppId();
    const context = await env.newContext();
    const [a, b] = await Promise.all([tab(context, appId, "ada"), tab(context, appId, "ada")]);
    await Promise.all([waitForStatus(a), waitForStatus(b)]);
    expect(await titles(b)).toEqual([]);

    const id = await a.evaluate(() => window.app.createTodo("buy milk"));
    expect(await waitForTodo(b, "buy milk")).toEqual({ id, title: "buy milk", done: false, createdBy: "ada" });

    await b.evaluate(() => window.app.createTodo("walk dog", true));
    expect(await waitForTodo(a, "walk dog")).toMatchObject({ done: true, createdBy: "ada" });
    expect(await titles(a)).toEqual(["buy milk", "walk dog"]);
    expect(await titles(b)).toEqual(["buy milk", "walk dog"]);
  });

  it("replicates writes between two browser contexts (two users)", async () => {
    const appId = env.newAppId();
    const [alice, bob] = await Promise.all([
      tab(await env.newContext(), appId, "alice"),
      tab(await env.newContext(), appId, "bob"),
    ]);
    await Promise.all([waitForStatus(alice), waitForStatus(bob)]);

    await alice.evaluate(() => window.app.createTodo("from alice"));
    await bob.evaluate(() => window.app.createTodo("from bob"));
    expect(await waitForTodo(bob, "from alice")).toMatchObject({ createdBy: "alice" });
    expect(await waitForTodo(alice, "from bob")).toMatchObject({ createdBy: "bob" });
    expect(await titles(alice)).toEqual(["from alice", "from bob"]);
    expect(await titles(bob)).toEqual(["from alice", "from bob"]);
  });

  it("keeps apps apart: a tab of another app id sees none of these todos", async () => {
    const context = await env.newContext();
    const [writer, other] = await Promise.all([
      tab(context, env.newAppId(), "ada"),
      tab(context, env.newAppId(), "ada"),
    ]);
    await Promise.all([waitForStatus(writer), waitForStatus(other)]);
    await writer.evaluate(() => window.app.createTodo("private"));
    await waitForStatus(writer); // the server has acknowledged the write
    await waitForTodo(writer, "private");
    expect(await titles(other)).toEqual([]);
  });

  it("reports errors logged or thrown in the page (so the console check can fail)", async () => {
    const page = await tab(await env.newContext(), env.newAppId(), "ada");
    await page.evaluate(() => {
      console.error("logged on purpose");
      setTimeout(() => {
        throw new Error("thrown on purpose");
      });
    });
    await expect.poll(() => consoleErrors(page).length).toBe(2);
    expect(consoleErrors(page)[0]).toBe("console.error: logged on purpose");
    expect(consoleErrors(page)[1]).toContain("thrown on purpose");
    env.forget(page); // expected errors: leave this page out of the after-test check
    await closeApp(page);
  });
});
