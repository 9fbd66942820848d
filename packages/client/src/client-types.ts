import type { DatabaseResult, EntitiesDef, RoomsDef, Schema } from "@trellis/core";
import type { KeyValueMap } from "./maps/map-types.js";
import type { PruneResult } from "./persistence/prune.js";
import type { QuotaEstimate } from "./persistence/quota-watcher.js";
import type { StorageOption } from "./persistence/resolve-storage.js";
import type { Rooms } from "./rooms/room-types.js";
import type { ClientConnection } from "./sync/client-connection.js";
import type { ReconnectOptions } from "./sync/reconnect-backoff.js";
import type { KeepAliveOptions } from "./sync/transport.js";
import type { WriteError } from "./sync/refused-writes.js";
import type { WebSocketConstructor } from "./sync/web-socket.js";
import type { Database } from "./types.js";

/**
 * How a client proves who it is to the server: a JWT, or a function giving a fresh one (asked
 * on every connection and HTTP request).
 */
export type ClientAuth = { readonly token: string } | { readonly getToken: () => string | Promise<string> };

/** Options of {@link createClient}. */
export interface ClientOptions<S extends Schema> {
  readonly schema: S;
  /** The tenant this client's data belongs to. Default `"default"`. */
  readonly appId?: string;
  /** The user writes are attributed to (`createdBy`); trusted only by a development server. */
  readonly userId?: string;
  /** This replica's id (its HLC node id). Default: a fresh nanoid. */
  readonly clientId?: string;
  /** Wall clock in ms, for tests. Default `Date.now`. */
  readonly now?: () => number;
  /** Document id generator, for tests. Default: nanoid-style ids (`generateId`). */
  readonly generateId?: () => string;
  /** The sync server, like `"http://127.0.0.1:8787"`; omit for a local-only client. See docs/sync.md. */
  readonly serverUrl?: string;
  /** Credentials for the server; a development server needs none (it trusts `userId`). */
  readonly auth?: ClientAuth;
  /** The WebSocket class to sync with. Default: the global `WebSocket`, else the `ws` package. */
  readonly WebSocket?: WebSocketConstructor;
  /** Reconnect backoff (full jitter): `baseMs` 250, `maxMs` 10 000 by default. */
  readonly reconnect?: ReconnectOptions;
  /** Keep-alive: a ping every `intervalMs` (15 000), dropped after `timeoutMs` (10 000) without answer. */
  readonly keepAlive?: KeepAliveOptions;
  /**
   * Logs what sync does (connection steps, pushes, acks, query syncs) with `console.debug`.
   * Default: on when `localStorage.trellisDebug` is set, so a deployed app can be debugged
   * without a rebuild. See docs/sync.md.
   */
  readonly debug?: boolean;
  /**
   * Where data is kept between runs: `"indexeddb"` (the default in browsers) or `"memory"` (the
   * default elsewhere: data goes with the process), or a `ClientStorage` such as
   * `createMemoryStorage()`. See docs/offline.md.
   */
  readonly storage?: StorageOption;
  /**
   * With storage: how many documents to keep in memory (default: no bound). Collections are read
   * from storage when first queried or written; beyond this many documents in memory, the least
   * recently used collections that nothing follows are dropped from memory (not from storage),
   * then the documents of followed collections that no live query holds (a subscription holds
   * every document matching it). What is dropped is read again when needed, so results never
   * change; memory can exceed the bound while live queries hold more. See docs/offline.md.
   */
  readonly cacheSize?: number;
}

/** `client.storage`: where the client keeps its data. */
export interface ClientStorageInfo {
  /** `"memory"` (nothing kept), `"indexeddb"`, or the kind of a storage passed in. */
  readonly kind: string;
  /**
   * Settles once storage opened and the outbox, clock and cursors are restored (at once without
   * persistence); a STORAGE error when the storage could not be opened, in which case the client
   * runs in memory only. Documents are read per collection, when a query or write needs them.
   */
  readonly ready: Promise<DatabaseResult<void>>;
  /**
   * Calls `listener` when the origin's storage use (`navigator.storage.estimate()`, read once the
   * storage opened and at most every 10 s after commits) crosses above 80% of its quota: once per
   * crossing, again only after it fell below. Never called without IndexedDB storage or where
   * the browser has no estimate. Returns an unsubscribe. See docs/offline.md.
   *
   * @example
   * const stop = client.storage.onQuota(({ ratio }) => showToast(`Storage ${Math.round(ratio * 100)}% full`));
   */
  onQuota(listener: (estimate: QuotaEstimate) => void): () => void;
  /**
   * Asks the browser for the origin's storage use now; undefined without IndexedDB storage or an
   * estimate API.
   *
   * @example
   * const estimate = await client.storage.estimate(); // { usage, quota, ratio } or undefined
   */
  estimate(): Promise<QuotaEstimate | undefined>;
  /**
   * Deletes from storage the synced documents nobody uses: those of every collection that no
   * query of any tab follows now (subscriptions, paginated queries, open maps), except documents
   * with writes the server has not acknowledged. The sync cursors of queries reading them go
   * too, so such a query syncs whole again from the server when next used; until then (offline)
   * it finds only what memory still holds. Never deletes anything without a server: a
   * local-only client's documents exist nowhere else. See docs/offline.md.
   *
   * @example
   * const { data } = await client.storage.prune(); // { documents: 1204, collections: ["logs"] }
   */
  prune(): Promise<DatabaseResult<PruneResult>>;
}

/** A Trellis client: a local, reactive, typed copy of an app's data. */
export interface TrellisClient<S extends Schema> {
  readonly database: S extends Schema<infer E extends EntitiesDef, RoomsDef> ? Database<E> : never;
  /**
   * The schema's room types: `client.rooms.<roomType>(roomId?)` joins a room (no id: the
   * app-wide room) and gives a handle to emit, set statuses and listen. See docs/rooms.md.
   */
  readonly rooms: S extends Schema<EntitiesDef, infer R extends RoomsDef> ? Rooms<R> : never;
  /**
   * The replicated key-value map `name` (1-64 characters of [A-Za-z0-9_]) for schemaless data:
   * `get`, `set`, `remove`, `entries`, `subscribe`. One handle per name; `V` types the values
   * (unchecked: any JSON value may arrive from other clients). See docs/maps.md.
   *
   * @example
   * const prefs = client.map<{ theme: string }>("prefs");
   * await prefs.set("alice", { theme: "dark" });
   * prefs.get("alice")?.theme; // "dark"
   */
  map<V = unknown>(name: string): KeyValueMap<V>;
  /** Where the client keeps its data, and when stored data is loaded. */
  readonly storage: ClientStorageInfo;
  readonly appId: string;
  readonly clientId: string;
  readonly userId: string | undefined;
  readonly schema: S;
  /** Sync state: `state`, `pending`, `lastError`, `subscribe`. Always `offline` for a local-only client. */
  readonly connection: ClientConnection;
  /**
   * Listens for writes the server refused (a permission rule, a bad value): called once per
   * refused change with `{ error, collection, id, operation, fields }`, once the change is rolled
   * back locally (fields back to the server's values, a refused create gone, a refused delete
   * back), so what the listener reads is current. Every tab of the app hears them. Returns an
   * unsubscribe.
   *
   * @example
   * const off = client.onWriteError(({ error, collection, id }) => showToast(`${collection}/${id}: ${error.message}`));
   */
  onWriteError(listener: (change: WriteError) => void): () => void;
  /** Connects to the server again after {@link disconnect}. Throws for a local-only client. */
  connect(): void;
  /** Goes offline on purpose: reads and writes go on locally, and nothing reconnects until {@link connect}. */
  disconnect(): void;
  /**
   * Stops every subscription, closes the connection, clears its timers and releases resources;
   * the client cannot be used afterwards.
   */
  close(): Promise<void>;
}
