export { query } from "./query.js";
export { queryOne } from "./query-one.js";
export type { ReactiveQuery } from "./reactive-query.js";
export { paginated, type ReactivePaginated } from "./paginated.js";
export { useRoom, type ReactiveRoom, type UseRoomOptions } from "./use-room.svelte.js";
export type { RoomSnapshot } from "@trellis/client";
export { connection, type ReactiveConnection } from "./connection.js";
export { getTrellisClient, setTrellisClient } from "./trellis-context.js";
export type { MaybeGetter } from "./resolve-input.js";
