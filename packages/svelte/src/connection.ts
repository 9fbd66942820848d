import type { Schema } from "@trellis/client";
import type { ConnectionStatus, TrellisClient } from "@trellis/client";
import { createLiveState } from "./live-state.svelte.js";
import { getTrellisClient } from "./trellis-context.js";

/** A client's sync status for Svelte: reactive `state`, `pending`, `lastError`, and a store. */
export interface ReactiveConnection extends ConnectionStatus {
  subscribe(run: (status: ConnectionStatus) => void): () => void;
}

/**
 * Follows a client's sync status (`client.connection`); the client is the one of
 * `setTrellisClient` unless given.
 *
 * @example
 * <script lang="ts">
 *   const sync = connection(client);
 * </script>
 * <span class={sync.state}>{sync.state}{sync.pending ? ` (${sync.pending} to push)` : ""}</span>
 */
export function connection<S extends Schema>(client?: TrellisClient<S>): ReactiveConnection {
  const target = client ?? getTrellisClient();
  const live = createLiveState(
    () => "connection",
    () => ({
      current: () => target.connection.getCurrentState(),
      follow: (onChange) => target.connection.subscribe(onChange),
    }),
  );
  return {
    get state() {
      return live.read().state;
    },
    get pending() {
      return live.read().pending;
    },
    get lastError() {
      return live.read().lastError;
    },
    get progress() {
      return live.read().progress;
    },
    subscribe: live.subscribe,
  };
}
