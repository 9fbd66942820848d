import { useConnection, useQuery } from "@trellis/react";
import { type FormEvent, useState } from "react";
import { client } from "./trellis.js";

const todos = client.database.todos;

/** A live todo list: every tab and browser on the same server sees the others' changes at once. */
export function App() {
  const { data, error } = useQuery(todos, { orderBy: [["createdAt", "asc"]] });
  const connection = useConnection();
  const [text, setText] = useState("");
  const [problem, setProblem] = useState<string>();
  // Writes apply locally at once (offline too); a failure comes back as a value, never thrown.
  const report = (result: { error?: { message: string } | undefined }) => setProblem(result.error?.message);

  const add = (event: FormEvent) => {
    event.preventDefault();
    if (text.trim() === "") return;
    void todos.create({ text: text.trim(), done: false }).then(report);
    setText("");
  };

  return (
    <main style={{ fontFamily: "system-ui, sans-serif", maxWidth: 560, margin: "2rem auto", padding: "0 1rem" }}>
      <h1>Todos</h1>
      <p>
        sync: {connection.state}
        {connection.pending > 0 && ` · ${connection.pending} not sent yet`}
      </p>
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
      <ul style={{ listStyle: "none", padding: 0 }}>
        {data?.map((todo) => (
          <li key={todo.id} style={{ display: "flex", gap: "0.5rem", alignItems: "center" }}>
            <input
              type="checkbox"
              aria-label={`Done: ${todo.text}`}
              checked={todo.done}
              onChange={() => void todos.update({ id: todo.id, fields: { done: !todo.done } }).then(report)}
            />
            <span style={{ flex: 1, textDecoration: todo.done ? "line-through" : "none" }}>{todo.text}</span>
            <button
              type="button"
              aria-label={`Delete: ${todo.text}`}
              onClick={() => void todos.delete(todo.id).then(report)}
            >
              ×
            </button>
          </li>
        ))}
      </ul>
      {data?.length === 0 && <p>Nothing to do yet.</p>}
    </main>
  );
}
