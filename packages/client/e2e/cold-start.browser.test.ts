// A cold start in Chromium: the first result of an ordered first page, with nothing stored for
// it by an earlier run, read through IndexedDB's order index rather than the whole collection.
import { expect, it } from "vitest";
import { describeBrowser, reloadApp, useBrowserEnv } from "./harness.js";

/** Enough that reading the collection whole is not what answers first. */
const TODOS = 5_000;

describeBrowser("cold start in Chromium", () => {
  const env = useBrowserEnv();

  it("answers the newest open todos from the order index, then as the whole collection does", async () => {
    const page = await env.open(await env.newContext(), { appId: env.newAppId(), storage: "indexeddb" });
    await page.evaluate((count) => window.app.seedTodos(count), TODOS);

    await reloadApp(page);
    await page.evaluate(() => window.app.watchNewest(50));
    await page.waitForFunction(() => window.app.views.newest !== undefined, undefined, { timeout: 30_000 });
    const first = await page.evaluate(() => window.app.views.newest!.map((row) => row.title));
    expect(await page.evaluate(() => window.app.newestFrom)).toBe("order index");
    const newest = Array.from({ length: TODOS }, (_, n) => n)
      .filter((n) => n % 3 !== 0)
      .reverse()
      .slice(0, 50)
      .map((n) => `seed-${String(n).padStart(5, "0")}`);
    expect(first).toEqual(newest);
    expect(await page.evaluate(() => window.app.newestTitles(50))).toEqual(newest);
  });
});
