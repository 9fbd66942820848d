import { createClient } from "@trellis/client";
import { schema } from "./schema.js";

/** The sync server: `VITE_TRELLIS_URL` when the app is built or served, else `npm run server`'s address. */
const serverUrl = import.meta.env.VITE_TRELLIS_URL ?? "http://127.0.0.1:8787";

/**
 * The page's one client. Reads and writes go to its own copy of the data (kept in IndexedDB),
 * so they are instant and work offline; it syncs with the server whenever it can reach it.
 */
export const client = createClient({ schema, serverUrl, appId: "{{name}}" });
