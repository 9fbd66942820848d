// The Next.js example end to end: a real `trellis-server` process, the app built with `next build`
// and served by `next start`, and Chromium. The page must arrive with its todos in the HTML,
// hydrate without a mismatch, then follow the server live.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
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
const NEXT_BIN = join(APP_DIR, "node_modules/next/dist/bin/next");
const BUILD_DIR = join(APP_DIR, ".next");
const BUILD_STAMP = join(BUILD_DIR, "trellis-e2e-sources");
const ADMIN_SECRET = "an-admin-secret-for-the-nextjs-example";
/** The app and its service key, made through the admin API once the server runs. */
const app = { id: "", serviceKey: "" };
const nextEnv = { ...process.env, NEXT_TELEMETRY_DISABLED: "1" };

// The app's schema (app/schema.ts), written out: a client of the same schema seeds and writes.
const schema = createSchema({
  entities: { todos: { text: t.string({ fallback: "" }), done: t.boolean({ fallback: false }) } },
});

/** Every input of `next build`: the app, the workspace packages' build output it imports, the lockfile. */
function sourceHash(): string {
  return hashInputs(REPO_ROOT, [
    join(APP_DIR, "app"),
    ...["next.config.mjs", "package.json", "tsconfig.json"].map((file) => join(APP_DIR, file)),
    ...["core", "client", "react", "server"].map((name) => join(REPO_ROOT, "packages", name, "dist")),
    join(REPO_ROOT, "pnpm-lock.yaml"),
  ]);
}

/** Runs `next build` unless `.next` already holds the build of these sources. */
async function buildApp(): Promise<void> {
  const sources = sourceHash();
  if (
    existsSync(join(BUILD_DIR, "BUILD_ID")) &&
    existsSync(BUILD_STAMP) &&
    readFileSync(BUILD_STAMP, "utf8") === sources
  )
    return;
  rmSync(BUILD_STAMP, { force: true });
  const child = spawn(process.execPath, [NEXT_BIN, "build"], {
    cwd: APP_DIR,
    env: nextEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  const code = await new Promise<number | null>((done) => child.once("exit", done));
  if (code !== 0) throw new Error(`next build failed (${code}):\n${output}`);
  // Hash again: the first build may have written Next's own additions to tsconfig.json.
  writeFileSync(BUILD_STAMP, sourceHash());
}

/**
 * `next start` (the production build) or `next dev` on 127.0.0.1 and a free port, in a process
 * group of its own (with any worker it forks). Development React reports every hydration
 * mismatch, attributes included.
 */
function startNext(trellisUrl: string, mode: "start" | "dev" = "start"): Promise<NodeApp> {
  return startNodeApp({
    name: `next ${mode}`,
    cwd: APP_DIR,
    args: (port) => [NEXT_BIN, mode, "--hostname", "127.0.0.1", "--port", String(port)],
    env: () => ({ ...nextEnv, TRELLIS_URL: trellisUrl, TRELLIS_APP_ID: app.id, TRELLIS_SERVICE_KEY: app.serviceKey }),
    isGroup: true,
  });
}

const SEEDED = ["buy milk", "walk the dog", "write the docs"];
// What React reports when the server's HTML and the first browser render differ: warnings in
// development, minified errors #418/#423/#425 (thrown, then recovered from) in a production build.
// A production build does not report attributes that differ, only text and elements.
const HYDRATION_PROBLEM = /hydrat|did not match|didn't match|mismatch|Minified React error #(418|423|425)\b/i;

describeBrowser("the Next.js example in Chromium", () => {
  let server: ServerProcess | undefined;
  let next: Awaited<ReturnType<typeof startNext>> | undefined;
  let browser: Browser | undefined;
  let writer: TrellisClient<typeof schema> | undefined;

  beforeAll(async () => {
    const seed = async () => {
      // Production mode: the app and a service key for the page's server action come from the admin API.
      server = await startServerProcess({ args: ["--admin-secret", ADMIN_SECRET] });
      Object.assign(app, await createKeyedApp(server.url, ADMIN_SECRET, "Next.js example", "next.js server"));
      writer = createClient({ schema, serverUrl: server.url, appId: app.id, userId: "e2e" });
      for (const text of SEEDED) {
        await writer.database.todos.create({ text, done: false });
        await new Promise((done) => setTimeout(done, 5)); // distinct createdAt: the page orders by it
      }
      await settled(writer);
    };
    const [seeded, built, launched] = await Promise.allSettled([seed(), buildApp(), launchBrowser()]);
    if (launched.status === "fulfilled") browser = launched.value;
    for (const result of [seeded, built, launched]) if (result.status === "rejected") throw result.reason;
    next = await startNext(server!.url);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (next !== undefined) await next.stop();
    await writer?.close();
    if (server !== undefined) {
      await server.stop();
      removeDataDir(server.dataDir);
    }
  });

  it("sends the preloaded todos in the page's HTML", async () => {
    const response = await fetch(next!.url);
    expect(response.status).toBe(200);
    const html = await response.text();
    for (const text of SEEDED) expect(html).toContain(text);
  });

  it("hydrates without a mismatch or console error, then follows the server live", async () => {
    const context = await browser!.newContext();
    const page = await context.newPage();
    const { messages, errors } = recordPageOutput(page);

    await page.goto(next!.url);
    const items = page.getByTestId("todos").locator("li");
    const texts = async () => (await items.allTextContents()).map((text) => text.trim());
    await expect.poll(texts).toEqual(SEEDED);
    // Hydrated: React has attached itself to the server-rendered list.
    await page.waitForFunction(() => {
      const list = document.querySelector('[data-testid="todos"]');
      return list !== null && Object.keys(list).some((key) => key.startsWith("__reactFiber"));
    });

    const { data: created } = await writer!.database.todos.create({ text: "added from Node", done: false });
    expect(created).toBeDefined();
    await expect.poll(texts, { timeout: 10_000 }).toEqual([...SEEDED, "added from Node"]);
    await writer!.database.todos.update({ id: created!.id, fields: { done: true } });
    await expect.poll(() => items.last().locator("input").isChecked(), { timeout: 10_000 }).toBe(true);

    mkdirSync(join(REPO_ROOT, "test-results/screenshots"), { recursive: true });
    await page.screenshot({ path: join(REPO_ROOT, "test-results/screenshots/nextjs-example.png"), fullPage: true });
    expect(
      [...messages, ...errors].filter((message) => HYDRATION_PROBLEM.test(message)),
      "no hydration warning",
    ).toEqual([]);
    expect(errors, "the browser console stays free of errors").toEqual([]);
    await context.close();
  });

  it("clears the done todos through a server action that writes with the app's service key", async () => {
    const context = await browser!.newContext();
    const page = await context.newPage();
    const { errors } = recordPageOutput(page);
    await page.goto(next!.url);
    const items = page.getByTestId("todos").locator("li");
    await expect
      .poll(async () => (await items.allTextContents()).map((text) => text.trim()))
      .toContain("added from Node");
    // "added from Node" was ticked above; tick "buy milk" in the page too.
    await items.filter({ hasText: "buy milk" }).locator("input").check();
    await expect.poll(() => items.filter({ hasText: "buy milk" }).locator("input").isChecked()).toBe(true);
    await settled(writer!);
    await page.getByRole("button", { name: "Clear completed" }).click();
    await expect
      .poll(async () => (await items.allTextContents()).map((text) => text.trim()), { timeout: 10_000 })
      .toEqual(["walk the dog", "write the docs"]);
    // The deletions reached another client too: they went through the server.
    await expect
      .poll(async () => ((await writer!.database.todos.query({ where: { done: true } })).data ?? []).length, {
        timeout: 10_000,
      })
      .toBe(0);
    expect(errors, "the browser console stays free of errors").toEqual([]);
    await context.close();
  });

  // Development React also reports attributes that differ, which a production build does not.
  it("hydrates under next dev without any hydration warning", async () => {
    const dev = await startNext(server!.url, "dev");
    const context = await browser!.newContext();
    try {
      const page = await context.newPage();
      const { messages, errors } = recordPageOutput(page);
      // The first request compiles the page: give it time.
      await page.goto(dev.url, { timeout: 120_000 });
      await page.waitForFunction(
        () => {
          const list = document.querySelector('[data-testid="todos"]');
          return list !== null && Object.keys(list).some((key) => key.startsWith("__reactFiber"));
        },
        undefined,
        { timeout: 120_000 },
      );
      const stored = (await writer!.database.todos.query({})).data!.length;
      await expect
        .poll(async () => (await page.getByTestId("todos").locator("li").allTextContents()).length, { timeout: 10_000 })
        .toBe(stored);
      // React reports mismatches right after hydrating; let its dev overlay and console settle.
      await new Promise((done) => setTimeout(done, 1_000));
      expect(
        [...messages, ...errors].filter((message) => HYDRATION_PROBLEM.test(message)),
        "no hydration warning in development",
      ).toEqual([]);
    } finally {
      await context.close();
      await dev.stop();
    }
  }, 180_000);
});
