export {
  type ClientAuth,
  createClient,
  type ClientOptions,
  type ClientStorageInfo,
  type TrellisClient,
} from "./create-client.js";
export { collectionOfPreloaded, findClient } from "./client-registry.js";
export { createMemoryStorage } from "./persistence/memory-storage.js";
export { createIndexedDbStorage } from "./persistence/lazy-storage.js";
export type { IndexedDbStorageOptions } from "./persistence/indexeddb-storage.js";
export type { ClientStorage, StorageCommit, StoredDocument, StoredState } from "./persistence/storage.js";
export type { StorageOption } from "./persistence/resolve-storage.js";
export type { QuotaEstimate } from "./persistence/quota-watcher.js";
export type { PruneResult } from "./persistence/prune.js";
export type { ClientConnection, ConnectionState, ConnectionStatus, SyncProgress } from "./sync/client-connection.js";
export type { WriteError } from "./sync/refused-writes.js";
export type {
  RoomEventListener,
  RoomEventMeta,
  RoomEvents,
  RoomHandle,
  Rooms,
  RoomStatus,
  UserStatus,
} from "./rooms/room-types.js";
export { type RoomSnapshot, RoomStore } from "./rooms/room-store.js";
export type { KeyValueMap, MapEntry } from "./maps/map-types.js";
export type { ReconnectOptions } from "./sync/reconnect-backoff.js";
export type { KeepAliveOptions } from "./sync/transport.js";
export type { WebSocketConstructor, WebSocketLike } from "./sync/web-socket.js";
export type { CollectionApi, Database, SubscribeCallback, Subscription, SubscriptionState } from "./types.js";
export type {
  PaginatedController,
  PaginatedQueryDef,
  PaginatedState,
  StrictPaginatedQuery,
} from "./paginated-types.js";
export { isPreloadData, PRELOAD_FORMAT, type PreloadData, type PreloadKind, type PreloadPage } from "./preload.js";
export { queryKey } from "./query-key.js";
export { DatabaseError, type DatabaseErrorCode, type DatabaseResult } from "@trellis/core";
// The schema and query types bindings (React, Svelte) need, so they import only this package.
export type {
  AggregateQueryDef,
  AggregateRow,
  BatchApi,
  BatchCollection,
  BatchOperation,
  EntitiesDef,
  EntityDef,
  FieldsOrUpdater,
  OneShotCollectionApi,
  PaginatedAggregateQueryDef,
  QueryDef,
  QueryResultDoc,
  Schema,
  StrictAggregateQuery,
  StrictPaginatedAggregateQuery,
  StrictQuery,
} from "@trellis/core";
