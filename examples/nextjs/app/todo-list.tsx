"use client";
// Renders preloaded todos: the first render (on the server and at hydration) shows the preloaded
// data with `loading: false`; then the list follows the sync server live.
import type { PreloadData } from "@trellis/client";
import { useClient, useQuery } from "@trellis/react";
import { type FormEvent, useState } from "react";
import { clearCompleted } from "./actions";
import type { schema, Todo } from "./schema";

/**
 * The todo list, live, with a field to add one, and (`canClear`: the server has a service key)
 * a button whose server action deletes the done ones.
 *
 * @example
 * <TodoList preloaded={preloaded} canClear /> // inside <TrellisApp>
 */
export function TodoList({
  preloaded,
  canClear,
}: {
  readonly preloaded: PreloadData<Todo, "many">;
  readonly canClear: boolean;
}) {
  const { data: todos, error } = useQuery(preloaded);
  const client = useClient<typeof schema>();
  const [text, setText] = useState("");

  const add = (event: FormEvent) => {
    event.preventDefault();
    if (text.trim() === "") return;
    void client.database.todos.create({ text: text.trim(), done: false });
    setText("");
  };

  if (error) return <p role="alert">{error.message}</p>;
  return (
    <>
      <ul data-testid="todos">
        {todos!.map((todo) => (
          <li key={todo.id}>
            <label>
              <input
                type="checkbox"
                checked={todo.done}
                onChange={() => void client.database.todos.update({ id: todo.id, fields: { done: !todo.done } })}
              />{" "}
              {todo.text}
            </label>
          </li>
        ))}
      </ul>
      <form onSubmit={add}>
        <input
          value={text}
          onChange={(event) => setText(event.target.value)}
          placeholder="What needs doing?"
          aria-label="New todo"
        />{" "}
        <button type="submit">Add</button>
      </form>
      {canClear && (
        <form action={clearCompleted}>
          <button type="submit">Clear completed</button>
        </form>
      )}
    </>
  );
}
