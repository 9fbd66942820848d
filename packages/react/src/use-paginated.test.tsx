// @vitest-environment jsdom
import { createClient, type TrellisClient } from "@trellis/client";
import { createSchema, t } from "@trellis/core";
import { act, cleanup, render } from "@testing-library/react";
import { StrictMode } from "react";
import { afterEach, describe, expect, it } from "vitest";
import { TrellisProvider } from "./trellis-provider.js";
import { type PaginatedResult, usePaginated } from "./use-paginated.js";

const schema = createSchema({ entities: { todos: { title: t.string({ fallback: "" }) } } });
type Client = TrellisClient<typeof schema>;
const clients: Client[] = [];
afterEach(async () => {
  cleanup();
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

async function clientWithTodos(count: number): Promise<Client> {
  const client = createClient({ schema, appId: "react-pages" });
  clients.push(client);
  for (let i = 0; i < count; i++) await client.database.todos.create({ title: `t${i}` });
  return client;
}

const titles = (page: PaginatedResult<{ readonly title: string }> | undefined) =>
  page?.data?.map((todo) => todo.title).join(",");

describe("usePaginated", () => {
  it("turns pages with stable next and previous, and follows writes", async () => {
    const client = await clientWithTodos(5);
    const seen: PaginatedResult<{ readonly title: string }>[] = [];
    function Pages() {
      seen.push(
        usePaginated(client.database.todos, { fields: { title: true }, orderBy: ["title", "asc"], pageSize: 2 }),
      );
      return null;
    }
    render(
      <StrictMode>
        <Pages />
      </StrictMode>,
    );
    const first = seen.at(-1)!;
    expect(titles(first)).toBe("t0,t1");
    expect(first).toMatchObject({
      currentPage: 1,
      hasNext: true,
      hasPrevious: false,
      estimatedTotalCount: 5,
      loading: false,
    });
    await act(() => first.next());
    expect(titles(seen.at(-1))).toBe("t2,t3");
    expect(seen.at(-1)!.currentPage).toBe(2);
    await act(() => seen.at(-1)!.next());
    expect(titles(seen.at(-1))).toBe("t4");
    expect(seen.at(-1)!.hasNext).toBe(false);
    await act(() => seen.at(-1)!.previous());
    expect(titles(seen.at(-1))).toBe("t2,t3");
    expect(seen.at(-1)!.next).toBe(first.next);
    expect(seen.at(-1)!.previous).toBe(first.previous);
    await act(async () => {
      await client.database.todos.create({ title: "t25" });
    });
    // Keyset pages: the page reached by previous() ends before t4, so it takes the new neighbour.
    expect(titles(seen.at(-1))).toBe("t25,t3");
  });

  it("renders a preloaded page on the first render without loading", async () => {
    const client = await clientWithTodos(3);
    const { data: preloaded } = await client.database.todos.preloadPaginated({
      fields: { title: true },
      orderBy: ["title", "asc"],
      pageSize: 2,
    });
    const props = structuredClone(preloaded!);
    const seen: PaginatedResult<{ readonly title: string }>[] = [];
    function Pages() {
      seen.push(usePaginated(props));
      return null;
    }
    render(
      <TrellisProvider client={client}>
        <Pages />
      </TrellisProvider>,
    );
    expect(seen[0]).toMatchObject({ loading: false, currentPage: 1, hasNext: true, estimatedTotalCount: 3 });
    expect(titles(seen[0])).toBe("t0,t1");
    await act(() => seen.at(-1)!.next());
    expect(titles(seen.at(-1))).toBe("t2");
  });
});
