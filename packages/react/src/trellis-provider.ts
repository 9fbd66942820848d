import type { Schema } from "@trellis/client";
import type { TrellisClient } from "@trellis/client";
import { createContext, createElement, type ReactNode, useContext } from "react";

// Typed loosely: one context serves clients of any schema; `useClient<S>()` narrows it back.
const TrellisContext = createContext<TrellisClient<Schema> | undefined>(undefined);

/** Props of {@link TrellisProvider}. */
export interface TrellisProviderProps<S extends Schema> {
  readonly client: TrellisClient<S>;
  readonly children?: ReactNode;
}

/**
 * Makes a client available to the hooks below it: `useClient()`, `useConnection()` and
 * `useQuery(preloaded)` (which finds its collection by name). Optional: hooks given a
 * collection or room API need no provider.
 *
 * @example
 * import { createRoot } from "react-dom/client";
 * const client = createClient({ schema, serverUrl: "https://sync.example.com" });
 * const App = () => <h1>Todos</h1>;
 * createRoot(document.getElementById("root")!).render(<TrellisProvider client={client}><App /></TrellisProvider>);
 */
export function TrellisProvider<S extends Schema>({ client, children }: TrellisProviderProps<S>): ReactNode {
  return createElement(TrellisContext, { value: client as unknown as TrellisClient<Schema> }, children);
}

/**
 * The client of the nearest {@link TrellisProvider}; throws when there is none.
 *
 * @example
 * function AddTodo() {
 *   const client = useClient<typeof schema>();
 *   return <button onClick={() => client.database.todos.create({ text: "New", done: false })}>Add</button>;
 * }
 */
export function useClient<S extends Schema = Schema>(): TrellisClient<S> {
  const client = useOptionalClient<S>();
  if (client === undefined) throw new Error("useClient: no client; wrap the app in <TrellisProvider client={client}>.");
  return client;
}

/**
 * The client of the nearest {@link TrellisProvider}, or undefined without one.
 *
 * @example
 * const client = useOptionalClient(); // undefined outside a provider
 */
export function useOptionalClient<S extends Schema = Schema>(): TrellisClient<S> | undefined {
  return useContext(TrellisContext) as TrellisClient<S> | undefined;
}
