// @vitest-environment jsdom
import { createClient, type TrellisClient } from "@trellis/client";
import { createSchema, t } from "@trellis/core";
import { act, cleanup, render, screen } from "@testing-library/react";
import { StrictMode, useState } from "react";
import { afterEach, describe, expect, it } from "vitest";
import { TrellisProvider } from "./trellis-provider.js";
import { countSubscriptions, settle } from "./testing/fixtures.js";
import { useQuery } from "./use-query.js";
import { useQueryOne } from "./use-query-one.js";

const schema = createSchema({
  entities: {
    todos: {
      title: t.string({ fallback: "" }),
      done: t.boolean({ optional: true, fallback: false }),
      note: t.string({ optional: true }),
    },
    tags: { name: t.string({ fallback: "" }) },
  },
});
type Client = TrellisClient<typeof schema>;
const clients: Client[] = [];
afterEach(async () => {
  cleanup();
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

function localClient(): Client {
  const client = createClient({ schema, appId: "react-test" });
  clients.push(client);
  return client;
}

/** Open todos' titles, counting renders. */
function openTodos(client: Client, renders: { count: number }) {
  return function OpenTodos() {
    renders.count++;
    // An inline query object: written afresh on every render.
    const { data, loading } = useQuery(client.database.todos, {
      where: { done: false },
      fields: { title: true },
      orderBy: ["title", "asc"],
    });
    return <p data-testid="titles">{loading ? "loading" : data!.map((todo) => todo.title).join(",")}</p>;
  };
}

describe("useQuery", () => {
  it("renders local data on the first render and re-renders on a local write", async () => {
    const client = localClient();
    await client.database.todos.create({ title: "milk" });
    const renders = { count: 0 };
    const OpenTodos = openTodos(client, renders);
    render(<OpenTodos />);
    expect(screen.getByTestId("titles").textContent).toBe("milk");
    expect(renders.count).toBe(1);
    await act(async () => {
      await client.database.todos.create({ title: "bread" });
    });
    expect(screen.getByTestId("titles").textContent).toBe("bread,milk");
    expect(renders.count).toBe(2);
  });

  it("does not re-render for a write the query cannot see", async () => {
    const client = localClient();
    const { data: milk } = await client.database.todos.create({ title: "milk" });
    const renders = { count: 0 };
    const OpenTodos = openTodos(client, renders);
    render(<OpenTodos />);
    await act(async () => {
      await client.database.todos.update({ id: milk!.id, fields: { note: "2 litres" } }); // a field it neither filters nor returns
      await client.database.tags.create({ name: "shopping" }); // another collection
    });
    expect(renders.count).toBe(1);
    await act(async () => {
      await client.database.todos.update({ id: milk!.id, fields: { done: true } });
    });
    expect(screen.getByTestId("titles").textContent).toBe("");
    expect(renders.count).toBe(2);
  });

  it("keeps one subscription for an inline query across re-renders, and a new one when the query changes", async () => {
    const client = localClient();
    await client.database.todos.create({ title: "milk", done: true });
    const counts = countSubscriptions(client.database.todos);
    let setDone: (done: boolean) => void = () => {};
    let setTick: (tick: number) => void = () => {};
    function Todos() {
      const [done, setDoneState] = useState(false);
      const [tick, setTickState] = useState(0);
      setDone = setDoneState;
      setTick = setTickState;
      const { data } = useQuery(client.database.todos, { where: { done }, fields: { title: true } });
      return <p data-testid="titles">{`${tick}:${data?.map((todo) => todo.title).join(",")}`}</p>;
    }
    render(<Todos />);
    act(() => setTick(1));
    act(() => setTick(2));
    expect(screen.getByTestId("titles").textContent).toBe("2:");
    expect(counts.opened).toBe(1);
    act(() => setDone(true));
    expect(screen.getByTestId("titles").textContent).toBe("2:milk");
    await settle();
    expect(counts.opened).toBe(2);
    expect(counts.live).toBe(1);
  });

  it("keys Dates in a query by their instant", async () => {
    const client = localClient();
    const counts = countSubscriptions(client.database.todos);
    let rerender: () => void = () => {};
    function Todos() {
      const [, setTick] = useState(0);
      rerender = () => setTick((tick) => tick + 1);
      const { data } = useQuery(client.database.todos, {
        where: { createdAt: { lessThan: new Date(2_000_000_000_000) } },
      });
      return <p>{data?.length}</p>;
    }
    render(<Todos />);
    act(rerender);
    act(rerender);
    expect(counts.opened).toBe(1);
  });

  it("opens one subscription under StrictMode and leaks none after unmount", async () => {
    const client = localClient();
    await client.database.todos.create({ title: "milk" });
    const counts = countSubscriptions(client.database.todos);
    const renders = { count: 0 };
    const OpenTodos = openTodos(client, renders);
    const { unmount } = render(
      <StrictMode>
        <OpenTodos />
      </StrictMode>,
    );
    await settle();
    expect(screen.getByTestId("titles").textContent).toBe("milk");
    expect(counts.opened).toBe(1);
    expect(counts.live).toBe(1);
    await act(async () => {
      await client.database.todos.create({ title: "bread" });
    });
    expect(screen.getByTestId("titles").textContent).toBe("bread,milk");
    unmount();
    await settle();
    expect(counts.live).toBe(0);
  });

  it("returns the same state object until the result changes", async () => {
    const client = localClient();
    const states: unknown[] = [];
    let rerender: () => void = () => {};
    function Todos() {
      const [, setTick] = useState(0);
      rerender = () => setTick((tick) => tick + 1);
      states.push(useQuery(client.database.todos, {}));
      return null;
    }
    render(<Todos />);
    act(rerender);
    expect(states).toHaveLength(2);
    expect(states[1]).toBe(states[0]);
    await act(async () => {
      await client.database.todos.create({ title: "milk" });
    });
    expect(states.at(-1)).not.toBe(states[0]);
  });

  it("renders preloaded data on the first render without loading, then follows writes", async () => {
    const client = localClient();
    await client.database.todos.create({ title: "milk" });
    const { data: preloaded } = await client.database.todos.preload({
      fields: { title: true },
      orderBy: ["title", "asc"],
    });
    // As a server component would pass it.
    const props = JSON.parse(JSON.stringify(preloaded)) as typeof preloaded & {};
    const seen: { loading: boolean; titles: string | undefined }[] = [];
    function Todos() {
      const { data, loading } = useQuery(props);
      seen.push({ loading, titles: data?.map((todo) => todo.title).join(",") });
      return null;
    }
    render(
      <TrellisProvider client={client}>
        <Todos />
      </TrellisProvider>,
    );
    expect(seen[0]).toEqual({ loading: false, titles: "milk" });
    await act(async () => {
      await client.database.todos.create({ title: "bread" });
    });
    expect(seen.at(-1)).toEqual({ loading: false, titles: "bread,milk" });
    expect(seen.every((state) => !state.loading)).toBe(true);
  });

  it("takes preloaded data with the collection passed in", async () => {
    const client = localClient();
    await client.database.todos.create({ title: "milk" });
    const { data: preloaded } = await client.database.todos.preload({ fields: { title: true } });
    function Todos() {
      const { data, loading } = useQuery(client.database.todos, preloaded!);
      return <p data-testid="titles">{`${loading}:${data?.map((todo) => todo.title).join(",")}`}</p>;
    }
    render(<Todos />);
    expect(screen.getByTestId("titles").textContent).toBe("false:milk");
  });

  it("finds the client of the preloaded data's app without a provider", async () => {
    const client = localClient();
    await client.database.todos.create({ title: "milk" });
    const { data: preloaded } = await client.database.todos.preload({
      fields: { title: true },
      orderBy: ["title", "asc"],
    });
    function Todos() {
      const { data, loading } = useQuery(preloaded!);
      return <p data-testid="titles">{`${loading}:${data?.map((todo) => todo.title).join(",")}`}</p>;
    }
    render(<Todos />);
    expect(screen.getByTestId("titles").textContent).toBe("false:milk");
    await act(async () => {
      await client.database.todos.create({ title: "bread" });
    });
    expect(screen.getByTestId("titles").textContent).toBe("false:bread,milk");
  });

  it("tells the fix when useQuery(preloaded) has no provider and no client of that app is open", async () => {
    const client = localClient();
    const { data: preloaded } = await client.database.todos.preload({});
    await client.close();
    function Todos() {
      useQuery(preloaded!);
      return null;
    }
    const error = console.error;
    console.error = () => {};
    try {
      expect(() => render(<Todos />)).toThrow(/createClient.*TrellisProvider/);
    } finally {
      console.error = error;
    }
  });

  it("returns a validation error for a query the schema refuses", () => {
    const client = localClient();
    function Todos() {
      // @ts-expect-error: not a field of todos
      const { error } = useQuery(client.database.todos, { where: { colour: "red" } });
      return <p data-testid="error">{error?.code}</p>;
    }
    render(<Todos />);
    expect(screen.getByTestId("error").textContent).toBe("VALIDATION");
  });
});

describe("useQueryOne", () => {
  it("follows the first match, and preloaded data from preloadOne", async () => {
    const client = localClient();
    const { data: milk } = await client.database.todos.create({ title: "milk" });
    const { data: preloaded } = await client.database.todos.preloadOne({ where: { id: milk!.id } });
    const seen: (string | undefined)[] = [];
    function Todo() {
      const { data: live } = useQueryOne(client.database.todos, { where: { id: milk!.id }, fields: { title: true } });
      const { data: fromPreload, loading } = useQueryOne(preloaded!);
      seen.push(`${live?.title}/${fromPreload?.title}/${loading}`);
      return null;
    }
    render(
      <TrellisProvider client={client}>
        <Todo />
      </TrellisProvider>,
    );
    expect(seen).toEqual(["milk/milk/false"]);
    await act(async () => {
      await client.database.todos.update({ id: milk!.id, fields: { title: "oat milk" } });
    });
    expect(seen.at(-1)).toBe("oat milk/oat milk/false");
    expect(seen).toHaveLength(2);
  });
});
