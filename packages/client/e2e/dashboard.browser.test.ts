// The dashboard at /dashboard in Chromium, against a real `trellis-server` in production mode and
// a real client: sign in, create an app and copy its snippet, watch a client's documents arrive in
// the data browser, filter them, read a document's cells, see the client's connection, edit
// permission rules (a mistake first, shown inline), create and revoke a service key. Screenshots
// go to test-results/screenshots/ (git-ignored). See docs/design/027-dashboard.md.
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient, type TrellisClient } from "@trellis/client";
import { createSchema, t } from "@trellis/core";
import { removeDataDir, type ServerProcess, startServerProcess, tempDataDir } from "@trellis/server/testing";
import { SignJWT } from "jose";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeBrowser, launchBrowser, recordPageOutput } from "./harness.js";
import { settled } from "./node-app.js";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const SCREENSHOTS = join(REPO_ROOT, "test-results/screenshots");
const ADMIN_SECRET = "an-admin-secret-for-the-dashboard-test";
const JWT_SECRET = "a-jwt-secret-for-the-dashboard-test";
const schema = createSchema({
  entities: { todos: { title: t.string({ fallback: "" }), done: t.boolean({ fallback: false }) } },
});

const token = (sub: string) =>
  new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(JWT_SECRET));

describeBrowser("the dashboard", () => {
  let server: ServerProcess;
  let browser: Browser;
  let client: TrellisClient<typeof schema> | undefined;

  beforeAll(async () => {
    [server, browser] = await Promise.all([
      startServerProcess({
        dataDir: tempDataDir(),
        args: ["--admin-secret", ADMIN_SECRET, "--jwt-secret", JWT_SECRET],
      }),
      launchBrowser(),
    ]);
    mkdirSync(SCREENSHOTS, { recursive: true });
  });

  afterAll(async () => {
    await client?.close();
    await browser?.close();
    await server?.stop();
    if (server !== undefined) removeDataDir(server.dataDir);
  });

  /** The text of the visible tab panel. */
  const panel = (page: Page) => page.getByRole("tabpanel");

  it("signs in, creates an app, browses a live client's data, edits rules and manages keys, with no console errors", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
    const page = await context.newPage();
    const output = recordPageOutput(page);

    // Sign in: a wrong secret is refused with the server's message, the right one lists the apps.
    await page.goto(`${server.url}/dashboard`);
    await page.getByLabel("Admin secret").fill("not-the-admin-secret-at-all");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("needs authorization");
    await page.getByLabel("Admin secret").fill(ADMIN_SECRET);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("No apps yet").waitFor();

    // Create an app: its id and a client snippet naming it, which copies to the clipboard.
    await page.getByLabel("New app").fill("Groceries");
    await page.getByRole("button", { name: "Create", exact: true }).click();
    await page.getByRole("heading", { name: "Groceries" }).waitFor();
    const appId = (await page.locator(".app-head code").textContent())!;
    expect(appId).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{15}$/);
    await page.getByRole("button", { name: "Copy snippet" }).click();
    await page.getByRole("button", { name: "Copied" }).waitFor();
    const snippet = await page.evaluate(() => navigator.clipboard.readText());
    expect(snippet).toContain(`appId: "${appId}"`);
    expect(snippet).toContain(`serverUrl: "${server.url}"`);

    // A client connects to the new app with a token and writes.
    client = createClient({ schema, serverUrl: server.url, appId, auth: { token: await token("alice") } });
    await client.database.todos.create({ title: "Milk", done: false });
    await client.database.todos.create({ title: "Bread", done: true });
    await settled(client);

    // The data browser shows its documents, and a new write arrives while it is open.
    await page.getByRole("tab", { name: "Data" }).click();
    await page.getByRole("button", { name: /todos/ }).waitFor();
    await expect.poll(() => panel(page).locator("tbody tr").count()).toBe(2);
    await client.database.todos.create({ title: "Eggs", done: false });
    await expect.poll(() => panel(page).textContent(), { timeout: 10_000 }).toContain("Eggs");
    expect(await panel(page).locator("tbody tr").count()).toBe(3);

    // A filter in the rules' language narrows the list; a mistake is shown with its path.
    await page.getByLabel(/Filter/).fill('{ "done": true }');
    await page.getByRole("button", { name: "Apply" }).click();
    await expect.poll(() => panel(page).locator("tbody tr").count()).toBe(1);
    expect(await panel(page).locator("tbody").textContent()).toContain("Bread");
    await page.getByLabel(/Filter/).fill('{ "done": { "is": true } }');
    await page.getByRole("button", { name: "Apply" }).click();
    await expect.poll(() => page.locator("#filter-error").textContent()).toContain("where.done.is");
    await page.getByLabel(/Filter/).fill("");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect.poll(() => panel(page).locator("tbody tr").count()).toBe(3);

    // A document's cells: values, HLCs and the user whose client wrote them.
    const milk = (await client.database.todos.queryOne({ where: { title: "Milk" } })).data!;
    await page.getByRole("button", { name: milk.id }).click();
    const cells = page.getByRole("region", { name: `Document ${milk.id}` });
    await cells.waitFor();
    await expect.poll(() => cells.textContent()).toContain("alice · ");
    expect(await cells.textContent()).toContain("Milk");
    await page.screenshot({ path: join(SCREENSHOTS, "dashboard-data.png"), fullPage: true });

    // Connections: the client's, with its user.
    await page.getByRole("tab", { name: "Connections" }).click();
    await expect.poll(() => panel(page).textContent()).toContain("alice");

    // Rules: a mistake is refused inline with its path, then valid rules are saved and the client goes on.
    await page.getByRole("tab", { name: "Permissions" }).click();
    await page.getByTestId("rules-source").waitFor();
    await page.getByLabel(/Rules/).fill(JSON.stringify({ todos: { read: { title: { like: "M%" } } } }));
    await page.getByRole("button", { name: "Save rules" }).click();
    await expect.poll(() => page.locator("#rules-error").textContent()).toContain("todos.read.title.like");
    expect(await page.getByLabel(/Rules/).getAttribute("aria-invalid")).toBe("true");
    const rules = { todos: { read: true, create: true, update: true, delete: { createdBy: "$user.id" } } };
    await page.getByLabel(/Rules/).fill(JSON.stringify(rules));
    await page.getByRole("button", { name: "Save rules" }).click();
    await page.getByText("Saved.").waitFor();
    expect(await page.getByTestId("rules-source").textContent()).toContain("its own rules");
    await page.screenshot({ path: join(SCREENSHOTS, "dashboard-permissions.png"), fullPage: true });
    await client.database.todos.create({ title: "Butter", done: false });
    await settled(client);

    // Service keys: create one (shown once), revoke it, and the server refuses it from then on.
    await page.getByRole("tab", { name: "Service keys" }).click();
    await page.getByLabel("New key").fill("next.js server");
    await page.getByRole("button", { name: "Create key" }).click();
    const key = (await page.getByTestId("new-key").textContent())!.trim();
    expect(key).toMatch(/^tsk_/);
    const ask = () =>
      fetch(`${server.url}/v1/query`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({
          appId,
          query: { collection: "todos", select: [], where: [], orderBy: [], specs: {} },
          cursor: null,
        }),
      });
    expect((await ask()).status).toBe(200);
    await page.getByRole("button", { name: "Revoke next.js server" }).click();
    await page.getByText("No service keys.").waitFor();
    expect((await ask()).status).toBe(401);

    // Overview: the connection counted; tabs move with the arrow keys.
    await page.getByRole("tab", { name: "Overview" }).click();
    await expect.poll(() => page.getByTestId("connections").textContent()).toBe("1");
    // The chart: the server's samples (one when the app opened) and the reading just fetched.
    await expect
      .poll(() => page.getByRole("img", { name: /^Connections/ }).getAttribute("aria-label"))
      .toMatch(/^Connections \(peak 1\) and writes per second/);
    await page.getByRole("tab", { name: "Overview" }).focus();
    await page.keyboard.press("ArrowRight");
    await expect.poll(() => page.getByRole("tab", { name: "Data" }).getAttribute("aria-selected")).toBe("true");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("tab-data");

    // Narrow screens get one column.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole("tab", { name: "Overview" }).click();
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1)).toBe(true);
    await page.screenshot({ path: join(SCREENSHOTS, "dashboard-narrow.png"), fullPage: true });

    // The only failures were the refusals the test asked for: the wrong secret and the two mistakes.
    const unexpected = output.errors.filter(
      (error) => !/status of (401|400)|HTTP (401|400): .*\/v1\/admin\/apps/.test(error),
    );
    expect(unexpected).toEqual([]);
    expect(output.errors.filter((error) => error.startsWith("HTTP "))).toHaveLength(3);
    await context.close();
  });
});
