// @vitest-environment jsdom
import { createClient } from "@trellis/client";
import { createSchema, t } from "@trellis/core";
import { render, screen } from "@testing-library/svelte";
import { tick } from "svelte";
import { afterEach, describe, expect, expectTypeOf, it } from "vitest";
import { paginated } from "./paginated.js";
import Pages from "./test-components/Pages.svelte";

const schema = createSchema({ entities: { todos: { title: t.string({ fallback: "" }) } } });
const clients: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

async function clientWith(titles: string[]) {
  const client = createClient({ schema });
  clients.push(client);
  for (const title of titles) await client.database.todos.create({ title });
  return client;
}

const items = () => screen.queryAllByRole("listitem").map((item) => item.textContent);
const page = () => screen.getByTestId("page").textContent;

describe("paginated", () => {
  it("shows the first page and moves with next and previous", async () => {
    const client = await clientWith(["a", "b", "c", "d", "e"]);
    render(Pages, { source: client.database.todos });
    expect(items()).toEqual(["a", "b"]);
    expect(page()).toBe("1/3 next:true previous:false");
    screen.getByTestId("next").click();
    await tick();
    await tick();
    await vi_waitFor(() => items().join() === "c,d");
    expect(page()).toBe("2/3 next:true previous:true");
    screen.getByTestId("previous").click();
    await vi_waitFor(() => items().join() === "a,b");
    expect(page()).toBe("1/3 next:true previous:false");
  });

  it("keeps the page live and continues a preloaded page", async () => {
    const client = await clientWith(["b", "c", "d"]);
    const { data: preloaded } = await client.database.todos.preloadPaginated({
      orderBy: ["title", "asc"],
      pageSize: 2,
    });
    const pages = paginated(structuredClone(preloaded!), client);
    expect(pages.loading).toBe(false);
    // A page continued from preloaded data counts as synced, like a preloaded query.
    expect(pages.hasSynced).toBe(true);
    expect(pages.data?.map((todo) => todo.title)).toEqual(["b", "c"]);
    expectTypeOf<NonNullable<typeof pages.data>[number]["title"]>().toEqualTypeOf<string>();
    expectTypeOf(pages.next).returns.toEqualTypeOf<Promise<void>>();

    render(Pages, { source: client.database.todos });
    await client.database.todos.create({ title: "a" });
    await vi_waitFor(() => items().join() === "a,b");
  });
});

async function vi_waitFor(condition: () => boolean): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  expect(items()).toBe("the expected items");
}
