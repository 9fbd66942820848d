import type { Schema } from "@trellis/client";
import type { TrellisClient } from "@trellis/client";
import { getContext, hasContext, setContext } from "svelte";

const CLIENT_KEY = Symbol("trellis.client");

/**
 * Makes a client available to the components below this one: `query(preloaded)`,
 * `queryOne(preloaded)`, `paginated(preloaded)` and `connection()` find it here. Call it during
 * component initialisation (a root layout, say). Bindings given a collection or room API need none.
 *
 * @example
 * <script lang="ts">
 *   import { setTrellisClient } from "@trellis/svelte";
 *   setTrellisClient(createClient({ schema, serverUrl: "https://sync.example.com" }));
 * </script>
 */
export function setTrellisClient<S extends Schema>(client: TrellisClient<S>): TrellisClient<S> {
  if (typeof client !== "object" || client === null || typeof client.database !== "object") {
    throw new TypeError("setTrellisClient: pass a client made by createClient().");
  }
  return setContext(CLIENT_KEY, client);
}

/**
 * The client set by {@link setTrellisClient} in a parent component; throws when there is none.
 * Call it during component initialisation.
 *
 * @example
 * const client = getTrellisClient<typeof schema>();
 * const add = () => client.database.todos.create({ text: "New", done: false });
 */
export function getTrellisClient<S extends Schema = Schema>(): TrellisClient<S> {
  if (!hasContext(CLIENT_KEY)) {
    throw new Error(
      "getTrellisClient: no client; call setTrellisClient(client) in a parent component, or pass the client.",
    );
  }
  return getContext<TrellisClient<S>>(CLIENT_KEY);
}

/**
 * The client set by {@link setTrellisClient} in a parent component, or undefined without one.
 * Call it during component initialisation.
 *
 * @example
 * const client = findTrellisClient<typeof schema>(); // undefined without setTrellisClient above
 * const state = client?.connection.state ?? "offline";
 */
export function findTrellisClient<S extends Schema = Schema>(): TrellisClient<S> | undefined {
  return hasContext(CLIENT_KEY) ? getContext<TrellisClient<S>>(CLIENT_KEY) : undefined;
}
