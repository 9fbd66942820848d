import { createSchema, t } from "@trellis/core";
import { removeDataDir, type ServerProcess, startServerProcess } from "@trellis/server/testing";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createClient } from "../create-client.js";

const schema = createSchema({ entities: { todos: { text: t.string({ fallback: "" }), done: t.boolean({ fallback: false }) } } });
let server: ServerProcess;
beforeAll(async () => {
  server = await startServerProcess();
});
afterAll(async () => {
  await server.stop();
  removeDataDir(server.dataDir);
});

it("replicates a write from one client to another", async () => {
  const a = createClient({ schema, appId: "smoke", serverUrl: server.url, userId: "a" });
  const b = createClient({ schema, appId: "smoke", serverUrl: server.url, userId: "b" });
  const seen: string[][] = [];
  const done = new Promise<void>((resolve) =>
    b.database.todos.subscribe({ where: { done: false } }, (todos, error, loading) => {
      if (loading || error || todos === undefined) return;
      seen.push(todos.map((todo) => todo.text));
      if (todos.length === 1) resolve();
    }),
  );
  const created = await a.database.todos.create({ text: "milk", done: false });
  expect(created.error).toBeUndefined();
  await done;
  expect(seen.at(-1)).toEqual(["milk"]);
  const c = createClient({ schema, appId: "smoke", serverUrl: server.url });
  const preloaded = await c.database.todos.preload({});
  expect(preloaded.error).toBeUndefined();
  expect(preloaded.data?.cursor).toMatch(/^\d+$/);
  expect(JSON.stringify(preloaded.data?.triples)).toContain("milk");
  await Promise.all([a.close(), b.close(), c.close()]);
});
