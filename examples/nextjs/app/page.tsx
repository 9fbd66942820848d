// A server component: it preloads the todos with a Node client for this request, then hands
// them to the browser as a plain prop. The page shows them in its HTML, before any JavaScript.
import { createClient } from "@trellis/client";
import { schema } from "./schema";
import { TodoList } from "./todo-list";
import { TrellisApp } from "./trellis-app";

// Preload on every request (never at build time): the data lives on the sync server.
export const dynamic = "force-dynamic";

const serverUrl = process.env.TRELLIS_URL ?? "http://127.0.0.1:8787";
const appId = process.env.TRELLIS_APP_ID ?? "nextjs-example";

export default async function Page() {
  const client = createClient({ schema, serverUrl, appId, userId: "nextjs-server" });
  try {
    const { data: preloaded, error } = await client.database.todos.preload({ orderBy: ["createdAt", "asc"] });
    if (error) throw new Error(`Could not load the todos from ${serverUrl}: ${error.message}`);
    return (
      <main>
        <h1>Todos</h1>
        {/* The browser connects to the sync server itself: its address travels as a prop. */}
        <TrellisApp serverUrl={serverUrl} appId={appId}>
          <TodoList preloaded={preloaded} canClear={process.env.TRELLIS_SERVICE_KEY !== undefined} />
        </TrellisApp>
      </main>
    );
  } finally {
    await client.close();
  }
}
