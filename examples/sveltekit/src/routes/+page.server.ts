// Preloads the first page of todos with a Node client for this request; SvelteKit serialises
// the result (devalue) into the page, so its HTML holds the todos before any JavaScript.
import { createClient } from "@trellis/client";
import { PAGE_SIZE, schema } from "../lib/schema";
import { trellisSettings } from "../lib/server/settings";

export const load = async () => {
  const { serverUrl, appId } = trellisSettings();
  const client = createClient({ schema, serverUrl, appId, userId: "sveltekit-server" });
  try {
    const { data: preloaded, error } = await client.database.todos.preloadPaginated({ orderBy: ["createdAt", "asc"], pageSize: PAGE_SIZE });
    if (error) throw new Error(`Could not load the todos from ${serverUrl}: ${error.message}`);
    return { preloaded };
  } finally {
    await client.close();
  }
};
