import type { Triple } from "@trellis/core";
import type { RoomSending } from "./rooms/rooms.js";
import type { ClientConnection } from "./sync/client-connection.js";
import type { QuerySync } from "./sync/query-sync.js";

/** A client's sync as the rest of the client uses it: the engine itself, or the tabs' shared sync. */
export interface ClientSync extends QuerySync, RoomSending {
  readonly connection: ClientConnection;
  connect(): void;
  disconnect(): void;
  close(): Promise<void>;
  record(triples: readonly Triple[]): void;
}
