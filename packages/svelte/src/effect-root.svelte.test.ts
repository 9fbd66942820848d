// @vitest-environment jsdom
import { createClient } from "@trellis/client";
import { createSchema, t } from "@trellis/core";
import { flushSync, tick } from "svelte";
import { afterEach, describe, expect, it } from "vitest";
import { connection } from "./connection.js";
import { paginated } from "./paginated.js";
import { query } from "./query.js";

// Runes in a test module (`.svelte.test.ts`): the bindings outside components, in `$effect.root`.

const schema = createSchema({
  entities: { todos: { title: t.string({ fallback: "" }), done: t.boolean({ fallback: false }) } },
});
const clients: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

async function clientWith(todos: { title: string; done: boolean }[]) {
  const client = createClient({ schema });
  clients.push(client);
  for (const todo of todos) await client.database.todos.create(todo);
  return client;
}

describe("bindings in $effect.root", () => {
  it("starts a paginated getter query again from its first page when the query changes", async () => {
    const client = await clientWith([
      { title: "a", done: false },
      { title: "b", done: false },
      { title: "c", done: false },
      { title: "x", done: true },
    ]);
    let done = $state(false);
    const pages = paginated(client.database.todos, () => ({ where: { done }, orderBy: ["title", "asc"], pageSize: 2 }));
    const seen: string[][] = [];
    const stop = $effect.root(() => {
      $effect(() => {
        seen.push((pages.data ?? []).map((todo) => todo.title));
      });
    });
    flushSync();
    expect(seen.at(-1)).toEqual(["a", "b"]);
    await pages.next();
    flushSync();
    expect(seen.at(-1)).toEqual(["c"]);
    done = true;
    flushSync();
    expect(seen.at(-1)).toEqual(["x"]);
    expect(pages.currentPage).toBe(1);
    stop();
  });

  it("follows a query in an effect root and stops with it", async () => {
    const client = await clientWith([{ title: "a", done: false }]);
    const todos = query(client.database.todos, { orderBy: ["title", "asc"] });
    let count = 0;
    const stop = $effect.root(() => {
      $effect(() => {
        count = todos.data?.length ?? 0;
      });
    });
    flushSync();
    expect(count).toBe(1);
    await client.database.todos.create({ title: "b", done: true });
    flushSync();
    expect(count).toBe(2);
    stop();
    await tick();
    await client.database.todos.create({ title: "c", done: true });
    flushSync();
    expect(count).toBe(2);
  });

  it("reads a local client's connection as offline", async () => {
    const client = await clientWith([]);
    const sync = connection(client);
    expect(sync.state).toBe("offline");
    expect(sync.pending).toBe(0);
  });
});
