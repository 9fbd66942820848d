// Preloads the todos for this request; SvelteKit puts them in the page, so its HTML holds them
// before any JavaScript runs.
import { createClient } from "@trellis/client";
import { error } from "@sveltejs/kit";
import { schema } from "$lib/schema";
import { trellisSettings } from "$lib/server/settings";
import type { PageServerLoad } from "./$types";

export const load: PageServerLoad = async () => {
  const { serverUrl, appId } = trellisSettings();
  const client = createClient({ schema, serverUrl, appId, userId: "sveltekit-server" });
  try {
    const { data: preloaded, error: problem } = await client.database.todos.preload({ orderBy: ["createdAt", "asc"] });
    if (problem)
      error(503, `Could not load the todos from ${serverUrl} (is \`npm run server\` running?): ${problem.message}`);
    return { preloaded };
  } finally {
    await client.close();
  }
};
