export { createClient, type ClientOptions, type TrellisClient } from "./create-client.js";
export type {
  BatchApi,
  BatchCollection,
  BatchOperation,
  CollectionApi,
  Database,
  FieldsOrUpdater,
  SubscribeCallback,
  Subscription,
  SubscriptionState,
} from "./types.js";
export type { PaginatedController, PaginatedQueryDef, PaginatedState, StrictPaginatedQuery } from "./paginated-types.js";
export { isPreloadData, PRELOAD_FORMAT, type PreloadData, type PreloadKind, type PreloadPage } from "./preload.js";
export { DatabaseError, type DatabaseErrorCode, type DatabaseResult } from "@trellis/core";
