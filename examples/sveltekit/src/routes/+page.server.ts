// Preloads the first page of todos with a Node client for this request; SvelteKit serialises
// the result (devalue) into the page, so its HTML holds the todos before any JavaScript.
import { createClient } from "@trellis/client";
import { createAdminClient } from "@trellis/server/admin";
import { fail } from "@sveltejs/kit";
import { PAGE_SIZE, schema } from "../lib/schema";
import { trellisSettings } from "../lib/server/settings";

export const load = async () => {
  const { serverUrl, appId } = trellisSettings();
  const client = createClient({ schema, serverUrl, appId, userId: "sveltekit-server" });
  try {
    const { data: preloaded, error } = await client.database.todos.preloadPaginated({
      orderBy: ["createdAt", "asc"],
      pageSize: PAGE_SIZE,
    });
    if (error) throw new Error(`Could not load the todos from ${serverUrl}: ${error.message}`);
    // "Clear completed" needs a service key of the app on this server (see the form action).
    return { preloaded, canClear: process.env.TRELLIS_SERVICE_KEY !== undefined };
  } finally {
    await client.close();
  }
};

export const actions = {
  /** Deletes every done todo with the app's service key, past the permission rules: live clients see them go. */
  clearCompleted: async () => {
    const serviceKey = process.env.TRELLIS_SERVICE_KEY;
    if (serviceKey === undefined)
      return fail(501, { message: "Set TRELLIS_SERVICE_KEY to a service key of the app (see docs/admin.md)." });
    const { serverUrl, appId } = trellisSettings();
    const admin = createAdminClient({ schema, serverUrl, appId, serviceKey });
    const { error } = await admin.database.todos.deleteMany({ where: { done: true } });
    return error ? fail(502, { message: `Could not clear the completed todos: ${error.message}` }) : { cleared: true };
  },
};
