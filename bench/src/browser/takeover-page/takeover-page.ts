// The page of the takeover benchmark: @trellis/client as built (dist), a tab of an app synced
// with a server, on IndexedDB, so that the tabs of one profile share one connection. Started
// with `?appId=…&serverUrl=…`; `window.takeover` reports its state and when it first showed a
// todo whose title starts with a prefix.
import { createClient } from "@trellis/client";
import { schema } from "./takeover-schema.js";

export interface TakeoverPage {
  /** The connection's state and pending count, e.g. "online/0". */
  status(): string;
  /** `Date.now()` when the todos first held a title starting with `prefix` (undefined: not yet). */
  seenAt(prefix: string): number | undefined;
  /** Writes a todo; resolves once it is stored. */
  create(title: string): Promise<void>;
  /** Page lifecycle events seen (`freeze`, `resume`): whether the page really froze. */
  readonly lifecycle: string[];
}

declare global {
  interface Window {
    takeover: TakeoverPage;
  }
}

const params = new URL(location.href).searchParams;
const client = createClient({
  schema,
  appId: params.get("appId")!,
  serverUrl: params.get("serverUrl")!,
  userId: "bench",
  reconnect: { baseMs: 50, maxMs: 300 },
});
const seen = new Map<string, number>();
const watched = new Set<string>();
const lifecycle: string[] = [];
document.addEventListener("freeze", () => lifecycle.push("freeze"));
document.addEventListener("resume", () => lifecycle.push("resume"));
client.database.todos.subscribe({ fields: { title: true } }, (rows) => {
  // Stamped in the callback itself: a poll from outside would add its own interval.
  for (const prefix of watched)
    if (!seen.has(prefix) && rows?.some((row) => row.title.startsWith(prefix))) seen.set(prefix, Date.now());
});

window.takeover = {
  status: () => `${client.connection.state}/${client.connection.pending}`,
  seenAt(prefix) {
    watched.add(prefix);
    return seen.get(prefix);
  },
  async create(title) {
    const { error } = await client.database.todos.create({ title });
    if (error !== undefined) throw new Error(`create: ${error.code}: ${error.message}`);
  },
  lifecycle,
};
