import {
  type Clock,
  type DatabaseResult,
  type LiveQueryRegistry,
  ok,
  type Schema,
  type TripleStore,
} from "@trellis/core";
import type { ClientOptions } from "./client-types.js";
import type { MapsContext } from "./maps/key-value-map.js";
import { type QuotaWatcher, watchQuota } from "./persistence/quota-watcher.js";
import { gateQuerySync } from "./persistence/ready-gate.js";
import { resolveStorage } from "./persistence/resolve-storage.js";
import { StorageSession } from "./persistence/storage-session.js";
import { schemaFingerprint } from "./persistence/storage.js";
import { WarmViews } from "./persistence/warm-views.js";
import type { MemoryNeed } from "./persistence/working-set.js";
import { LOCAL_SYNC, type QuerySync } from "./sync/query-sync.js";

/** Views kept after their last subscriber left, with a cacheSize (see WarmViews). */
const WARM_VIEWS = 8;

/** What {@link assemblePersistence} builds. */
export interface AssembledPersistence {
  /** The client's session with its storage; undefined with storage `"memory"` (nothing is kept). */
  readonly session: StorageSession | undefined;
  /** `client.storage.kind`. */
  readonly kind: string;
  /** `client.storage.ready`: at once without storage. */
  readonly ready: Promise<DatabaseResult<void>>;
  /** `client.storage.onQuota` and `client.storage.estimate`. */
  readonly quota: QuotaWatcher;
  /** With storage and a `cacheSize`: views kept after their last subscriber left, so a screen the user returns to answers from memory. */
  readonly warm: WarmViews | undefined;
  /** What maps need to write, and keep their collections, the way the client does. */
  readonly maps: Pick<MapsContext, "commit" | "keepWhole">;
  /** Holds queries back until their data is in memory (see `gateQuerySync`); `sync` as it is without storage. */
  gate(sync: QuerySync | undefined): QuerySync | undefined;
  /**
   * Runs a write once storage opened and what it reads (`needs`) is in memory, and resolves once
   * it is stored (see {@link StorageSession.write}); without storage, runs it at once.
   */
  write<T>(
    needs: () => Iterable<MemoryNeed>,
    body: () => DatabaseResult<T>,
  ): DatabaseResult<T> | Promise<DatabaseResult<T>>;
  /** Opens storage; `restored` hands the cursors it restored to sync and settles once sync took them. */
  open(restored: (cursors: ReadonlyMap<string, string>) => Promise<void>): void;
}

/**
 * Wires a client's persistence: the storage `options.storage` names, watched for its quota, and
 * the session that opens it, restores the clock, outbox and cursors, and keeps memory and storage
 * in step (see {@link StorageSession}). Bad options throw here, at once.
 *
 * @example
 * const persistence = assemblePersistence(options, { store, clock, registry, appId, clientId });
 * persistence.open(async (cursors) => engine.restored(cursors)); // sync resumes its queries from them
 * const stored = await persistence.ready; // ok once stored data is loaded
 */
export function assemblePersistence<S extends Schema>(
  options: ClientOptions<S>,
  parts: {
    store: TripleStore;
    clock: Clock;
    registry: LiveQueryRegistry;
    appId: string;
    clientId: string;
  },
): AssembledPersistence {
  const { store, clock, registry, appId, clientId } = parts;
  const { storage, quota } = watchQuota(resolveStorage(options.storage, appId));
  const warm = storage && options.cacheSize !== undefined ? new WarmViews(registry, WARM_VIEWS) : undefined;
  const identity = { clientId, schema: schemaFingerprint(options.schema) };
  const session =
    storage && new StorageSession(storage, store, clock, { registry, cacheSize: options.cacheSize, identity, warm });
  return {
    session,
    kind: storage?.kind ?? "memory",
    ready: session?.ready ?? Promise.resolve(ok(undefined)),
    quota,
    warm,
    maps: session
      ? {
          commit: (collection, write) => session.write([{ collection }], write),
          keepWhole: (isKept) => session.workingSet.pins.keepWhole(isKept),
        }
      : {},
    gate: (sync) => (session ? gateQuerySync(sync ?? LOCAL_SYNC, session) : sync),
    write: (needs, body) => (session ? session.write(needs(), body) : body()),
    open(restored) {
      void session?.open((state) => restored(state.cursors));
    },
  };
}
