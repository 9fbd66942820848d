import {
  createBatchCollection,
  createClock,
  executeBatch,
  ID_RULE,
  isId,
  LiveQueryRegistry,
  ok,
  type Schema,
  TripleStore,
  LocalWriter,
} from "@trellis/core";
import { batchNeeds } from "./batch-needs.js";
import { Collection } from "./collection.js";
import { assembleSync } from "./client-sync.js";
import { registerClient } from "./client-registry.js";
import { generateId } from "./generate-id.js";
import { MapsService } from "./maps/key-value-map.js";
import type { KeyValueMap } from "./maps/map-types.js";
import { ClientPersistence } from "./persistence/client-persistence.js";
import { schemaFingerprint } from "./persistence/storage.js";
import { WarmViews } from "./persistence/warm-views.js";
import { watchQuota } from "./persistence/quota-watcher.js";
import { gateQuerySync } from "./persistence/ready-gate.js";
import { resolveStorage } from "./persistence/resolve-storage.js";
import { QueryService } from "./query-service.js";
import { RoomsService } from "./rooms/rooms.js";
import { LOCAL_CONNECTION } from "./sync/client-connection.js";
import type { WriteError } from "./sync/refused-writes.js";
import { LOCAL_SYNC } from "./sync/query-sync.js";
import type { ClientOptions, TrellisClient } from "./client-types.js";

export type { ClientAuth, ClientOptions, ClientStorageInfo, TrellisClient } from "./client-types.js";

/** Views kept after their last subscriber left, with a cacheSize (see WarmViews). */
const WARM_VIEWS = 8;

/**
 * Creates a client. Reads and writes are local and instant; with a `serverUrl` the client
 * connects at once and syncs in the background (see docs/sync.md).
 *
 * @example
 * const client = createClient({ schema, serverUrl: "http://127.0.0.1:8787", userId: "alice" });
 * await client.database.users.create({ name: "Ada" });
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
  const { storage, quota } = watchQuota(resolveStorage(options.storage, appId));
  // With a bound, a screen the user returns to answers from memory (see WarmViews).
  const warm = storage && options.cacheSize !== undefined ? new WarmViews(registry, WARM_VIEWS) : undefined;
  const identity = { clientId, schema: schemaFingerprint(schema) };
  const persistence =
    storage && new ClientPersistence(storage, store, clock, { registry, cacheSize: options.cacheSize, identity, warm });
  const assembled = assembleSync(options, { store, clock, appId, clientId, persistence });
  const { sync } = assembled;
  const writer = new LocalWriter(
    schema,
    store,
    clock,
    options.userId,
    options.generateId ?? generateId,
    assembled.onWrite,
  );
  const queries = new QueryService(
    schema,
    store,
    registry,
    appId,
    persistence ? gateQuerySync(sync ?? LOCAL_SYNC, persistence) : sync,
    warm,
  );
  const maps = new MapsService({
    store,
    registry,
    writer,
    sync: queries.sync,
    ...(persistence ? { commit: (collection, write) => persistence.write([{ collection }], write) } : {}),
  });
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
    execute: guard("batch.execute", async (operations: unknown) => {
      const body = () => writer.transaction(() => executeBatch(schema, writer, operations));
      return persistence ? persistence.write(batchNeeds(operations), body) : body();
    }),
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
  void persistence?.open((restored) => assembled.restored(restored.cursors));

  const client: TrellisClient<S> = {
    database: database as never,
    rooms: rooms as never,
    map: guard("map", (name: string) => maps.open(name) as KeyValueMap<never>),
    appId,
    clientId,
    userId: options.userId,
    schema,
    storage: {
      kind: storage?.kind ?? "memory",
      ready: persistence?.ready ?? Promise.resolve(ok(undefined)),
      onQuota: quota.onQuota,
      estimate: quota.estimate,
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
