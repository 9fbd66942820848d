import { usePaginated, useQuery } from "@trellis/react";
import { useState } from "react";
import { client } from "./client.js";
import { TextForm } from "./text-form.js";

type Filter = "all" | "open" | "done";
const filters: readonly Filter[] = ["all", "open", "done"];
const todos = client.database.todos;

/** A list's todos: a form to add one, filter buttons with live counts and a paginated list. */
export function Todos({ listId }: { listId: string }) {
  const [filter, setFilter] = useState<Filter>("all");
  const [problem, setProblem] = useState<string>();
  const counts = useCounts(listId);
  // Writes apply locally at once (also offline); an error comes back as a value, never thrown.
  const report = ({ error }: { error?: { message: string } | undefined }) => setProblem(error?.message);

  return (
    <section aria-label="Todos">
      <TextForm
        label="New todo"
        testId="new-todo"
        placeholder="What needs doing?"
        button="Add"
        onSubmit={(text) => void todos.create({ text, done: false, listId }).then(report)}
      />
      <nav aria-label="Filter" style={{ display: "flex", gap: "0.5rem", margin: "1rem 0" }}>
        {filters.map((name) => (
          <button
            key={name}
            type="button"
            data-testid={`filter-${name}`}
            aria-pressed={filter === name}
            onClick={() => setFilter(name)}
          >
            {name} (<span data-testid={`count-${name}`}>{counts[name]}</span>)
          </button>
        ))}
      </nav>
      {problem !== undefined && <p role="alert">{problem}</p>}
      <TodoPages listId={listId} filter={filter} onResult={report} />
    </section>
  );
}

/** Counts by `done` from one live aggregate query: one row per group. */
function useCounts(listId: string): Record<Filter, number> {
  const { data } = useQuery(todos, { aggregations: { n: { count: "*" } }, where: { listId }, groupBy: ["done"] });
  const open = data?.find((row) => row.done === false)?.n ?? 0;
  const done = data?.find((row) => row.done === true)?.n ?? 0;
  return { all: open + done, open, done };
}

function TodoPages({
  listId,
  filter,
  onResult,
}: {
  listId: string;
  filter: Filter;
  onResult: (result: { error?: { message: string } | undefined }) => void;
}) {
  // Newest first, ten a page. A new filter is a new query: the list starts again at page 1.
  const done = filter === "all" ? [false, true] : [filter === "done"];
  const page = usePaginated(todos, {
    fields: { id: true, text: true, done: true, createdBy: true },
    where: { listId, done: { in: done } },
    orderBy: [["createdAt", "desc"]],
    pageSize: 10,
  });
  if (page.error !== undefined) return <p role="alert">{page.error.message}</p>;
  return (
    <>
      <ul data-testid="todo-list" aria-busy={page.loading} style={{ listStyle: "none", padding: 0 }}>
        {page.data?.map((todo) => (
          <li
            key={todo.id}
            data-testid="todo"
            data-done={todo.done}
            style={{ display: "flex", gap: "0.5rem", alignItems: "center" }}
          >
            <input
              type="checkbox"
              id={`done-${todo.id}`}
              aria-label={`Done: ${todo.text}`}
              checked={todo.done}
              onChange={() => void todos.update({ id: todo.id, fields: { done: !todo.done } }).then(onResult)}
            />
            <label htmlFor={`done-${todo.id}`} style={{ flex: 1, textDecoration: todo.done ? "line-through" : "none" }}>
              {todo.text}
            </label>
            <small>{todo.createdBy}</small>
            <button
              type="button"
              aria-label={`Delete: ${todo.text}`}
              onClick={() => void todos.delete(todo.id).then(onResult)}
            >
              ×
            </button>
          </li>
        ))}
      </ul>
      {page.data?.length === 0 && <p>Nothing here.</p>}
      <p>
        <button
          type="button"
          data-testid="previous-page"
          disabled={!page.hasPrevious}
          onClick={() => void page.previous()}
        >
          Previous
        </button>{" "}
        page <span data-testid="page">{page.currentPage}</span> of ~{page.estimatedTotalPages}{" "}
        <button type="button" data-testid="next-page" disabled={!page.hasNext} onClick={() => void page.next()}>
          Next
        </button>
      </p>
    </>
  );
}
