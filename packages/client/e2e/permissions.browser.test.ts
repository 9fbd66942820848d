// Permission rules in real Chromium: two browsers against a `trellis-server` process with rules.
// A todo alice shares with bob leaves bob's page live when she unshares it, and after a reload
// bob's IndexedDB no longer holds it.
import { expect, it } from "vitest";
import { describeBrowser, reloadApp, useBrowserEnv, waitForStatus } from "./harness.js";

const RULES = {
  users: { read: true },
  todos: {
    read: { or: [{ ownerId: "$user.id" }, { sharedWith: "$user.id" }] },
    create: { ownerId: "$user.id" },
    update: { ownerId: "$user.id" },
    delete: { ownerId: "$user.id" },
  },
};

describeBrowser("permissions in Chromium", () => {
  const env = useBrowserEnv({ permissions: RULES });

  it("takes a todo away from bob live when alice unshares it; after a reload IndexedDB no longer holds it", async () => {
    const appId = env.newAppId();
    const open = async (userId: string) =>
      env.open(await env.newContext(), { appId, userId, storage: "indexeddb", serverUrl: env.server.url });
    const alice = await open("alice");
    const bob = await open("bob");
    await bob.evaluate(() => window.app.watchTodos());
    const shared = await alice.evaluate(() => window.app.createTodo("for bob", false, ["bob"]));
    await alice.evaluate(() => window.app.createTodo("alice only"));
    const own = await bob.evaluate(() => window.app.createTodo("bob's own"));
    await bob.waitForFunction(
      () => window.app.views.todos?.map((row) => row.title).join() === "bob's own,for bob",
      undefined,
      { timeout: 15_000 },
    );
    await waitForStatus(bob);
    expect((await bob.evaluate((id) => window.app.storedTodoIds(id), appId)).sort()).toEqual([own, shared].sort());

    await alice.evaluate((id) => window.app.updateTodo(id, { sharedWith: [] }), shared);
    await bob.waitForFunction(() => window.app.views.todos?.map((row) => row.title).join() === "bob's own", undefined, {
      timeout: 15_000,
    });
    await waitForStatus(bob);
    await bob.evaluate(() => window.app.stop());
    expect(await bob.evaluate((id) => window.app.storedTodoIds(id), appId)).toEqual([own]);

    // After a reload the todo is not there, and syncing again does not bring it back.
    await reloadApp(bob);
    expect(await bob.evaluate(() => window.app.todoIds())).toEqual([own]);
    await bob.evaluate(() => window.app.watchTodos());
    await waitForStatus(bob);
    expect(await bob.evaluate(() => window.app.views.todos?.map((row) => row.title))).toEqual(["bob's own"]);
  });
});
