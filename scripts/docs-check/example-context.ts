// Stand-ins that the `@example` blocks of internal parts may use without declaring them: the
// parts they are wired to. scripts/check-docs.mjs imports the ones an example uses.
import type { IncomingMessage } from "node:http";
import type {
  Clock,
  LiveQueryRegistry,
  LocalWriter,
  NormalizedAggregateQuery,
  NormalizedQuery,
  PreloadData,
  QueryResultDoc,
  sortedMatches,
  SourceTable,
  Triple,
  TripleStore,
} from "@trellis/core";
import type { schema } from "./prelude.js";
// The internal parts of client and server are not exported: these paths are those of the copies
// of this file that scripts/check-docs.mjs writes into packages/*/.docs-check.
import type { AppDatabase } from "../../server/src/app-database.js";
import type { AppRegistry } from "../../server/src/apps/app-registry.js";
import type { BodyBudget } from "../../server/src/body-budget.js";
import type { Peer } from "../../server/src/peer.js";
import type { Holders, PeerState } from "../../server/src/peer-state.js";
import type { RoomHub } from "../../server/src/rooms.js";
import type { ClientOptions } from "../../client/src/client-types.js";
import type { CollectionPins } from "../../client/src/persistence/collection-pins.js";
import type { Residency } from "../../client/src/persistence/residency.js";
import type { ClientStorage } from "../../client/src/persistence/storage.js";
import type { StorageSession } from "../../client/src/persistence/storage-session.js";
import type { WorkingSet } from "../../client/src/persistence/working-set.js";
import type { HttpContext } from "../../client/src/sync/http.js";
import type { Outbox } from "../../client/src/sync/outbox.js";
import type { SyncEngine } from "../../client/src/sync/sync-engine.js";
import type { SyncErrors } from "../../client/src/sync/sync-errors.js";
import type { LeaderElection } from "../../client/src/tabs/election.js";
import type { PageEnvironment } from "../../client/src/tabs/page-environment.js";
import type { TabChannel } from "../../client/src/tabs/tab-messages.js";

export * from "./prelude.js";

export declare const store: TripleStore;
export declare const clock: Clock;
export declare const registry: LiveQueryRegistry;
export declare const writer: LocalWriter;
/** A query as the engine holds it, after `normalizeQuery`. */
export declare const normalized: NormalizedQuery;
/** An aggregate query as the engine holds it, after `normalizeAggregateQuery`. */
export declare const normalizedAggregate: NormalizedAggregateQuery;
/** A sorted entry of a match set: a row with its sort keys. */
type Keyed = ReturnType<typeof sortedMatches>[number];
/** The order of `normalized` as the engine compiles it (`compileOrder`). */
export declare const ordering: { keyOf(table: SourceTable, row: number): Keyed; compare(a: Keyed, b: Keyed): number };
/** The guides' `posts` entity, for the examples of the query types. */
export type Posts = typeof schema.entities.posts;
export declare const triples: readonly Triple[];
export declare const appId: string;
export declare const clientId: string;
export declare const userId: string;
export declare const tabId: string;
export declare const serverUrl: string;
/** An HTTP request (or WebSocket upgrade) the server is answering. */
export declare const request: IncomingMessage;

// The server's own parts, for the examples of its internals.
/** The server's budget of request bodies in flight. */
export declare const bodies: BodyBudget;
/** The server's registry of apps (their auth settings, service keys). */
export declare const apps: AppRegistry;
/** An app's database (`AppDatabase.open(dataDir, appId)`), which its hub's replica `store` mirrors. */
export declare const db: AppDatabase;
/** The connections of an app's hub, and what each holds and follows. */
export declare const peers: Map<Peer, PeerState>;
/** One connection of the app's hub. */
export declare const peer: Peer;
/** Which connections of the app's hub hold each document, by `docKey`. */
export declare const holders: Holders;
/** The rooms of the app's hub. */
export declare const rooms: RoomHub;

// The client's own parts, for the examples of its internals.
/** The options the guides' `client` was created with. */
export declare const options: ClientOptions<typeof schema>;
/** The client's storage (`createMemoryStorage()` or IndexedDB), not opened yet. */
export declare const storage: ClientStorage;
/** The client's storage session (`new StorageSession(storage, store, clock, { registry })`). */
export declare const session: StorageSession;
/** The documents of `session` that memory holds (`session.workingSet`). */
export declare const workingSet: WorkingSet;
/** Which collections of `workingSet` memory holds, whole or partial (`new Residency(store)`). */
export declare const residency: Residency;
/** The collections `workingSet` keeps in memory for queries and reads (`new CollectionPins(…)`). */
export declare const pins: CollectionPins;
/** The client's writes the server has not acknowledged yet. */
export declare const outbox: Outbox;
/** What the client's HTTP requests to its server send (server URL, app, client, token). */
export declare const http: HttpContext;
/** The client's sync WebSocket to its server (`ws://…/v1/sync`). */
export declare const socket: WebSocket;
/** The client's sync engine, for its server. */
export declare const engine: SyncEngine;
/** What went wrong with the client's sync (`new SyncErrors()`), for `connection.lastError`. */
export declare const errors: SyncErrors;
/** This tab's end of the app's tab channel (`openTabChannel(appId, tabId)`). */
export declare const channel: TabChannel;
/** Whether this tab leads its app's tabs (`electLeader({ appId, tabId })`). */
export declare const election: LeaderElection;
/** The page this tab runs in: its lifecycle events and timers (`pageEnvironment(tabId)`). */
export declare const page: PageEnvironment;

// The Svelte bindings' own inputs, for the examples of their components.
/** What `client.database.todos.preload()` answers, as a page's load hands it to the page. */
export type PreloadedTodos = PreloadData<QueryResultDoc<typeof schema.entities.todos, {}>, "many">;
