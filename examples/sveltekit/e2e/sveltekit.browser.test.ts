// The SvelteKit example end to end: a real `trellis-server` process, the app built with
// `svelte-kit sync && vite build` and served by adapter-node's `node build/index.js`, and
// Chromium. The page must arrive with its first page of todos in the HTML, hydrate without an
// error, follow the server live, page forward and back, and list who is in the room.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient, type TrellisClient } from "@trellis/client";
import { createSchema, t } from "@trellis/core";
import { removeDataDir, type ServerProcess, startServerProcess } from "@trellis/server/testing";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeBrowser, launchBrowser, recordPageOutput } from "../../../packages/client/e2e/harness.js";
import {
  createKeyedApp,
  hashInputs,
  type NodeApp,
  settled,
  startNodeApp,
} from "../../../packages/client/e2e/node-app.js";

const APP_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const REPO_ROOT = resolve(APP_DIR, "../..");
const KIT_BIN = join(APP_DIR, "node_modules/@sveltejs/kit/svelte-kit.js");
const VITE_BIN = join(APP_DIR, "node_modules/vite/bin/vite.js");
const BUILD_DIR = join(APP_DIR, "build");
const BUILD_STAMP = join(BUILD_DIR, "trellis-e2e-sources");
const ADMIN_SECRET = "an-admin-secret-for-the-sveltekit-example";
/** The app and its service key, made through the admin API once the server runs. */
const trellisApp = { id: "", serviceKey: "" };

// The app's schema (src/lib/schema.ts), written out: a client of the same schema seeds and writes.
const schema = createSchema({
  entities: { todos: { text: t.string({ fallback: "" }), done: t.boolean({ fallback: false }) } },
});

/** Every input of the build: the app, the workspace packages' build output it imports, the lockfile. */
function sourceHash(): string {
  return hashInputs(REPO_ROOT, [
    join(APP_DIR, "src"),
    ...["package.json", "svelte.config.js", "tsconfig.json", "vite.config.ts"].map((file) => join(APP_DIR, file)),
    ...["core", "client", "svelte", "server"].map((name) => join(REPO_ROOT, "packages", name, "dist")),
    join(REPO_ROOT, "pnpm-lock.yaml"),
  ]);
}

async function run(bin: string, args: readonly string[]): Promise<void> {
  const child = spawn(process.execPath, [bin, ...args], { cwd: APP_DIR, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  const code = await new Promise<number | null>((done) => child.once("exit", done));
  if (code !== 0) throw new Error(`${relative(APP_DIR, bin)} ${args.join(" ")} failed (${code}):\n${output}`);
}

/** Runs `svelte-kit sync && vite build` unless `build/` already holds the build of these sources. */
async function buildApp(): Promise<void> {
  const sources = sourceHash();
  if (
    existsSync(join(BUILD_DIR, "index.js")) &&
    existsSync(BUILD_STAMP) &&
    readFileSync(BUILD_STAMP, "utf8") === sources
  )
    return;
  rmSync(BUILD_STAMP, { force: true });
  await run(KIT_BIN, ["sync"]);
  await run(VITE_BIN, ["build"]);
  writeFileSync(BUILD_STAMP, sources);
}

/** adapter-node's server on 127.0.0.1 and a free port. */
function startApp(trellisUrl: string): Promise<NodeApp> {
  return startNodeApp({
    name: "node build/index.js",
    cwd: APP_DIR,
    args: () => [join(BUILD_DIR, "index.js")],
    env: (port) => ({
      HOST: "127.0.0.1",
      PORT: String(port),
      ORIGIN: `http://127.0.0.1:${port}`,
      TRELLIS_URL: trellisUrl,
      TRELLIS_APP_ID: trellisApp.id,
      TRELLIS_SERVICE_KEY: trellisApp.serviceKey,
    }),
  });
}

// Seven todos: a first page of five, a second of two.
const SEEDED = [
  "buy milk",
  "walk the dog",
  "write the docs",
  "water the plants",
  "call mum",
  "fix the bike",
  "read a book",
];
// What Svelte reports when the server's HTML and the first browser render differ (a warning in
// development; in a production build the hydration error itself).
const HYDRATION_PROBLEM = /hydrat|mismatch/i;
// A production build of Svelte 5 recovers from a mismatch silently, by throwing the server's
// elements away and rendering afresh. This records every element removed from the page, from the
// first byte on, so the test can tell that hydration adopted the server's elements instead.
const RECORD_REMOVED_ELEMENTS = `
  window.__removedElements = [];
  new MutationObserver((records) => {
    for (const record of records)
      for (const node of record.removedNodes) if (node.nodeType === 1) window.__removedElements.push(node.outerHTML.slice(0, 80));
  }).observe(document, { childList: true, subtree: true });
`;

describeBrowser("the SvelteKit example in Chromium", () => {
  let server: ServerProcess | undefined;
  let app: Awaited<ReturnType<typeof startApp>> | undefined;
  let browser: Browser | undefined;
  let writer: TrellisClient<typeof schema> | undefined;
  const ids: string[] = [];

  beforeAll(async () => {
    const seed = async () => {
      // Production mode: the app and a service key for the form action come from the admin API.
      server = await startServerProcess({ args: ["--admin-secret", ADMIN_SECRET] });
      Object.assign(
        trellisApp,
        await createKeyedApp(server.url, ADMIN_SECRET, "SvelteKit example", "sveltekit server"),
      );
      writer = createClient({ schema, serverUrl: server.url, appId: trellisApp.id, userId: "e2e" });
      for (const text of SEEDED) {
        const { data } = await writer.database.todos.create({ text, done: false });
        ids.push(data!.id);
        await new Promise((done) => setTimeout(done, 5)); // distinct createdAt: the page orders by it
      }
      await settled(writer);
    };
    const [seeded, built, launched] = await Promise.allSettled([seed(), buildApp(), launchBrowser()]);
    if (launched.status === "fulfilled") browser = launched.value;
    for (const result of [seeded, built, launched]) if (result.status === "rejected") throw result.reason;
    app = await startApp(server!.url);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (app !== undefined) await app.stop();
    await writer?.close();
    if (server !== undefined) {
      await server.stop();
      removeDataDir(server.dataDir);
    }
  });

  it("sends the preloaded first page in the page's HTML", async () => {
    const response = await fetch(app!.url);
    expect(response.status).toBe(200);
    const html = await response.text();
    // The rendered list, not the serialised load data (which also holds the next page's first todo).
    const list = /<ul data-testid="todos">([\s\S]*?)<\/ul>/.exec(html)?.[1] ?? "";
    for (const text of SEEDED.slice(0, 5)) expect(list).toContain(text);
    expect(list).not.toContain(SEEDED[5]);
    expect(html).toContain("Page 1 of 2");
  });

  it("hydrates without an error, follows the server live and pages", async () => {
    const context = await browser!.newContext();
    const page = await context.newPage();
    const { messages, errors } = recordPageOutput(page);
    await page.addInitScript(RECORD_REMOVED_ELEMENTS);

    await page.goto(`${app!.url}?user=ada`);
    const items = page.getByTestId("todos").locator("li");
    const texts = async () => (await items.allTextContents()).map((text) => text.trim());
    await expect.poll(texts).toEqual(SEEDED.slice(0, 5));
    // Hydrated and connected: the room lists this user once the browser client has joined.
    await expect
      .poll(() => page.getByTestId("here").locator("li").allTextContents(), { timeout: 10_000 })
      .toEqual(["ada"]);
    // …and it kept the server's elements: the preloaded page read the same in the browser.
    expect(
      await page.evaluate(() => (window as unknown as { __removedElements: string[] }).__removedElements),
      "no element replaced at hydration",
    ).toEqual([]);

    await writer!.database.todos.update({ id: ids[0]!, fields: { text: "buy oat milk" } });
    await expect.poll(texts, { timeout: 10_000 }).toEqual(["buy oat milk", ...SEEDED.slice(1, 5)]);

    await page.getByRole("button", { name: "Next" }).click();
    await expect.poll(texts).toEqual(SEEDED.slice(5));
    await expect.poll(() => page.getByTestId("page").textContent()).toBe("Page 2 of 2");
    await writer!.database.todos.create({ text: "added from Node", done: false });
    await expect.poll(texts, { timeout: 10_000 }).toEqual([...SEEDED.slice(5), "added from Node"]);

    await page.getByRole("button", { name: "Previous" }).click();
    await expect.poll(texts).toEqual(["buy oat milk", ...SEEDED.slice(1, 5)]);

    // A second user, in a profile of its own, shows up in the first one's room list.
    const other = await browser!.newContext();
    const otherPage = await other.newPage();
    const otherWatch = recordPageOutput(otherPage);
    await otherPage.goto(`${app!.url}?user=grace`);
    await expect
      .poll(() => page.getByTestId("here").locator("li").allTextContents(), { timeout: 10_000 })
      .toEqual(["ada", "grace"]);

    mkdirSync(join(REPO_ROOT, "test-results/screenshots"), { recursive: true });
    await page.screenshot({ path: join(REPO_ROOT, "test-results/screenshots/sveltekit-example.png"), fullPage: true });
    const allMessages = [...messages, ...errors, ...otherWatch.messages, ...otherWatch.errors];
    expect(
      allMessages.filter((message) => HYDRATION_PROBLEM.test(message)),
      "no hydration warning",
    ).toEqual([]);
    expect([...errors, ...otherWatch.errors], "the browser console stays free of errors").toEqual([]);
    await other.close();
    await context.close();
  });

  it("clears the done todos through a form action that writes with the app's service key", async () => {
    const context = await browser!.newContext();
    const page = await context.newPage();
    const { errors } = recordPageOutput(page);
    await page.goto(app!.url);
    const items = page.getByTestId("todos").locator("li");
    const texts = async () => (await items.allTextContents()).map((text) => text.trim());
    await expect.poll(texts).toEqual(["buy oat milk", ...SEEDED.slice(1, 5)]);
    await writer!.database.todos.update({ id: ids[1]!, fields: { done: true } });
    await expect.poll(() => items.nth(1).locator("input").isChecked(), { timeout: 10_000 }).toBe(true);
    await page.getByRole("button", { name: "Clear completed" }).click();
    await expect.poll(texts, { timeout: 10_000 }).toEqual(["buy oat milk", ...SEEDED.slice(2, 6)]);
    await expect
      .poll(async () => ((await writer!.database.todos.query({ where: { done: true } })).data ?? []).length, {
        timeout: 10_000,
      })
      .toBe(0);
    expect(errors, "the browser console stays free of errors").toEqual([]);
    await context.close();
  });
});
