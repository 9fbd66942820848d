// The React todo example (examples/react-todo) in real Chromium: two users in two browser
// contexts against a real `trellis-server` process with the example's rules (rules.json): lists
// shared with their members, live todos, live cursors, offline edits that converge on
// reconnect, and a member removed from a list losing it live and from IndexedDB. Screenshots go
// to test-results/screenshots/ (git-ignored).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { removeDataDir, type ServerProcess, startServerProcess } from "@trellis/server/testing";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import {
  type AppServer,
  consoleErrors,
  describeBrowser,
  launchBrowser,
  serveTestApp,
  watchConsole,
} from "../../../packages/client/e2e/harness.js";
import { freePort, settled } from "../../../packages/client/e2e/node-app.js";
import { createClient } from "@trellis/client";
import { schema } from "../src/schema.js";

const APP_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const REPO_ROOT = resolve(APP_DIR, "../..");
const SCREENSHOTS = join(REPO_ROOT, "test-results/screenshots");
/** Chromium's own lines for requests it could not make while the context is offline. */
const OFFLINE_NOISE = /net::ERR_(INTERNET_DISCONNECTED|CONNECTION_REFUSED|NETWORK_CHANGED)/;

/** Every input of the bundle: the example, the packages it bundles from source, the lockfile. */
function sourceHash(): string {
  const hash = createHash("sha256");
  const add = (path: string): void => {
    for (const entry of readdirSync(path, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const child = join(path, entry.name);
      if (entry.isDirectory()) add(child);
      else if (!/\.test(-d)?\.tsx?$/.test(entry.name))
        hash.update(relative(REPO_ROOT, child)).update(readFileSync(child));
    }
  };
  for (const file of ["index.html", "vite.config.ts"]) hash.update(file).update(readFileSync(join(APP_DIR, file)));
  for (const dir of ["examples/react-todo/src", "packages/core/src", "packages/client/src", "packages/react/src"])
    add(join(REPO_ROOT, dir));
  hash.update(readFileSync(join(REPO_ROOT, "pnpm-lock.yaml")));
  return hash.digest("hex").slice(0, 16);
}

/**
 * Builds the example with its own vite config (no server url baked in: the tests pass
 * `?server=`), cached under node_modules/.cache/trellis-e2e-react-todo by a hash of its inputs.
 */
async function buildExample(): Promise<string> {
  const cacheRoot = join(REPO_ROOT, "node_modules/.cache/trellis-e2e-react-todo");
  const outDir = join(cacheRoot, sourceHash());
  if (existsSync(join(outDir, "index.html"))) return outDir;
  rmSync(cacheRoot, { recursive: true, force: true });
  const tempDir = `${outDir}.${process.pid}.tmp`;
  const { build } = await import("vite");
  await build({
    root: APP_DIR,
    configFile: join(APP_DIR, "vite.config.ts"),
    logLevel: "warn",
    build: { outDir: tempDir, emptyOutDir: true, minify: false, reportCompressedSize: false },
  });
  renameSync(tempDir, outDir);
  return outDir;
}

describeBrowser("examples/react-todo in Chromium", () => {
  let browser: Browser | undefined;
  let server: ServerProcess | undefined;
  let app: AppServer | undefined;
  const contexts: BrowserContext[] = [];
  const pages: Page[] = [];
  let apps = 0;

  beforeAll(async () => {
    const rules = join(APP_DIR, "rules.json");
    const [launched, started, served] = await Promise.allSettled([
      launchBrowser(),
      startServerProcess({ args: ["--permissions", rules] }),
      buildExample().then(serveTestApp),
    ]);
    if (launched.status === "fulfilled") browser = launched.value;
    if (started.status === "fulfilled") server = started.value;
    if (served.status === "fulfilled") app = served.value;
    for (const result of [launched, started, served]) if (result.status === "rejected") throw result.reason;
    mkdirSync(SCREENSHOTS, { recursive: true });
  }, 60_000);
  afterEach(async () => {
    const errors = pages.splice(0).flatMap((page) => consoleErrors(page).filter((line) => !OFFLINE_NOISE.test(line)));
    for (const context of contexts.splice(0)) await context.close();
    expect(errors, "the browser console stays free of errors").toEqual([]);
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    if (server !== undefined) {
      await server.stop();
      removeDataDir(server.dataDir);
    }
  });

  /** Opens the example as `user` in a fresh browser context (its own IndexedDB), once online. */
  async function openAs(user: string, appId: string): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser!.newContext({ viewport: { width: 900, height: 900 } });
    contexts.push(context);
    const page = await context.newPage();
    pages.push(page);
    watchConsole(page);
    const query = new URLSearchParams({ server: server!.url, user, app: appId });
    await page.goto(`${app!.url}?${query}`);
    await waitForSync(page);
    return { context, page };
  }
  const newAppId = () => `react-todo-${process.pid}-${++apps}`;

  /** Waits until the badge says online with nothing left to push. */
  const waitForSync = (page: Page) =>
    page.locator('[data-testid="connection"][data-state="online"][data-pending="0"]').waitFor({ timeout: 15_000 });
  const addTodo = async (page: Page, text: string) => {
    await page.getByTestId("new-todo").fill(text);
    await page.getByTestId("new-todo").press("Enter");
  };
  const todo = (page: Page, text: string) => page.getByTestId("todo").filter({ hasText: text });
  /** Makes a list (it becomes the chosen one) and waits until it shows. */
  const newList = async (page: Page, name: string) => {
    await page.getByTestId("new-list").fill(name);
    await page.getByTestId("new-list").press("Enter");
    await page.locator(`[data-testid="list-${name}"][aria-pressed="true"]`).waitFor({ timeout: 5000 });
  };
  const shareWith = async (page: Page, user: string) => {
    await page.getByTestId("share-with").fill(user);
    await page.getByTestId("share-with").press("Enter");
    await page.getByTestId(`member-${user}`).waitFor({ timeout: 5000 });
  };
  /** Alice's list shared with Bob, chosen on both pages. */
  const sharedList = async (alice: Page, bob: Page, name: string) => {
    await newList(alice, name);
    await shareWith(alice, "bob");
    await bob.locator(`[data-testid="list-${name}"][aria-pressed="true"]`).waitFor({ timeout: 5000 });
  };
  const texts = (page: Page) => page.getByTestId("todo").locator("label").allTextContents();
  const count = (page: Page, filter: "all" | "open" | "done") => page.getByTestId(`count-${filter}`).textContent();

  it("shows each user's todos and cursor to the other within a second", async () => {
    const appId = newAppId();
    const [{ page: alice }, { page: bob }] = await Promise.all([openAs("alice", appId), openAs("bob", appId)]);
    await sharedList(alice, bob, "groceries");

    await addTodo(alice, "milk from alice");
    await todo(bob, "milk from alice").waitFor({ timeout: 1000 });
    await addTodo(bob, "bread from bob");
    await todo(alice, "bread from bob").waitFor({ timeout: 1000 });
    await expect.poll(() => texts(alice)).toEqual(["bread from bob", "milk from alice"]);
    expect(await texts(bob)).toEqual(["bread from bob", "milk from alice"]);
    expect(await todo(alice, "milk from alice").locator("small").textContent()).toBe("alice");

    // Bob's pointer over the board becomes a cursor on Alice's board, at the same spot.
    await alice.getByTestId("present-bob").waitFor({ timeout: 1000 });
    const box = (await bob.getByTestId("board").boundingBox())!;
    await bob.mouse.move(box.x + 100, box.y + 50);
    await bob.mouse.move(box.x + 150, box.y + 80, { steps: 4 });
    const cursor = alice.getByTestId("cursor-bob");
    await cursor.waitFor({ timeout: 1000 });
    await expect.poll(() => cursor.getAttribute("data-x"), { timeout: 1000 }).toBe("150");
    expect(await cursor.getAttribute("data-y")).toBe("80");
    expect(await bob.getByTestId("cursor-alice").count()).toBe(0); // Alice's pointer never entered the board

    await alice.screenshot({ path: join(SCREENSHOTS, "react-todo-alice.png"), fullPage: true });
    await bob.screenshot({ path: join(SCREENSHOTS, "react-todo-bob.png"), fullPage: true });
  });

  it("keeps working offline and converges with the other user on reconnect", async () => {
    const appId = newAppId();
    const [{ page: alice }, { context: bobContext, page: bob }] = await Promise.all([
      openAs("alice", appId),
      openAs("bob", appId),
    ]);
    await sharedList(alice, bob, "house");
    await addTodo(alice, "shared");
    await todo(bob, "shared").waitFor({ timeout: 1000 });

    await bobContext.setOffline(true);
    await bob.locator('[data-testid="connection"]:not([data-state="online"])').waitFor({ timeout: 5000 });
    // Offline is not a wrong server: the browser knows it has no network, and no error shows.
    expect(await bob.evaluate(() => navigator.onLine)).toBe(false);
    await bob.waitForTimeout(300);
    expect(await bob.getByTestId("sync-error").count()).toBe(0);
    await addTodo(bob, "offline one");
    await addTodo(bob, "offline two");
    await bob.getByLabel("Done: offline one").check();
    await bob.getByLabel("Done: shared").check();
    await expect.poll(() => bob.getByTestId("connection").getAttribute("data-pending")).toBe("4");
    expect(await count(bob, "done")).toBe("2");
    await addTodo(alice, "while bob is away");
    await alice.waitForTimeout(300);
    expect(await todo(alice, "offline one").count()).toBe(0);
    await bob.screenshot({ path: join(SCREENSHOTS, "react-todo-offline.png"), fullPage: true });

    await bobContext.setOffline(false);
    await waitForSync(bob);
    await todo(alice, "offline two").waitFor({ timeout: 5000 });
    await todo(bob, "while bob is away").waitFor({ timeout: 5000 });
    await expect.poll(() => alice.getByLabel("Done: shared").isChecked()).toBe(true);
    const expected = ["while bob is away", "offline two", "offline one", "shared"];
    await expect.poll(() => texts(alice)).toEqual(expected);
    expect(await texts(bob)).toEqual(expected);
    for (const page of [alice, bob]) {
      expect([await count(page, "all"), await count(page, "open"), await count(page, "done")]).toEqual(["4", "2", "2"]);
    }

    // The filter is a live query too: "done" lists exactly the completed ones.
    await alice.getByTestId("filter-done").click();
    await expect.poll(() => texts(alice)).toEqual(["offline one", "shared"]);
  });

  it("says why it does not sync when the server URL is wrong, and still works locally", async () => {
    const context = await browser!.newContext({ viewport: { width: 900, height: 900 } });
    contexts.push(context);
    const page = await context.newPage();
    pages.push(page);
    watchConsole(page);
    // A port where nothing listens.
    const wrong = `http://127.0.0.1:${await freePort()}`;
    await page.goto(`${app!.url}?${new URLSearchParams({ server: wrong, user: "carol", app: newAppId() })}`);
    const error = page.getByTestId("sync-error");
    await error.waitFor({ timeout: 10_000 });
    expect(await error.textContent()).toContain(`Cannot sync with ${wrong.replace("http", "ws")}/v1/sync`);
    await newList(page, "local");
    await addTodo(page, "kept locally");
    await todo(page, "kept locally").waitFor({ timeout: 2000 });
    await page.screenshot({ path: join(SCREENSHOTS, "react-todo-wrong-server.png"), fullPage: true });
  });

  it("shows the app and its local data when reloaded offline (a service worker keeps its files)", async () => {
    const { context, page } = await openAs("dora", newAppId());
    await newList(page, "trip");
    await addTodo(page, "pack the tent");
    await todo(page, "pack the tent").waitFor({ timeout: 2000 });
    await waitForSync(page);
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, { timeout: 10_000 });

    await context.setOffline(true);
    await page.reload();
    await page.locator('[data-testid="connection"]:not([data-state="online"])').waitFor({ timeout: 5000 });
    await todo(page, "pack the tent").waitFor({ timeout: 5000 });
    await addTodo(page, "buy batteries");
    await expect.poll(() => page.getByTestId("connection").getAttribute("data-pending")).toBe("1");
    await page.screenshot({ path: join(SCREENSHOTS, "react-todo-offline-reload.png"), fullPage: true });

    await context.setOffline(false);
    await waitForSync(page);
  });

  it("shows a progress bar during a large first sync, then the whole list with its counts", async () => {
    // A server that sends first answers in small parts, so 3,000 todos arrive in many.
    const parted = await startServerProcess({
      args: ["--permissions", join(APP_DIR, "rules.json"), "--limit", "snapshotPartTriples=300"],
    });
    try {
      const appId = newAppId();
      const seeder = createClient({ schema, serverUrl: parted.url, appId, userId: "erin" });
      const list = await seeder.database.lists.create({ name: "big", memberIds: ["erin"] });
      await seeder.database.batch.execute(
        Array.from({ length: 3_000 }, (_, n) =>
          seeder.database.batch.todos.create({ text: `todo ${n}`, done: n % 3 === 0, listId: list.data!.id }),
        ),
      );
      await settled(seeder);
      await seeder.close();

      const context = await browser!.newContext({ viewport: { width: 900, height: 900 } });
      contexts.push(context);
      // Records the largest progress shown, however briefly, from the page's first moment.
      await context.addInitScript(() => {
        const seen: number[] = [];
        (window as unknown as { progressSeen: number[] }).progressSeen = seen;
        new MutationObserver(() => {
          const bar = document.querySelector<HTMLProgressElement>('[data-testid="sync-progress"] progress');
          if (bar !== null && seen.at(-1) !== bar.value) seen.push(bar.value, bar.max);
        }).observe(document, { subtree: true, childList: true, attributes: true });
      });
      const page = await context.newPage();
      pages.push(page);
      watchConsole(page);
      await page.goto(`${app!.url}?${new URLSearchParams({ server: parted.url, user: "erin", app: appId })}`);
      const bar = page.getByTestId("sync-progress");
      await bar.waitFor({ timeout: 10_000 }).then(
        () => page.screenshot({ path: join(SCREENSHOTS, "react-todo-sync-progress.png"), fullPage: true }),
        () => undefined,
      );
      await waitForSync(page);
      expect(await count(page, "all")).toBe("3000");
      expect(await bar.count()).toBe(0);
      const seen = await page.evaluate(() => (window as unknown as { progressSeen: number[] }).progressSeen);
      expect(seen.length, "the progress bar showed").toBeGreaterThan(0);
      expect(seen[1]).toBe(3000);
    } finally {
      await parted.stop();
      removeDataDir(parted.dataDir);
    }
  });

  it("pages through the todos ten at a time", async () => {
    const { page } = await openAs("carol", newAppId());
    await newList(page, "chores");
    for (let n = 1; n <= 12; n++) await addTodo(page, `task ${String(n).padStart(2, "0")}`);
    await expect.poll(() => count(page, "all")).toBe("12");
    expect(await texts(page)).toEqual(
      Array.from({ length: 10 }, (_, index) => `task ${String(12 - index).padStart(2, "0")}`),
    );
    await page.getByTestId("next-page").click();
    await expect.poll(() => texts(page)).toEqual(["task 02", "task 01"]);
    expect(await page.getByTestId("page").textContent()).toBe("2");
    await page.getByTestId("previous-page").click();
    await expect.poll(() => page.getByTestId("page").textContent()).toBe("1");
    expect(await texts(page)).toHaveLength(10);
  });

  it("shows a list only to its members, and takes it off a removed member's screen and storage at once", async () => {
    const appId = newAppId();
    const [{ page: alice }, { page: bob }, { page: carol }] = await Promise.all([
      openAs("alice", appId),
      openAs("bob", appId),
      openAs("carol", appId),
    ]);
    await sharedList(alice, bob, "plans");
    await addTodo(alice, "secret plan");
    await todo(bob, "secret plan").waitFor({ timeout: 1000 });
    // Carol is no member: she sees neither the list nor its todos.
    await carol.getByTestId("no-lists").waitFor();
    expect(await carol.getByTestId("list-plans").count()).toBe(0);
    // Bob's browser stores what he may read (IndexedDB), like any synced data.
    await expect.poll(() => storedText(bob, appId), { timeout: 5000 }).toContain("secret plan");

    await alice.getByRole("button", { name: "Remove bob" }).click();
    await bob.getByTestId("list-plans").waitFor({ state: "detached", timeout: 2000 });
    expect(await todo(bob, "secret plan").count()).toBe(0);
    await bob.getByTestId("no-lists").waitFor();
    await expect.poll(() => storedText(bob, appId), { timeout: 5000 }).not.toContain("secret plan");
    expect(await storedText(bob, appId)).not.toContain('"plans"');
    await bob.screenshot({ path: join(SCREENSHOTS, "react-todo-unshared.png"), fullPage: true });

    // After a reload it does not come back; alice still has it.
    await bob.reload();
    await waitForSync(bob);
    await bob.getByTestId("no-lists").waitFor();
    expect(await bob.getByTestId("list-plans").count()).toBe(0);
    expect(await texts(alice)).toEqual(["secret plan"]);
  });
});

/** Everything the page's client stores in IndexedDB for `appId`, as one JSON text. */
function storedText(page: Page, appId: string): Promise<string> {
  return page.evaluate(async (name) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(`trellis-${name}`);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    try {
      const stores = [...db.objectStoreNames];
      if (stores.length === 0) return "";
      const transaction = db.transaction(stores, "readonly");
      const contents = await Promise.all(
        stores.map(
          (store) =>
            new Promise<unknown>((resolve, reject) => {
              const request = transaction.objectStore(store).getAll();
              request.onsuccess = () => resolve(request.result);
              request.onerror = () => reject(request.error);
            }),
        ),
      );
      return JSON.stringify(contents);
    } finally {
      db.close();
    }
  }, appId);
}
