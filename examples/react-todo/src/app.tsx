import { useState } from "react";
import { Board } from "./board.js";
import { userName } from "./config.js";
import { ConnectionBadge } from "./connection-badge.js";
import { Lists } from "./lists.js";
import { Todos } from "./todos.js";

/** The whole page: who you are, the sync status, your lists, the chosen list's todos and the shared board. */
export function App() {
  const [listId, setListId] = useState<string>();
  return (
    <main style={{ fontFamily: "system-ui, sans-serif", maxWidth: 720, margin: "2rem auto", padding: "0 1rem" }}>
      <header style={{ display: "flex", justifyContent: "space-between", alignItems: "baseline", gap: "1rem" }}>
        <h1>Trellis todos</h1>
        <span>
          signed in as <strong data-testid="user-name">{userName}</strong> · <ConnectionBadge />
        </span>
      </header>
      <Lists selected={listId} onSelect={setListId} />
      {listId !== undefined && <Todos key={listId} listId={listId} />}
      <Board />
    </main>
  );
}
