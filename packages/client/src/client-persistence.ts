import { signal } from "@preact/signals-core";
import {
  type Clock,
  type DatabaseError,
  type DatabaseResult,
  type LiveQueryRegistry,
  ok,
  type Schema,
  type Triple,
  type TripleStore,
} from "@trellis/core";
import { Arriving, followOnArrival } from "./arriving.js";
import type { ClientOptions } from "./client-types.js";
import type { MapsContext } from "./maps/key-value-map.js";
import { storageLoadFailure } from "./persistence/lazy-storage.js";
import { type QuotaWatcher, watchQuota } from "./persistence/quota-watcher.js";
import { resolveStorage } from "./persistence/resolve-storage.js";
import type { StorageSession } from "./persistence/storage-session.js";
import type { StoredState } from "./persistence/storage.js";
import { WarmViews } from "./persistence/warm-views.js";
import type { LoadedPersistence, wirePersistence } from "./persistence/wire-persistence.js";
import type { MemoryNeed } from "./persistence/working-set.js";
import { LOCAL_SYNC, type QuerySync } from "./sync/query-sync.js";
import { type RemoteApplier, storeApplier } from "./sync/remote-apply.js";

/** Views kept after their last subscriber left, with a cacheSize (see WarmViews). */
const WARM_VIEWS = 8;

/** What {@link assemblePersistence} builds. */
export interface AssembledPersistence {
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
  /** What sync stores and restores through; undefined with storage `"memory"` (nothing is kept). */
  readonly sync: SyncPersistence | undefined;
  /** Holds queries back until their data is in memory (see `gateQuerySync`); `sync` as it is without storage. */
  gate(sync: QuerySync | undefined): QuerySync | undefined;
  /**
   * Runs a write once storage opened and what it reads (`needs`) is in memory, and resolves once
   * it is stored (see `StorageSession.write`); without storage, runs it at once.
   */
  write<T>(
    needs: () => Iterable<MemoryNeed>,
    body: () => DatabaseResult<T>,
  ): DatabaseResult<T> | Promise<DatabaseResult<T>>;
  /** Opens storage; `restored` hands the cursors it restored to sync and settles once sync took them. */
  open(restored: (cursors: ReadonlyMap<string, string>) => Promise<void>): void;
}

/** What a client's sync needs of its persistence (see `assembleSync`). */
export interface SyncPersistence {
  /** The storage's kind: tabs share sync over `"indexeddb"`. */
  readonly kind: string;
  /** The session sync stores and restores through, or it on the way; undefined if its code could not be loaded. */
  readonly session: StorageSession | undefined | Promise<StorageSession | undefined>;
  /** `client.storage.ready`. */
  readonly ready: Promise<DatabaseResult<void>>;
  /** Applies preloaded data to memory before sync's code arrived (see `DeferredSync`). */
  readonly apply: RemoteApplier;
  /** A local write call, to be stored. */
  documentsChanged(triples: readonly Triple[]): void;
  /** Stores what is pending and closes storage (sync's code does, once it has the session). */
  close(): Promise<void>;
}

/**
 * Wires a client's persistence: the storage `options.storage` names, watched for its quota, and
 * the session that opens it, restores the clock, outbox and cursors, and keeps memory and storage
 * in step (see `wirePersistence`). The session's code loads on its own, in parallel with the
 * storage's (opened at once) and sync's; until it arrives what the client asks of it waits, in
 * order: writes and queries wait for `ready` anyway. Code that cannot be loaded leaves the client
 * in memory with a STORAGE error on `ready` and on writes, as a storage that cannot open does.
 * Bad options throw here, at once.
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
  if (storage === undefined) {
    return {
      kind: "memory",
      ready: Promise.resolve(ok(undefined)),
      quota,
      warm: undefined,
      maps: {},
      sync: undefined,
      gate: (sync) => sync,
      write: (_needs, body) => body(),
      open() {},
    };
  }
  const { cacheSize } = options;
  if (cacheSize !== undefined && !(Number.isInteger(cacheSize) && cacheSize >= 0)) {
    throw new TypeError(`createClient: cacheSize must be a whole number of documents, got ${String(cacheSize)}.`);
  }
  const warm = cacheSize === undefined ? undefined : new WarmViews(registry, WARM_VIEWS);
  const identity = { clientId, schema: schemaFingerprint(options.schema) };
  let opening: Promise<DatabaseResult<StoredState>> | undefined;
  const wire = (wireCode: typeof wirePersistence) =>
    wireCode(storage, { registry, cacheSize, identity, warm }, { store, clock });
  const code = new Arriving<LoadedPersistence>(
    wirePersistenceCode === undefined
      ? loadPersistenceCode().then(wire, (error: unknown) =>
          inMemory(storageLoadFailure(storage.kind, error).error, storeApplier(store, clock), async () => {
            await opening;
            await storage.close();
          }),
        )
      : wire(wirePersistenceCode),
  );
  const arrived = async () => (await code.arrival)!;
  const write = <T>(needs: Iterable<MemoryNeed>, body: () => DatabaseResult<T>): Promise<DatabaseResult<T>> =>
    code.value?.write(needs, body) ??
    new Promise((resolve) => code.later((loaded) => resolve(loaded.write(needs, body))));
  const ready = code.value?.ready ?? arrived().then((loaded) => loaded.ready);
  return {
    kind: storage.kind,
    ready,
    quota,
    warm,
    maps: {
      commit: (collection, body) => write([{ collection }], body),
      keepWhole(isKept) {
        let release: (() => void) | undefined;
        let isReleased = false;
        code.later((loaded) => {
          if (!isReleased) release = loaded.keepWhole(isKept);
        });
        return () => {
          isReleased = true;
          release?.();
        };
      },
    },
    sync: {
      kind: storage.kind,
      session: code.value ? code.value.session : arrived().then((loaded) => loaded.session),
      ready,
      apply: (triples, isComplete) => {
        if (code.value) return code.value.apply(triples, isComplete);
        code.later((loaded) => loaded.apply(triples, isComplete));
        return undefined;
      },
      documentsChanged: (triples) => code.later((loaded) => loaded.documentsChanged(triples)),
      close: async () => (await arrived()).close(),
    },
    gate: (sync) => gateOnArrival(code, sync ?? LOCAL_SYNC),
    write: (needs, body) => write(needs(), body),
    open(restored) {
      const started = (opening = storage.open(identity));
      code.later((loaded) => void loaded.open((state) => restored(state.cursors), started));
    },
  };
}

/** The schema as stored in metadata (see `StorageIdentity`): its collections' field specs, as JSON. */
function schemaFingerprint(schema: Schema): string {
  return JSON.stringify(schema.collections);
}

/** A query's state while the gate's code is on its way: loading, as the gate holds it until storage is ready. */
const HELD = { isLoading: signal(true), hasSynced: signal(false) };

/** The gate over `inner` (see `gateQuerySync`), made once persistence's code arrived; queries wait for it until then. */
function gateOnArrival(code: Arriving<LoadedPersistence>, inner: QuerySync): QuerySync {
  if (code.value) return code.value.gate(inner);
  let gated: QuerySync | undefined;
  code.later((loaded) => {
    gated = loaded.gate(inner);
  });
  const arrived = async () => {
    await code.arrival;
    return gated!;
  };
  return {
    hasServer: inner.hasServer,
    follow: (query, cursor) =>
      gated?.follow(query, cursor) ?? followOnArrival(code, () => gated!.follow(query, cursor), HELD),
    settle: async (query) => (await arrived()).settle(query),
    load: async (query) => (await arrived()).load(query),
    applyRemote: (triples) => inner.applyRemote(triples),
  };
}

/**
 * Memory standing in for persistence whose code could not be loaded: as a storage that cannot
 * open, `ready` and writes report `error` (writes apply to memory first) and queries run on what
 * memory holds.
 */
function inMemory(error: DatabaseError, apply: RemoteApplier, close: () => Promise<void>): LoadedPersistence {
  console.warn(`Trellis storage: ${error.message} Data stays in memory only.`);
  const failure = { data: undefined, error };
  return {
    session: undefined,
    ready: Promise.resolve(failure),
    write: async (_needs, body) => {
      const result = body();
      return result.error ? result : failure;
    },
    gate: (sync) => sync,
    keepWhole: () => () => {},
    apply,
    documentsChanged() {},
    open: async () => {},
    close,
  };
}

/** Persistence's code once loaded: later clients (another in the same page, tests, servers rendering) wire at once. */
let wirePersistenceCode: typeof wirePersistence | undefined;

/**
 * Loads persistence's code (the storage session, working set, storage writer and query gate)
 * unless it was already; `createClient` does when the client has storage, so calling this is
 * only needed for a first client to wire its persistence at once.
 *
 * @example
 * await loadPersistenceCode(); // then createClient({ storage }) holds its session before it returns
 */
export async function loadPersistenceCode(): Promise<typeof wirePersistence> {
  return (wirePersistenceCode ??= (await import("./persistence/wire-persistence.js")).wirePersistence);
}
