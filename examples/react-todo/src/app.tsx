import { Board } from "./board.js";
import { userName } from "./config.js";
import { ConnectionBadge } from "./connection-badge.js";
import { Todos } from "./todos.js";

/** The whole page: who you are, the sync status, the todo list and the shared board. */
export function App() {
  return (
    <main style={{ fontFamily: "system-ui, sans-serif", maxWidth: 720, margin: "2rem auto", padding: "0 1rem" }}>
      <header style={{ display: "flex", justifyContent: "space-between", alignItems: "baseline", gap: "1rem" }}>
        <h1>Trellis todos</h1>
        <span>
          signed in as <strong data-testid="user-name">{userName}</strong> · <ConnectionBadge />
        </span>
      </header>
      <Todos />
      <Board />
    </main>
  );
}
