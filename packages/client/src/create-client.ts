import {
  createBatchCollection,
  createClock,
  executeBatch,
  ID_RULE,
  isId,
  LiveQueryRegistry,
  type Schema,
  TripleStore,
  LocalWriter,
} from "@trellis/core";
import { batchNeeds } from "./batch-needs.js";
import { assemblePersistence } from "./client-persistence.js";
import { Collection } from "./collection.js";
import { assembleSync } from "./client-sync.js";
import { registerClient } from "./client-registry.js";
import { generateId } from "./generate-id.js";
import { MapsService } from "./maps/key-value-map.js";
import type { KeyValueMap } from "./maps/map-types.js";
import { QueryService } from "./query-service.js";
import { RoomsService } from "./rooms/rooms.js";
import { LOCAL_CONNECTION } from "./sync/client-connection.js";
import type { WriteError } from "./sync/refused-writes.js";
import type { ClientOptions, TrellisClient } from "./client-types.js";

export type { ClientAuth, ClientOptions, ClientStorageInfo, TrellisClient } from "./client-types.js";

/**
 * Creates a client. Reads and writes are local and instant; with a `serverUrl` the client
 * connects at once and syncs in the background (see docs/sync.md).
 *
 * @example
 * const client = createClient({ schema, serverUrl: "http://127.0.0.1:8787", userId: "alice" });
 * await client.database.users.create({ name: "Ada", isAdult: true });
 * client.database.users.subscribe({ where: { name: { startsWith: "A" } } }, (users) => render(users));
 */
export function createClient<S extends Schema>(options: ClientOptions<S>): TrellisClient<S> {
  const { schema } = options;
  if (typeof schema !== "object" || schema === null || typeof schema.collections !== "object") {
    throw new TypeError("createClient: pass { schema } made by createSchema().");
  }
  const appId = options.appId ?? "default";
  if (!isId(appId)) throw new TypeError(`createClient: appId ${JSON.stringify(appId)} must be ${ID_RULE}.`);
  if (options.userId !== undefined && (typeof options.userId !== "string" || options.userId.length === 0)) {
    throw new TypeError("createClient: userId must be a non-empty string.");
  }
  const clientId = options.clientId ?? generateId();
  const clock = createClock({ node: clientId, ...(options.now ? { wallClock: options.now } : {}) });
  const store = new TripleStore();
  const registry = new LiveQueryRegistry(store);
  const persistence = assemblePersistence(options, { store, clock, registry, appId, clientId });
  const assembled = assembleSync(options, { store, clock, appId, clientId, persistence: persistence.sync });
  const { sync } = assembled;
  const writer = new LocalWriter(
    schema,
    store,
    clock,
    options.userId,
    options.generateId ?? generateId,
    assembled.onWrite,
  );
  const queries = new QueryService(schema, store, registry, appId, persistence.gate(sync), persistence.warm);
  const maps = new MapsService({ store, registry, writer, sync: queries.sync, ...persistence.maps });
  let isClosed = false;
  const assertOpen = (name: string) => {
    if (isClosed) throw new Error(`Trellis client: ${name} called after close(); create a new client.`);
  };
  const guard =
    <A extends unknown[], R>(name: string, body: (...args: A) => R) =>
    (...args: A): R => {
      assertOpen(name);
      return body(...args);
    };

  const context = { writer, queries, registry, persistence, assertOpen };
  const database: Record<string, unknown> = {};
  const batch: Record<string, unknown> = {
    execute: guard("batch.execute", async (operations: unknown) =>
      persistence.write(
        () => batchNeeds(operations),
        () => writer.transaction(() => executeBatch(schema, writer, operations)),
      ),
    ),
  };
  for (const collection of Object.keys(schema.collections)) {
    database[collection] = new Collection(collection, context);
    batch[collection] = createBatchCollection(collection);
  }
  database.batch = batch;
  const roomsService = new RoomsService(
    schema.roomSpecs ?? {},
    sync,
    options.userId,
    clientId,
    sync?.connection ?? LOCAL_CONNECTION,
  );
  const rooms: Record<string, unknown> = {};
  for (const roomType of Object.keys(schema.roomSpecs ?? {})) {
    rooms[roomType] = guard(`rooms.${roomType}`, (roomId?: unknown) => roomsService.open(roomType, roomId));
  }
  assembled.start();
  persistence.open((cursors) => assembled.restored(cursors));

  const client: TrellisClient<S> = {
    database: database as never,
    rooms: rooms as never,
    map: guard("map", (name: string) => maps.open(name) as KeyValueMap<never>),
    appId,
    clientId,
    userId: options.userId,
    schema,
    storage: {
      kind: persistence.kind,
      ready: persistence.ready,
      onQuota: persistence.quota.onQuota,
      estimate: persistence.quota.estimate,
      prune: guard("storage.prune", () => assembled.prune()),
    },
    connection: sync?.connection ?? LOCAL_CONNECTION,
    connect: guard("connect", () => {
      if (sync === undefined)
        throw new Error("Trellis client: connect() needs a server; pass createClient({ serverUrl }).");
      sync.connect();
    }),
    disconnect: guard("disconnect", () => sync?.disconnect()),
    onWriteError: guard("onWriteError", (listener: (change: WriteError) => void) => assembled.onWriteError(listener)),
    async close() {
      if (!isClosed) unregister();
      isClosed = true;
      roomsService.close();
      maps.close();
      await assembled.close();
      registry.dispose();
    },
  };
  const unregister = registerClient(client as TrellisClient<Schema>);
  return client;
}
