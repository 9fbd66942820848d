"use client";
// The app's client, given to the hooks below by <TrellisProvider>.
import { createClient, type TrellisClient } from "@trellis/client";
import { TrellisProvider } from "@trellis/react";
import { type ReactNode, useState } from "react";
import { schema } from "./schema";

type Client = TrellisClient<typeof schema>;

// One client for the page's lifetime in the browser, shared by every render and navigation.
let browserClient: Client | undefined;

function clientFor(serverUrl: string, appId: string): Client {
  if (typeof window === "undefined") {
    // Server rendering of this client component: `useQuery(preloaded)` needs a client with the
    // same server to read the preloaded data, but nothing may stay connected after the render.
    // Offline from the start, it holds only this request's data and goes with it.
    const client = createClient({ schema, serverUrl, appId, storage: "memory" });
    client.disconnect();
    return client;
  }
  browserClient ??= createClient({ schema, serverUrl, appId });
  return browserClient;
}

/** Props of {@link TrellisApp}. */
export interface TrellisAppProps {
  readonly serverUrl: string;
  readonly appId: string;
  readonly children?: ReactNode;
}

/**
 * Wraps the page in `<TrellisProvider>` with the browser's client (created once).
 *
 * @example
 * <TrellisApp serverUrl="http://127.0.0.1:8787" appId="nextjs-example"><TodoList preloaded={preloaded} /></TrellisApp>
 */
export function TrellisApp({ serverUrl, appId, children }: TrellisAppProps) {
  const [client] = useState(() => clientFor(serverUrl, appId));
  return <TrellisProvider client={client}>{children}</TrellisProvider>;
}
