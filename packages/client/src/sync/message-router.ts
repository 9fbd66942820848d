import { batch } from "@preact/signals-core";
import { type ClientMessage, DatabaseError } from "@trellis/core";
import type { PendingWrites } from "./pending-writes.js";
import type { RemoteChanges } from "./remote-changes.js";
import type { ServerSubscriptions } from "./server-subscriptions.js";
import type { RoomServerMessage, SyncMessage } from "./transport.js";

/** Where {@link routeSyncMessage} sends each part of what the server says. */
export interface SyncMessageTargets {
  readonly remote: RemoteChanges;
  readonly subscriptions: ServerSubscriptions;
  readonly writes: PendingWrites;
  room(message: RoomServerMessage): void;
  /** An error the server sent about one room. */
  roomError(error: DatabaseError, roomType: string, roomId: string): void;
  report(error: DatabaseError): void;
}

/**
 * Hands one message of a welcomed connection to the part of sync it concerns: documents to
 * {@link RemoteChanges}, cursors and answers to {@link ServerSubscriptions}, acknowledgements
 * and refusals to {@link PendingWrites}, room messages to rooms. An error naming nothing of
 * those is reported.
 *
 * @example
 * import { signal } from "@preact/signals-core";
 * import { PendingWrites } from "./pending-writes.js";
 * import { RemoteChanges } from "./remote-changes.js";
 * import { ServerSubscriptions } from "./server-subscriptions.js";
 * const send = (message: ClientMessage) => (socket.send(JSON.stringify(message)), true);
 * const report = (error: DatabaseError) => errors.report(error);
 * const targets: SyncMessageTargets = {
 *   remote: new RemoteChanges({ store, clock, observe: () => {}, report }),
 *   subscriptions: new ServerSubscriptions({ send, isOffline: signal(false) }),
 *   writes: new PendingWrites({
 *     store,
 *     clock,
 *     http,
 *     newId: () => crypto.randomUUID(),
 *     isConnected: () => socket.readyState === WebSocket.OPEN,
 *     send,
 *     restart: () => socket.close(),
 *     report,
 *   }),
 *   room: (message) => console.log(`room ${message.type}`),
 *   roomError: (error, roomType, roomId) => console.warn(`${roomType}/${roomId}: ${error.message}`),
 *   report,
 * };
 * routeSyncMessage({ type: "changes", triples, cursor: "c42" }, targets); // the triples go to the store
 */
export function routeSyncMessage(message: SyncMessage, to: SyncMessageTargets): void {
  switch (message.type) {
    case "snapshot":
      // One batch: subscribers see the data and the end of loading together, once.
      batch(() => {
        to.remote.apply(message.triples);
        to.remote.forget(message.revoked);
        to.subscriptions.snapshot(message.queryId, message.cursor);
      });
      return;
    case "snapshotPart":
      // Whole documents, applied at once; the query stays loading until its `snapshot`.
      batch(() => {
        to.remote.apply(message.triples);
        to.subscriptions.snapshotPart(message.queryId, message.documents, message.total);
      });
      return;
    case "changes":
      batch(() => {
        to.remote.apply(message.triples);
        to.remote.forget(message.revoked);
        to.subscriptions.changes(message.cursor);
      });
      return;
    case "ack":
      to.writes.acknowledge(message.batchId);
      return;
    case "roomState":
    case "roomEvent":
    case "userStatus":
    case "roomStatus":
      to.room(message);
      return;
    case "error": {
      const error = new DatabaseError(
        message.code,
        message.message,
        message.details === undefined ? undefined : { ...message.details },
      );
      const { batchId, queryId } = message.details ?? {};
      if (typeof batchId === "string") return to.writes.refuse(batchId, error);
      if (typeof queryId === "string") to.subscriptions.refuse(queryId);
      const { roomType, roomId } = message.details ?? {};
      if (typeof roomType === "string" && typeof roomId === "string") to.roomError(error, roomType, roomId);
      to.report(error);
    }
  }
}

/** The gist of a sync message for the debug log: its ids and sizes, not its data. */
export function describeMessage(message: ClientMessage | SyncMessage): Record<string, unknown> {
  const gist: Record<string, unknown> = {};
  for (const key of ["queryId", "batchId", "cursor", "code", "message", "roomType", "roomId"] as const) {
    const value = (message as unknown as Partial<Record<string, unknown>>)[key];
    if (value !== undefined) gist[key] = value;
  }
  if ("query" in message) gist.collection = (message.query as { collection?: unknown }).collection;
  if ("triples" in message && Array.isArray(message.triples)) gist.triples = message.triples.length;
  return gist;
}
