export { TrellisProvider, type TrellisProviderProps, useClient, useOptionalClient } from "./trellis-provider.js";
export { useQuery } from "./use-query.js";
export { useQueryOne } from "./use-query-one.js";
export { type PaginatedResult, usePaginated } from "./use-paginated.js";
export { type RoomResult, useRoom, type UseRoomOptions } from "./use-room.js";
export type { RoomSnapshot } from "@trellis/client";
export { useConnection } from "./use-connection.js";
