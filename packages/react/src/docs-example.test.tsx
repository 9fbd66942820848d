// @vitest-environment jsdom
import { createClient } from "@trellis/client";
import { createSchema, t } from "@trellis/core";
import { act, cleanup, render, screen } from "@testing-library/react";
import { useEffect } from "react";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { TrellisProvider } from "./trellis-provider.js";
import { useConnection } from "./use-connection.js";
import { usePaginated } from "./use-paginated.js";
import { useQuery } from "./use-query.js";
import { useQueryOne } from "./use-query-one.js";
import { useRoom } from "./use-room.js";

// The example of docs/react.md, as written there (the components are copied verbatim), on a
// local-only client of the guides' schema.

const schema = createSchema({
  entities: {
    todos: {
      text: t.string({ fallback: "" }),
      done: t.boolean({ fallback: false }),
      dueAt: t.date({ optional: true }),
    },
  },
  rooms: {
    documentEditor: {
      events: { like: t.object({ targetId: t.string({ fallback: "" }) }) },
      userStatus: { cursor: t.object({ x: t.number({ fallback: 0 }), y: t.number({ fallback: 0 }) }) },
      roomStatus: { documentTitle: t.string({ optional: true }) },
    },
  },
});
const client = createClient({ schema, userId: "alice", appId: "docs-react" });
afterEach(cleanup);
afterAll(() => client.close());

function OpenTodos() {
  // Written inline: the query is compared by value, so re-renders do not resubscribe.
  const { data, loading, error } = useQuery(client.database.todos, {
    where: { done: false },
    orderBy: ["text", "asc"],
  });
  if (error) return <p>{error.message}</p>;
  if (loading) return <p>Loading…</p>;
  return (
    <ul>
      {data!.map((todo) => (
        <li key={todo.id}>{todo.text}</li>
      ))}
    </ul>
  );
}

function FirstTodo() {
  const { data: first } = useQueryOne(client.database.todos, { orderBy: ["createdAt", "asc"], fields: { text: true } });
  return <p>First: {first?.text ?? "nothing yet"}</p>;
}

function TodoPages() {
  const { data, currentPage, hasNext, hasPrevious, next, previous } = usePaginated(client.database.todos, {
    orderBy: ["text", "asc"],
    pageSize: 2,
  });
  return (
    <div>
      <ul>
        {data?.map((todo) => (
          <li key={todo.id}>{todo.text}</li>
        ))}
      </ul>
      <button disabled={!hasPrevious} onClick={previous}>
        Previous
      </button>{" "}
      page {currentPage}
      <button disabled={!hasNext} onClick={next}>
        Next
      </button>
    </div>
  );
}

function Editor({ documentId }: { documentId: string }) {
  // Joined while mounted, left on unmount; emit, set, setUserStatus and on keep their identity.
  const { userStatuses, isConnected, setUserStatus, emit, on } = useRoom(client.rooms.documentEditor, documentId);
  useEffect(() => on("like", (data, fromUserId) => console.log(fromUserId, "liked", data.targetId)), [on]);
  return (
    <div onPointerMove={(event) => setUserStatus("cursor", { x: event.clientX, y: event.clientY })}>
      {Object.keys(userStatuses).length} here {isConnected ? "" : "(offline)"}
      <button onClick={() => emit("like", { targetId: documentId })}>Like</button>
    </div>
  );
}

function SyncBadge() {
  const { state, pending } = useConnection(); // the provider's client
  return (
    <small>
      {state} ({pending} to push)
    </small>
  );
}

function App() {
  return (
    <TrellisProvider client={client}>
      <OpenTodos />
      <FirstTodo />
      <TodoPages />
      <Editor documentId="doc-123" />
      <SyncBadge />
    </TrellisProvider>
  );
}

describe("docs/react.md", () => {
  it("renders the example and follows writes", async () => {
    for (const text of ["walk", "bake", "read"])
      expect((await client.database.todos.create({ text, done: false })).error).toBeUndefined();
    const { container } = render(<App />);
    expect(container.textContent).toContain("bakereadwalk");
    expect(container.textContent).toContain("First: walk");
    expect(container.textContent).toContain("bakereadPrevious page 1Next");
    expect(container.textContent).toContain("1 here (offline)");
    expect(container.textContent).toContain("offline (0 to push)");
    await act(async () => {
      screen.getByText("Next").click();
    });
    expect(container.textContent).toContain("walkPrevious page 2Next");
    await act(async () => {
      await client.database.todos.create({ text: "cook", done: false });
    });
    expect(container.textContent).toContain("bakecookreadwalk");
  });
});
