"use server";
// A server action: server code writing with the app's service key, past the permission rules,
// through `createAdminClient`. The browser never sees the key.
import { createAdminClient } from "@trellis/server/admin";
import { schema } from "./schema";

/**
 * Deletes every done todo. Live clients see them go like any other change.
 *
 * @example
 * <form action={clearCompleted}><button>Clear completed</button></form>
 */
export async function clearCompleted(): Promise<void> {
  const serviceKey = process.env.TRELLIS_SERVICE_KEY;
  if (serviceKey === undefined)
    throw new Error("Set TRELLIS_SERVICE_KEY to a service key of the app (see docs/admin.md).");
  const admin = createAdminClient({
    schema,
    serverUrl: process.env.TRELLIS_URL ?? "http://127.0.0.1:8787",
    appId: process.env.TRELLIS_APP_ID ?? "nextjs-example",
    serviceKey,
  });
  const { error } = await admin.database.todos.deleteMany({ where: { done: true } });
  if (error) throw new Error(`Could not clear the completed todos: ${error.message}`);
}
