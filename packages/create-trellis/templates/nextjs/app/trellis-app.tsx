"use client";
import { createClient, type TrellisClient } from "@trellis/client";
import { TrellisProvider } from "@trellis/react";
import { type ReactNode, useState } from "react";
import { schema } from "./schema";

type Client = TrellisClient<typeof schema>;

// Kept across renders and navigations: one client, one connection, one IndexedDB copy per tab.
let browserClient: Client | undefined;

function clientFor(serverUrl: string, appId: string): Client {
  if (typeof window === "undefined") {
    // Rendering on the server: `useQuery(preloaded)` needs a client to read the preloaded data
    // from, but nothing may stay connected after the request. This one never connects.
    const client = createClient({ schema, serverUrl, appId, storage: "memory" });
    client.disconnect();
    return client;
  }
  browserClient ??= createClient({ schema, serverUrl, appId });
  return browserClient;
}

/**
 * Gives the components inside it the app's client (`useClient`, `useQuery`). Reads and writes go
 * to the browser's own copy of the data, so they are instant and work offline; it syncs with the
 * server whenever it can reach it.
 *
 * @example
 * <TrellisApp serverUrl="http://127.0.0.1:8787" appId="{{name}}"><TodoList preloaded={preloaded} /></TrellisApp>
 */
export function TrellisApp({
  serverUrl,
  appId,
  children,
}: {
  readonly serverUrl: string;
  readonly appId: string;
  readonly children?: ReactNode;
}) {
  const [client] = useState(() => clientFor(serverUrl, appId));
  return <TrellisProvider client={client}>{children}</TrellisProvider>;
}
