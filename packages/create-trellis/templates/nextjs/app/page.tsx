// A server component: it preloads the todos for this request, so the page's HTML holds them
// before any JavaScript runs; the browser then follows them live.
import { createClient } from "@trellis/client";
import { schema } from "./schema";
import { TodoList } from "./todo-list";
import { TrellisApp } from "./trellis-app";

// The data lives on the sync server: read it per request, never at build time.
export const dynamic = "force-dynamic";

// Read at request time, so one build serves any sync server.
const serverUrl = process.env.TRELLIS_URL ?? "http://127.0.0.1:8787";
const appId = process.env.TRELLIS_APP_ID ?? "{{name}}";

export default async function Page() {
  const client = createClient({ schema, serverUrl, appId, userId: "next-server" });
  try {
    const { data: preloaded, error } = await client.database.todos.preload({ orderBy: ["createdAt", "asc"] });
    if (error)
      throw new Error(`Could not load the todos from ${serverUrl} (is \`npm run server\` running?): ${error.message}`);
    return (
      <main>
        <h1>Todos</h1>
        <TrellisApp serverUrl={serverUrl} appId={appId}>
          <TodoList preloaded={preloaded} />
        </TrellisApp>
      </main>
    );
  } finally {
    await client.close();
  }
}
