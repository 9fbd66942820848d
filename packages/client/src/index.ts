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
export { DatabaseError, type DatabaseErrorCode, type DatabaseResult } from "@trellis/core";
