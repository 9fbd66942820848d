"use client";
import type { PreloadData } from "@trellis/client";
import { useClient, useQuery } from "@trellis/react";
import { type FormEvent, useState } from "react";
import type { schema, Todo } from "./schema";

/**
 * A live todo list: the first render (on the server, then at hydration) shows the preloaded
 * todos; from then on every tab and browser on the same server sees the others' changes at once.
 *
 * @example
 * <TodoList preloaded={preloaded} /> // inside <TrellisApp>
 */
export function TodoList({ preloaded }: { readonly preloaded: PreloadData<Todo, "many"> }) {
  const { data: todos, error } = useQuery(preloaded);
  const todosCollection = useClient<typeof schema>().database.todos;
  const [text, setText] = useState("");
  const [problem, setProblem] = useState<string>();
  // Writes apply locally at once (offline too); a failure comes back as a value, never thrown.
  const report = (result: { error?: { message: string } | undefined }) => setProblem(result.error?.message);

  const add = (event: FormEvent) => {
    event.preventDefault();
    if (text.trim() === "") return;
    void todosCollection.create({ text: text.trim(), done: false }).then(report);
    setText("");
  };

  return (
    <>
      <form onSubmit={add} style={{ display: "flex", gap: "0.5rem" }}>
        <input
          aria-label="New todo"
          value={text}
          onChange={(event) => setText(event.target.value)}
          placeholder="What needs doing?"
          style={{ flex: 1 }}
        />
        <button type="submit">Add</button>
      </form>
      {(problem ?? error?.message) !== undefined && <p role="alert">{problem ?? error?.message}</p>}
      <ul data-testid="todos" style={{ listStyle: "none", padding: 0 }}>
        {todos?.map((todo) => (
          <li key={todo.id}>
            <label>
              <input
                type="checkbox"
                checked={todo.done}
                onChange={() => void todosCollection.update({ id: todo.id, fields: { done: !todo.done } }).then(report)}
              />{" "}
              <span style={{ textDecoration: todo.done ? "line-through" : "none" }}>{todo.text}</span>
            </label>
          </li>
        ))}
      </ul>
      {todos?.length === 0 && <p>Nothing to do yet.</p>}
    </>
  );
}
