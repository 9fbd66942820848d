// @vitest-environment jsdom
import { createClient, type TrellisClient } from "@trellis/client";
import { createSchema, t } from "@trellis/core";
import { act, cleanup, render, screen, waitFor } from "@testing-library/react";
import { StrictMode, useEffect } from "react";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { TrellisProvider } from "./trellis-provider.js";
import { settle } from "./testing/fixtures.js";
import { NodeWebSocket, type ServerProcess, startBuiltServer } from "./testing/server-process.js";
import { useConnection } from "./use-connection.js";
import { useQuery } from "./use-query.js";
import { useRoom } from "./use-room.js";

// The hooks against a real `trellis-server` process (built first: `pnpm run build`), through
// the `ws` WebSocket: remote writes, rooms between two clients, the connection status.

const schema = createSchema({
  entities: { todos: { title: t.string({ fallback: "" }) } },
  rooms: {
    board: {
      events: { like: t.object({ targetId: t.string({ fallback: "" }) }) },
      userStatus: { cursor: t.object({ x: t.number({ fallback: 0 }), y: t.number({ fallback: 0 }) }) },
      roomStatus: { title: t.string({ optional: true }) },
    },
  },
});
type Client = TrellisClient<typeof schema>;
let server: ServerProcess & { readonly remove: () => void };
let apps = 0;
const clients: Client[] = [];

beforeAll(async () => {
  server = await startBuiltServer();
});
afterEach(async () => {
  cleanup();
  await Promise.all(clients.splice(0).map((client) => client.close()));
});
afterAll(async () => {
  await server.stop();
  server.remove();
});

function connect(appId: string, userId: string): Client {
  const client = createClient({
    schema,
    appId,
    userId,
    serverUrl: server.url,
    WebSocket: NodeWebSocket,
    reconnect: { baseMs: 20, maxMs: 200 },
  });
  clients.push(client);
  return client;
}

describe("useQuery with a server", () => {
  it("is loading until the server answers, then re-renders on another client's write", async () => {
    const app = `react-remote-${++apps}`;
    const [alice, bob] = [connect(app, "alice"), connect(app, "bob")];
    await bob.database.todos.create({ title: "milk" });
    const seen: string[] = [];
    function Todos() {
      const { data, loading } = useQuery(alice.database.todos, { fields: { title: true }, orderBy: ["title", "asc"] });
      const text = loading ? "loading" : data!.map((todo) => todo.title).join(",");
      seen.push(text);
      return <p data-testid="titles">{text}</p>;
    }
    render(<Todos />);
    await waitFor(() => expect(screen.getByTestId("titles").textContent).toBe("milk"));
    await act(async () => {
      await bob.database.todos.create({ title: "bread" });
    });
    await waitFor(() => expect(screen.getByTestId("titles").textContent).toBe("bread,milk"));
    expect(seen[0]).toBe("loading");
    // One render per distinct result: no render repeats the one before it.
    expect(seen.filter((text, i) => text === seen[i - 1])).toEqual([]);
  });
});

describe("hasSynced", () => {
  it("is false while a query shows local data only, and turns true once the server answers", async () => {
    const app = `react-synced-${++apps}`;
    // A port nothing listens on: the client stays offline, with its local data.
    const unreachable = createClient({
      schema,
      appId: app,
      userId: "carol",
      serverUrl: "http://127.0.0.1:9",
      WebSocket: NodeWebSocket,
      reconnect: { baseMs: 20, maxMs: 200 },
    });
    clients.push(unreachable);
    vi.spyOn(console, "warn").mockImplementation(() => {});
    await unreachable.database.todos.create({ title: "local" });
    const alice = connect(app, "alice");
    function Status({ client, id }: { client: Client; id: string }) {
      const { data, loading, hasSynced } = useQuery(client.database.todos, { fields: { title: true } });
      return <p data-testid={id}>{loading ? "loading" : `${data!.length}:${hasSynced}`}</p>;
    }
    render(
      <>
        <Status client={unreachable} id="unreachable" />
        <Status client={alice} id="alice" />
      </>,
    );
    await waitFor(() => expect(screen.getByTestId("alice").textContent).toBe("0:true"));
    await waitFor(() => expect(screen.getByTestId("unreachable").textContent).toBe("1:false"));
  });
});

describe("useConnection", () => {
  it("follows the provider's client from connecting to online and back to offline", async () => {
    const client = connect(`react-connection-${++apps}`, "alice");
    const states: string[] = [];
    function Badge() {
      const { state, pending } = useConnection();
      states.push(state);
      return <p data-testid="state">{`${state}/${pending}`}</p>;
    }
    render(
      <TrellisProvider client={client}>
        <Badge />
      </TrellisProvider>,
    );
    await waitFor(() => expect(screen.getByTestId("state").textContent).toBe("online/0"));
    act(() => client.disconnect());
    await waitFor(() => expect(screen.getByTestId("state").textContent).toBe("offline/0"));
    expect(states.filter((state, i) => state === states[i - 1])).toEqual([]);
  });

  it("hears of a query opened by another component's render without updating during that render", async () => {
    const client = connect(`react-connection-${++apps}`, "alice");
    const errors = vi.spyOn(console, "error");
    function Badge() {
      const { state } = useConnection();
      return <p data-testid="state">{state}</p>;
    }
    function Todos() {
      // Opened during render: the client is "syncing" until the server answers.
      const { data } = useQuery(client.database.todos, { fields: { title: true } });
      return <p data-testid="count">{data?.length}</p>;
    }
    const view = render(
      <TrellisProvider client={client}>
        <Badge />
      </TrellisProvider>,
    );
    await waitFor(() => expect(screen.getByTestId("state").textContent).toBe("online"));
    view.rerender(
      <TrellisProvider client={client}>
        <Badge />
        <Todos />
      </TrellisProvider>,
    );
    await waitFor(() => expect(screen.getByTestId("count").textContent).toBe("0"));
    await waitFor(() => expect(screen.getByTestId("state").textContent).toBe("online"));
    expect(errors.mock.calls.map((call) => String(call[0]))).toEqual([]);
    errors.mockRestore();
  });
});

describe("useRoom", () => {
  it("shares user status, room status and events between two clients, and leaves on unmount", async () => {
    const app = `react-room-${++apps}`;
    const [alice, bob] = [connect(app, "alice"), connect(app, "bob")];
    const latest: Record<string, ReturnType<typeof useBoard> | undefined> = {};
    const likes: Record<string, string[]> = { alice: [], bob: [] };
    function useBoard(client: Client) {
      return useRoom(client.rooms.board, "b1");
    }
    function Board({ client, name }: { client: Client; name: string }) {
      const room = useBoard(client);
      latest[name] = room;
      const { on } = room;
      useEffect(
        () => on("like", (data, fromUserId) => likes[name]!.push(`${fromUserId}:${data.targetId}`)),
        [on, name],
      );
      return (
        <p
          data-testid={name}
        >{`${room.isConnected}|${JSON.stringify(room.roomStatus)}|${Object.keys(room.userStatuses).sort().join(",")}`}</p>
      );
    }
    const view = render(
      <StrictMode>
        <TrellisProvider client={alice}>
          <Board client={alice} name="alice" />
        </TrellisProvider>
        <TrellisProvider client={bob}>
          <Board client={bob} name="bob" />
        </TrellisProvider>
      </StrictMode>,
    );
    await waitFor(() => expect(latest.alice?.isConnected && latest.bob?.isConnected).toBe(true), { timeout: 10_000 });
    await act(async () => {
      await latest.alice!.setUserStatus("cursor", { x: 1, y: 2 });
    });
    await waitFor(() => expect(latest.bob!.userStatuses["alice"]?.cursor).toEqual({ x: 1, y: 2 }), { timeout: 10_000 });
    await act(async () => {
      await latest.bob!.set("title", "Sprint");
    });
    await waitFor(() => expect(latest.alice!.roomStatus.title).toBe("Sprint"), { timeout: 10_000 });
    await act(async () => {
      const sent = await latest.bob!.emit("like", { targetId: "card-1" });
      expect(sent.error).toBeUndefined();
    });
    await waitFor(() => expect(likes.alice).toEqual(["bob:card-1"]), { timeout: 10_000 });
    // StrictMode ran the listener effect twice: still one listener.
    await settle();
    expect(likes.alice).toEqual(["bob:card-1"]);
    expect(likes.bob).toEqual([]);
    // Alice's component unmounts: she leaves, and bob stops seeing her.
    view.rerender(
      <StrictMode>
        <TrellisProvider client={bob}>
          <Board client={bob} name="bob" />
        </TrellisProvider>
      </StrictMode>,
    );
    await waitFor(() => expect(latest.bob!.userStatuses["alice"]).toBeUndefined(), { timeout: 10_000 });
    await act(async () => {
      await latest.bob!.emit("like", { targetId: "card-2" });
    });
    await settle();
    expect(likes.alice).toEqual(["bob:card-1"]);
  });

  it("keeps emit, set, setUserStatus and on stable across renders", async () => {
    const client = connect(`react-room-${++apps}`, "alice");
    // No provider and no connection passed: `isConnected` follows the room handle's connection.
    const useBoard = () => useRoom(client.rooms.board, "b2");
    const seen: ReturnType<typeof useBoard>[] = [];
    function Board() {
      seen.push(useBoard());
      return null;
    }
    render(<Board />);
    await waitFor(() => expect(seen.at(-1)!.isConnected).toBe(true));
    await act(async () => {
      await seen.at(-1)!.setUserStatus("cursor", { x: 3, y: 4 });
    });
    await waitFor(() => expect(seen.at(-1)!.userStatuses["alice"]?.cursor).toEqual({ x: 3, y: 4 }));
    expect(seen.length).toBeGreaterThan(1);
    for (const key of ["emit", "set", "setUserStatus", "on"] as const)
      expect(new Set(seen.map((room) => room[key])).size).toBe(1);
  });
});
