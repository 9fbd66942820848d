import type { ClientConnection, ConnectionStatus } from "@trellis/client";
import { useCallback, useSyncExternalStore } from "react";
import { useOptionalClient } from "./trellis-provider.js";

/**
 * The client's sync status, `{ state, pending, lastError }`, re-rendering when it changes. Uses
 * the provider's client unless given a `client.connection`.
 *
 * @example
 * function SyncBadge() {
 *   const { state, pending } = useConnection();
 *   return <span>{state === "online" ? "Saved" : `${state} (${pending} unsent)`}</span>;
 * }
 */
export function useConnection(connection?: ClientConnection): ConnectionStatus {
  const client = useOptionalClient();
  const target = connection ?? client?.connection;
  if (target === undefined)
    throw new Error(
      "useConnection: no client; wrap the app in <TrellisProvider client={client}> or pass client.connection.",
    );
  // Another component's first render opens its query, which can change the status at once
  // ("syncing"); React forbids updating this component during that render, so it hears of
  // changes a microtask later.
  const subscribe = useCallback((onChange: () => void) => target.subscribe(() => queueMicrotask(onChange)), [target]);
  return useSyncExternalStore(subscribe, target.getCurrentState, target.getCurrentState);
}
