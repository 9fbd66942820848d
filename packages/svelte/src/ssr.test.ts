import { createClient } from "@trellis/client";
import { createSchema, t } from "@trellis/core";
import { render } from "svelte/server";
import { afterEach, describe, expect, it } from "vitest";
import PreloadedList from "./test-components/PreloadedList.svelte";
import TodoList from "./test-components/TodoList.svelte";
import { countSubscriptions } from "../../client/src/testing/count-subscriptions.js";

// Server-side rendering (node environment: the components compile for the server).

const schema = createSchema({ entities: { todos: { title: t.string({ fallback: "" }) } } });
const clients: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

describe("server-side rendering", () => {
  it("renders preloaded data with no loading state, and leaves no subscription open", async () => {
    const client = createClient({ schema });
    clients.push(client);
    await client.database.todos.create({ title: "milk" });
    const { data: preloaded } = await client.database.todos.preload({ orderBy: ["title", "asc"] });
    const counts = countSubscriptions(client.database.todos);
    const { body } = render(PreloadedList, { props: { client, preloaded: structuredClone(preloaded!) } });
    expect(body).toContain("<li>milk</li>");
    expect(body).toContain('data-testid="loading">false<');
    // Without effects, each read opened a subscription and closed it at once.
    expect(counts.opened).toBeGreaterThan(0);
    expect(counts.live).toBe(0);
  });

  it("renders a local client's query", async () => {
    const client = createClient({ schema });
    clients.push(client);
    await client.database.todos.create({ title: "bread" });
    const { body } = render(TodoList, { props: { collection: client.database.todos, input: {} } });
    expect(body).toContain("<li>bread</li>");
  });
});
