export { DatabaseError, type DatabaseErrorCode, type DatabaseResult, fail, ok } from "./errors.js";
export { ID_PATTERN, ID_RULE, isId } from "./ids.js";
export type { AnyFieldDef, FieldDef, FieldSpec, FieldType } from "./schema/field.js";
export { t, type FieldOptions, type FieldValue, type JsonField, type JsonValue, type ObjectValue } from "./schema/t.js";
export type {
  AutoFieldName,
  AutoFields,
  CollectionSpec,
  CreateInput,
  Doc,
  EntitiesDef,
  EntitiesOf,
  EntityDef,
  ReadValue,
  ReplaceInput,
  RoomDef,
  RoomSpec,
  RoomsDef,
  Schema,
  UpdateInput,
} from "./schema/types.js";
export { createSchema, RESERVED_NAME_PREFIX } from "./schema/create-schema.js";
export { readStored, toUserValue } from "./schema/read.js";
export { isJson, type StoredFields, validateRoomValue, type WriteMode, validateWrite } from "./schema/validate.js";
export {
  type Clock,
  type ClockOptions,
  compareHlc,
  createClock,
  decodeHlc,
  DEFAULT_MAX_DRIFT_MS,
  encodeHlc,
  type Hlc,
  hlcMillis,
  TICKS_PER_MS,
} from "./hlc.js";
export { CREATED_AT_FIELD, CREATED_BY_FIELD, DELETED_FIELD, type DocumentRef, type Triple } from "./triples.js";
export { compareStoredValues, incomingWins, mergeDocumentTriples } from "./merge.js";
export { type Commit, type CommitListener, TripleStore } from "./store/triple-store.js";
export { RowChange, type Table } from "./store/table.js";
export type { RangeBounds } from "./store/indexes.js";
export type { Source, SourceTable } from "./query/source.js";
export {
  type AnyCondition,
  AUTO_FIELD_SPECS,
  collectionsOf,
  type Condition,
  type Direction,
  type FieldCondition,
  isFieldCondition,
  linkedCollectionsOf,
  type NormalizedQuery,
  type NotCondition,
  type Operator,
  OPERATORS,
  type RelatedCondition,
  type RelatedFilter,
  relatedFilters,
  whereFields,
} from "./query/normalized-query.js";
export { normalizeQuery } from "./query/normalize.js";
export { pageMatches, runQuery, sortedMatches } from "./query/run-query.js";
export { compileWhere, linkedIds, linkedRowsOf, type RowTest, valueTest, type ValueTest } from "./query/predicate.js";
export { compileMaterializer, type MaterializePass, type Materializer } from "./query/materialize.js";
export { DEFAULT_MAX_QUERY_COST, QueryCostError, type QueryCostOptions } from "./query/query-cost.js";
export { reachedDocuments, resultDocuments } from "./query/result-documents.js";
export { sameResult } from "./query/same-result.js";
export { compareValues } from "./query/compare.js";
export { LiveQuery, type ResultDoc } from "./query/live-query.js";
export { LiveQueryRegistry } from "./query/live-registry.js";
export { type LiveView, type Route, routeOf, type Watch } from "./query/live-view.js";
export { type AffectedRoots, RelationTracker } from "./query/live-relations.js";
export type { Cursor } from "./query/normalized-query.js";
export type { ResultWindow } from "./query/cursor.js";
export { codecQuery, decodeDocs, type EncodedDoc, encodeDocs } from "./query/preload-codec.js";
export {
  type AggregateFunction,
  type AggregateResultRow,
  isAggregateQuery,
  isNormalizedAggregate,
  type NormalizedAggregate,
  type NormalizedAggregateQuery,
} from "./query/aggregate-query.js";
export { normalizeAggregateQuery, runAggregate } from "./query/aggregate.js";
export { acquireLiveAggregate, LiveAggregate } from "./query/live-aggregate.js";
export {
  type AggregateAnchor,
  type AggregateCursor,
  type AggregatePage,
  AggregatePages,
} from "./query/aggregate-pages.js";
export type {
  AggregateDef,
  AggregateOrderBy,
  AggregateQueryDef,
  AggregateRow,
  AggregateValue,
  AggregationsDef,
  ExtremeName,
  GroupableName,
  PaginatedAggregateQueryDef,
  StrictAggregateQuery,
  StrictPaginatedAggregateQuery,
  SummableName,
} from "./query/aggregate-types.js";
export type {
  FieldFilter,
  FieldsSelection,
  OrderBy,
  QueryDef,
  QueryResultDoc,
  StrictQuery,
  PaginatedQueryDef,
  StrictPaginatedQuery,
  WhereClause,
  WhereOperators,
} from "./query/query-types.js";
export type { FieldsOrUpdater, OneShotCollectionApi, PreloadApi } from "./query/one-shot-api.js";
export {
  type AckMessage,
  type ChangesMessage,
  type ClientMessage,
  DEFAULT_MAX_FRAME_BYTES,
  type EmitMessage,
  type ErrorMessage,
  type HelloMessage,
  helloMessage,
  MAX_HELD_IDS,
  type JoinMessage,
  type LeaveMessage,
  type PingMessage,
  type PongMessage,
  PROTOCOL_VERSION,
  type PushMessage,
  type RoomAddress,
  type RoomEventMessage,
  type RoomStateMessage,
  type RoomStatusMessage,
  type ServerMessage,
  type SetRoomStatusMessage,
  type SetUserStatusMessage,
  type SnapshotMessage,
  type SnapshotPartMessage,
  type StatusValues,
  type SubscribeMessage,
  type TokenAcceptedMessage,
  type TokenMessage,
  type UnsubscribeMessage,
  type UserStatusMessage,
  type WelcomeMessage,
} from "./protocol/messages.js";
export {
  containersOf,
  jsonShape,
  type JsonShape,
  jsonShapeProblem,
  MAX_CONTAINERS,
  MAX_FRAME_DEPTH,
  MAX_VALUE_CONTAINERS,
} from "./protocol/json-shape.js";
export {
  exceedsValueDepth,
  MAX_VALUE_DEPTH,
  type ParseLimits,
  parseClientMessage,
  parseClientValue,
  parseServerMessage,
  parseServerValue,
  parseTriple,
} from "./protocol/parse.js";
export { type CreateManyOptions, type FieldsInput, LocalWriter, type WriteListener } from "./write/local-writer.js";
export {
  type BatchApi,
  type BatchCollection,
  type BatchOperation,
  createBatchCollection,
  executeBatch,
  executeBatchOperation,
  idsGiven,
} from "./write/batch.js";
export {
  createPreloadData,
  firstPageQuery,
  isPreloadData,
  PRELOAD_FORMAT,
  type PreloadData,
  type PreloadKind,
  type PreloadPage,
} from "./query/preload-data.js";
