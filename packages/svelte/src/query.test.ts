// @vitest-environment jsdom
import { createClient, type SubscriptionState } from "@trellis/client";
import { createSchema, t } from "@trellis/core";
import { render, screen } from "@testing-library/svelte";
import { flushSync, tick, unmount, mount } from "svelte";
import { get } from "svelte/store";
import { afterEach, describe, expect, expectTypeOf, it, vi } from "vitest";
import { query } from "./query.js";
import { queryOne } from "./query-one.js";
import FilteredList from "./test-components/FilteredList.svelte";
import PreloadedList from "./test-components/PreloadedList.svelte";
import StoreList from "./test-components/StoreList.svelte";
import TodoList from "./test-components/TodoList.svelte";
import { countSubscriptions } from "../../client/src/testing/count-subscriptions.js";

const schema = createSchema({
  entities: {
    todos: {
      title: t.string({ fallback: "" }),
      done: t.boolean({ optional: true, fallback: false }),
      note: t.string({ optional: true }),
    },
  },
});

const clients: { close(): Promise<void> }[] = [];
function localClient() {
  const client = createClient({ schema, userId: "ada" });
  clients.push(client);
  return client;
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

const items = () => screen.queryAllByRole("listitem").map((item) => item.textContent);

describe("query", () => {
  it("renders a local client's data on first render and updates on local writes", async () => {
    const client = localClient();
    await client.database.todos.create({ title: "milk" });
    render(TodoList, { collection: client.database.todos, input: { orderBy: ["title", "asc"] } });
    expect(items()).toEqual(["milk"]);
    expect(screen.getByTestId("loading").textContent).toBe("false");
    await client.database.todos.create({ title: "bread" });
    await tick();
    expect(items()).toEqual(["bread", "milk"]);
  });

  it("does not update for a write to a field the query neither filters, sorts nor returns", async () => {
    const client = localClient();
    const { data: todo } = await client.database.todos.create({ title: "milk" });
    const onUpdate = vi.fn();
    render(TodoList, { collection: client.database.todos, input: { fields: { title: true } }, onUpdate });
    await tick();
    expect(onUpdate).toHaveBeenCalledTimes(1);
    await client.database.todos.update({ id: todo!.id, fields: { note: "2 litres" } });
    await tick();
    expect(onUpdate).toHaveBeenCalledTimes(1);
    await client.database.todos.update({ id: todo!.id, fields: { title: "oat milk" } });
    await tick();
    expect(onUpdate).toHaveBeenCalledTimes(2);
    expect(items()).toEqual(["oat milk"]);
  });

  it("follows a getter's reactive state and resubscribes only when the query changes", async () => {
    const client = localClient();
    await client.database.todos.create({ title: "open" });
    await client.database.todos.create({ title: "closed", done: true });
    const counts = countSubscriptions(client.database.todos);
    render(FilteredList, { collection: client.database.todos });
    expect(items()).toEqual(["open"]);
    const opened = counts.opened;

    screen.getByTestId("click").click();
    flushSync();
    expect(screen.getByTestId("click").textContent).toBe("click 1");
    expect(counts.opened).toBe(opened);

    screen.getByTestId("toggle").click();
    flushSync();
    expect(items()).toEqual(["closed"]);
    expect(counts.opened).toBe(opened + 1);
    expect(counts.queries.at(-1)).toMatchObject({ where: { done: true } });
    await tick();
    expect(counts.live).toBe(1);
  });

  it("keeps one subscription while mounted and closes it when the component is destroyed", async () => {
    const client = localClient();
    const counts = countSubscriptions(client.database.todos);
    const target = document.createElement("div");
    const component = mount(TodoList, { target, props: { collection: client.database.todos, input: {} } });
    flushSync();
    expect(counts.live).toBe(1);
    await client.database.todos.create({ title: "milk" });
    await tick();
    expect(counts.live).toBe(1);
    unmount(component);
    // createSubscriber stops its subscription a microtask after the last reader goes.
    await Promise.resolve();
    await tick();
    expect(counts.live).toBe(0);
  });

  it("renders preloaded data at once with no loading state, then follows it live", async () => {
    const client = localClient();
    await client.database.todos.create({ title: "milk" });
    const { data: preloaded } = await client.database.todos.preload({
      fields: { title: true },
      orderBy: ["title", "asc"],
    });
    // Carried as the frameworks carry it: plain data (a local-only client follows it from its own store).
    const carried = structuredClone(preloaded!);
    const viewer = client;
    render(PreloadedList, { client: viewer, preloaded: carried });
    expect(screen.getByTestId("loading").textContent).toBe("false");
    expect(items()).toEqual(["milk"]);
    await viewer.database.todos.create({ title: "bread" });
    await tick();
    expect(items()).toEqual(["bread", "milk"]);
  });

  it("finds the client of the preloaded data's app when none is set or given", async () => {
    const client = localClient();
    await client.database.todos.create({ title: "milk" });
    const { data: preloaded } = await client.database.todos.preload({
      fields: { title: true },
      orderBy: ["title", "asc"],
    });
    render(PreloadedList, { preloaded: structuredClone(preloaded!) });
    expect(items()).toEqual(["milk"]);
    await client.database.todos.create({ title: "bread" });
    await tick();
    expect(items()).toEqual(["bread", "milk"]);
  });

  it("implements the store contract ($store and get)", async () => {
    const client = localClient();
    await client.database.todos.create({ title: "milk" });
    const todos = query(client.database.todos, { orderBy: ["title", "asc"] });
    expect(get(todos).data?.map((todo) => todo.title)).toEqual(["milk"]);

    const seen: (readonly string[] | undefined)[] = [];
    const stop = todos.subscribe((state) => seen.push(state.data?.map((todo) => todo.title)));
    expect(seen).toEqual([["milk"]]);
    await client.database.todos.create({ title: "bread" });
    flushSync();
    expect(seen.at(-1)).toEqual(["bread", "milk"]);
    stop();

    render(StoreList, { collection: client.database.todos });
    expect(items()).toEqual(["bread", "milk"]);
    await client.database.todos.create({ title: "apples" });
    await tick();
    expect(items()).toEqual(["apples", "bread", "milk"]);
  });

  it("answers reads outside effects from the client at once", async () => {
    const client = localClient();
    await client.database.todos.create({ title: "milk" });
    const first = queryOne(client.database.todos, { where: { title: "milk" } });
    expect(first.data?.title).toBe("milk");
    expect(first.loading).toBe(false);
  });

  it("types data by the query", () => {
    const client = localClient();
    const titles = query(client.database.todos, { fields: { title: true } });
    type Row = NonNullable<typeof titles.data>[number];
    expectTypeOf<Row["title"]>().toEqualTypeOf<string>();
    expectTypeOf<Row>().not.toHaveProperty("done");
    const one = queryOne(client.database.todos, () => ({ where: { done: true } }));
    expectTypeOf(one.data?.title).toEqualTypeOf<string | undefined>();
    expectTypeOf(get(titles)).toMatchTypeOf<SubscriptionState<readonly { readonly title: string }[]>>();
    // @ts-expect-error: not a field of todos
    query(client.database.todos, { where: { nope: 1 } });
  });
});
